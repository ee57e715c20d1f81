"""Exact sources (QR code, MRZ, barcode), cross-checks between documents, addresses with codes,
and the calibrated accept rule."""

from __future__ import annotations

import random
from datetime import date

import cv2
import numpy as np
import pytest

from bench.trust import Scored, ece
from extraction.addresses import fix_lead_term, normalize_address
from extraction.confidence import (
    EVIDENCE,
    FEATURES,
    FIELD_TYPES,
    TREE_FEATURES,
    Calibrator,
    Tree,
    apply_calibration,
    features_of,
    load_calibrator,
)
from extraction.sources import apply_exact_sources, parse_cccd_qr, parse_mrz, reconcile
from extraction.training import choose_threshold
from models.ocr import MachineCode, PageOCR
from models.records import ExtractedDocument, ExtractedField, FieldSource, FieldStatus
from ocr.codes import _decode, read_codes
from sample_scans.generator import artwork
from sample_scans.generator.cards import mrz_lines, qr_payload
from sample_scans.generator.data import Address, Person

PERSON = Person(name="Nguyễn Thị Hằng", sex="Nữ", dob=date(1990, 7, 21),
                citizen_id="001190012345",
                origin=Address("Xã Hương Hóa, Huyện Tuyên Hóa, Tỉnh Quảng Bình",
                               "Hương Hóa, Tuyên Hóa, Quảng Bình", "Tỉnh Quảng Bình", "44"),
                residence=Address("12 Hàng Bạc, Phường Hàng Bạc, Quận Hoàn Kiếm, Thành phố Hà Nội",
                                  "12 Hàng Bạc, Hàng Bạc, Hoàn Kiếm, Hà Nội", "Thành phố Hà Nội",
                                  "01"),
                ethnicity="Kinh")


def _field(name: str, value: str | None, conf: float = 0.9) -> ExtractedField:
    return ExtractedField(name=name, value=value, confidence=conf,
                          status=FieldStatus.review if value else FieldStatus.missing)


def test_real_qr_code_is_read_and_a_damaged_one_is_not() -> None:
    """GIVEN the generator's QR code of a chip card, clean and damaged, on a white page
    WHEN the page's codes are read
    THEN the clean one gives the card's text exactly, the damaged one nothing."""
    payload = qr_payload(PERSON, date(2022, 1, 5))
    page = np.full((700, 700), 255, np.uint8)
    page[100:250, 100:250] = np.array(artwork.qr_code(payload, 150).convert("L"))
    damaged = np.array(artwork.damage_code(artwork.qr_code(payload, 150),
                                           random.Random(3)).convert("L"))
    page[400:550, 400:550] = damaged
    codes = read_codes(page)
    assert [c.text for c in codes] == [payload]
    assert codes[0].format == "QRCode"


@pytest.mark.parametrize("turn", [None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180,
                                  cv2.ROTATE_90_COUNTERCLOCKWISE])
def test_codes_are_read_on_a_page_turned_any_quarter(turn) -> None:
    """GIVEN a page with a chip card's QR code and a receipt's Code 128 barcode, scanned
    upright, upside down or sideways
    WHEN its codes are read THEN both are read, whichever way the page lies."""
    payload = qr_payload(PERSON, date(2022, 1, 5))
    page = np.full((1200, 1100), 255, np.uint8)
    page[100:250, 100:250] = np.array(artwork.qr_code(payload, 150).convert("L"))
    page[700:800, 100:1000] = np.array(artwork.code128("000.32.12.H21-250825-4639", 900, 100)
                                       .convert("L"))
    if turn is not None:
        page = cv2.rotate(page, turn)
    assert sorted((c.format, c.text) for c in read_codes(page)) == sorted(
        [("QRCode", payload), ("Code128", "000.32.12.H21-250825-4639")])


def test_qr_text_becomes_person_data() -> None:
    data = parse_cccd_qr(qr_payload(PERSON, date(2022, 1, 5)))
    assert data is not None and data.source == FieldSource.qr
    assert data.values["citizen_id"] == "001190012345"
    assert data.values["full_name"] == "Nguyễn Thị Hằng"
    assert data.values["date_of_birth"] == "1990-07-21"
    assert data.values["issue_date"] == "2022-01-05"
    assert parse_cccd_qr("not|a|card") is None


def test_mrz_read_with_ocr_slips_is_repaired_and_checked() -> None:
    """GIVEN a card's TD1 MRZ as OCR reads it: spaces inside, a 0 for an O in the name
    WHEN it is parsed THEN its check digits hold and the fields come out; a date with two
    wrong digits, which no single repair makes hold, fails."""
    lines = mrz_lines(PERSON, date(2030, 7, 21))
    slipped = [lines[0][:10] + " " + lines[0][10:], lines[1], lines[2].replace("O", "0")]
    data = parse_mrz(slipped)
    assert data is not None and data.source == FieldSource.mrz
    assert data.values["mrz"] == "\n".join(lines)
    assert data.values["citizen_id"] == "001190012345"
    assert data.values["date_of_birth"] == "1990-07-21"
    assert data.values["expiry_date"] == "2030-07-21"
    assert data.values["sex"] == "Nữ"
    bad = [lines[0], lines[1][:2] + "12" + lines[1][4:], lines[2]]
    assert parse_mrz(bad) is None


def test_qr_value_replaces_ocr_and_keeps_the_reading() -> None:
    """GIVEN a card front whose OCR lost the name's diacritics, and its QR code read
    WHEN exact sources are applied
    THEN the name comes from the QR, the OCR reading is kept beside it, agreeing fields
    are marked as agreeing."""
    front = ExtractedDocument(doctype="cccd_front", pages=[0], fields=[
        _field("citizen_id", "001190012345"), _field("full_name", "NGUYEN THI HANG"),
        _field("date_of_birth", "1990-07-21"), _field("place_of_residence", None)])
    page = PageOCR(width=100, height=100, codes=[
        MachineCode(format="QRCode", text=qr_payload(PERSON, date(2022, 1, 5)))])
    apply_exact_sources([front], [page])
    name = front.field("full_name")
    assert name.value == "Nguyễn Thị Hằng" and name.source == FieldSource.qr
    assert [r.value for r in name.readings] == ["NGUYEN THI HANG"]
    assert front.field("date_of_birth")._evidence["exact_agree"] == 1.0
    assert front.field("place_of_residence").value == PERSON.residence.text


def test_same_person_on_two_documents_is_reconciled() -> None:
    """GIVEN a receipt and a marriage form naming the same ID, the names agreeing but for
    diacritics, and a third document with another name under another ID
    WHEN reconciled THEN both names take the diacritics; a disagreement goes to review with
    both readings shown."""
    receipt = ExtractedDocument(doctype="receipt_appointment", pages=[0], fields=[
        _field("applicant_id", "001190012345"), _field("applicant_name", "Nguyen Thi Hang")])
    form = ExtractedDocument(doctype="marriage_registration", pages=[1], fields=[
        _field("wife_id", "001190012345"), _field("wife_name", "Nguyễn Thị Hằng")])
    reconcile([receipt, form])
    assert receipt.field("applicant_name").value == "Nguyễn Thị Hằng"
    assert receipt.field("applicant_name").source == FieldSource.reconciled
    assert form.field("wife_name")._evidence["doc_agree"] == 1.0

    other = ExtractedDocument(doctype="receipt_appointment", pages=[2], fields=[
        _field("applicant_id", "001190012345"), _field("applicant_name", "Trần Văn Bình")])
    form2 = ExtractedDocument(doctype="marriage_registration", pages=[3], fields=[
        _field("wife_id", "001190012345"), _field("wife_name", "Nguyễn Thị Hằng", 0.99)])
    reconcile([other, form2])
    f = other.field("applicant_name")
    assert f._evidence["doc_disagree"] == 1.0
    assert [(r.value, r.document) for r in f.readings] == [("Nguyễn Thị Hằng",
                                                             "marriage_registration")]
    apply_calibration([other, form2], load_calibrator(), threshold=0.0)
    assert f.status == FieldStatus.review  # never accepted while readings disagree


def test_address_units_get_official_names_and_codes() -> None:
    value, codes, share = normalize_address(
        "Số 200 đường Ly Thường Kiệt, Phường Minh Khai, Quan Hong Bàng, Thành phố Hải Phòng")
    assert value == ("Số 200 đường Ly Thường Kiệt, Phường Minh Khai, Quận Hồng Bàng, "
                     "Thành phố Hải Phòng")
    assert codes["units"] == "legacy" and codes["province"] == "31" and share == 1.0
    value, codes, _ = normalize_address("Tổ dân phố 12, Xã Mường Chanh, Tỉnh Thanh Hóa")
    assert codes["units"] == "2025" and codes["province"] == "38" and "district" not in codes


def test_threshold_is_the_lowest_meeting_the_precision() -> None:
    probs = [0.99, 0.98, 0.97, 0.9, 0.8, 0.7]
    right = [True, True, True, True, False, False]
    assert choose_threshold(probs, right, 0.99) == 0.9
    assert choose_threshold(probs, right, 0.8) == 0.8
    assert choose_threshold([0.9], [False], 0.99) == 1.0


def test_ece_of_calibrated_and_overconfident_scores() -> None:
    calibrated = [Scored("t", "f", "date", 0.75, FieldStatus.review, i < 3) for i in range(4)]
    assert ece(calibrated) == pytest.approx(0.0)
    over = [Scored("t", "f", "date", 0.95, FieldStatus.accepted, i < 2) for i in range(4)]
    assert ece(over) == pytest.approx(0.45)


def test_committed_calibration_round_trips_and_is_monotone() -> None:
    cal = load_calibrator()
    assert cal is not None and 0.5 < cal.threshold <= 1.0
    again = Calibrator.from_json(cal.to_json())
    assert again.coef == cal.coef and again.threshold == cal.threshold
    assert again.trees == cal.trees and again.intercept == cal.intercept
    f = _field("date_of_birth", "01/02/1990")
    f._evidence.update({"type_date": 1.0, "ocr_min": 0.95, "ocr_mean": 0.97, "valid": 1.0})
    assert again.score(f) == cal.score(f) and 0.0 <= cal.score(f) <= 1.0
    grid = [i / 50 for i in range(51)]
    mapped = [cal.calibrate(p) for p in grid]
    assert all(b >= a for a, b in zip(mapped, mapped[1:], strict=False))


def test_separator_sheet_is_printable_read_and_cuts_a_stack(tmp_path) -> None:
    """GIVEN the printable separator sheet
    WHEN its page image is read THEN its code is found; a stack is cut there into dossiers
    and the sheet itself belongs to none."""
    import pypdfium2

    from extraction import extract_documents, load_doctypes
    from extraction.separator import is_separator, render_separator_sheet, split_stack

    pdf = render_separator_sheet(tmp_path / "sheet.pdf", label="Quầy 3")
    image = pypdfium2.PdfDocument(str(pdf))[0].render(scale=150 / 72).to_numpy()
    codes = read_codes(image[:, :, :3].copy())
    sheet = PageOCR(width=100, height=100, codes=codes)
    assert is_separator(sheet)
    plain = PageOCR(width=100, height=100)
    assert split_stack([plain, plain, sheet, plain, sheet, sheet]) == [[0, 1], [3]]
    assert extract_documents([sheet], load_doctypes()) == []


def test_boosted_trees_score_by_their_splits_and_round_trip() -> None:
    """GIVEN a two-tree scorer splitting on the lowest OCR word confidence and on the type
    WHEN values on either side of the splits are scored THEN each gets the logistic of the
    baseline plus its leaves, and the JSON form scores the same."""
    import math

    ocr_min, is_date = EVIDENCE.index("ocr_min"), len(EVIDENCE) + 1
    trees = [Tree(feature=[ocr_min, 0, 0], threshold=[0.6, 0.0, 0.0], left=[1, 0, 0],
                  right=[2, 0, 0], leaf=[False, True, True], value=[0.0, -2.0, 1.0]),
             Tree(feature=[is_date, 0, 0], threshold=[0.5, 0.0, 0.0], left=[1, 0, 0],
                  right=[2, 0, 0], leaf=[False, True, True], value=[0.0, 0.0, 0.5])]
    cal = Calibrator(coef=[], intercept=0.25, threshold=0.9, means=[], scales=[], info={},
                     trees=trees)
    sure, doubted = _field("date_of_birth", "01/02/1990"), _field("full_name", "Lê Văn Bình")
    sure._evidence.update({"type_date": 1.0, "ocr_min": 0.9})
    doubted._evidence.update({"type_person_name": 1.0, "ocr_min": 0.4})
    assert cal.score(sure) == pytest.approx(1 / (1 + math.exp(-(0.25 + 1.0 + 0.5))))
    assert cal.score(doubted) == pytest.approx(1 / (1 + math.exp(-(0.25 - 2.0))))
    again = Calibrator.from_json(cal.to_json())
    assert [again.score(sure), again.score(doubted)] == [cal.score(sure), cal.score(doubted)]


def test_values_scored_together_score_as_each_tree_walked_in_turn() -> None:
    """GIVEN the committed boosted scorer and values with varied evidence and types
    WHEN they are scored together THEN each score is exactly the logistic of the baseline plus
    every tree's leaf, summed tree after tree, as one value alone gets."""
    import math

    cal = load_calibrator()
    assert cal is not None and cal.trees
    rng = random.Random(7)
    fields = []
    for _ in range(300):
        f = _field("date_of_birth", rng.choice(["01/02/1990", "NGUYEN VAN AN", "Hà Nội"]))
        f._evidence.update({e: rng.choice([0.0, 1.0, rng.random()]) for e in EVIDENCE})
        f._evidence[f"type_{rng.choice(FIELD_TYPES)}"] = 1.0
        fields.append(f)
    for f, got in zip(fields, cal.scores(fields), strict=True):
        x = features_of(f)[:TREE_FEATURES]
        z = cal.intercept + sum(t.predict(x) for t in cal.trees)
        assert got == (1.0 if z > 35 else 0.0 if z < -35 else 1.0 / (1.0 + math.exp(-z)))
        assert cal.score(f) == got
    assert cal.scores([]) == []


def test_each_field_type_has_its_own_odds_and_a_doubted_word_goes_to_review() -> None:
    """GIVEN a scorer whose isotonic maps differ per field type
    WHEN two values with the same score are calibrated THEN each gets its type's odds; a value
    the OCR doubts a word of is reviewed unless an exact source confirms it."""
    n = len(FEATURES)
    cal = Calibrator(coef=[0.0] * n, intercept=2.0, threshold=0.9, means=[0.0] * n,
                     scales=[1.0] * n, info={},
                     iso_x=[0.0, 1.0], iso_y=[0.5, 0.5],
                     iso_kinds={"date": [[0.0, 1.0], [0.99, 0.99]]})
    date_f, name_f = _field("date_of_birth", "01/02/1990"), _field("full_name", "Lê Văn Bình")
    date_f._evidence.update({"type_date": 1.0, "ocr_min": 0.9})
    name_f._evidence.update({"type_person_name": 1.0, "ocr_min": 0.9})
    doubted = _field("issue_date", "03/04/2020")
    doubted._evidence.update({"type_date": 1.0, "ocr_min": 0.3})
    confirmed = _field("expiry_date", "03/04/2040")
    confirmed._evidence.update({"type_date": 1.0, "ocr_min": 0.3, "exact_agree": 1.0})
    doc = ExtractedDocument(doctype="cccd_front", title="", pages=[0],
                            classification_confidence=1.0,
                            fields=[date_f, name_f, doubted, confirmed])
    apply_calibration([doc], cal)
    assert (date_f.confidence, name_f.confidence) == (0.99, 0.5)
    assert [f.status for f in doc.fields] == [FieldStatus.accepted, FieldStatus.review,
                                              FieldStatus.review, FieldStatus.accepted]
    assert Calibrator.from_json(cal.to_json()).iso_kinds == cal.iso_kinds


def test_code_located_but_too_coarse_is_read_enlarged() -> None:
    """GIVEN a page larger than a card with a chip card's QR code at under two pixels a
    module (a card copied onto a page scanned at low resolution)
    WHEN its codes are read THEN the code, located but not read at scale, is read enlarged."""
    payload = qr_payload(PERSON, date(2022, 1, 5))
    code = np.array(artwork.qr_code(payload, 150).convert("L"))
    page = np.full((2000, 1500), 255, np.uint8)
    page[300:380, 900:980] = cv2.resize(code, (80, 80), interpolation=cv2.INTER_AREA)
    at_scale, located = _decode(page)
    assert at_scale == [] and located
    assert [c.text for c in read_codes(page)] == [payload]


def test_units_placed_where_others_are_not_get_their_names_and_only_their_codes() -> None:
    """GIVEN a place whose first part is no unit (a health station) and whose province OCR
    read without an accent WHEN it is normalized THEN the province is written officially with
    its code, and no code is given for a unit whose part does not read as its name."""
    value, codes, share = normalize_address("Trạm y tế xã Thụy Ninh, Tỉnh Thai Bình")
    assert value == "Trạm y tế xã Thụy Ninh, Tỉnh Thái Bình"
    assert codes == {"province": "34", "units": "legacy"} and 0 < share < 1
    value, codes, _ = normalize_address("Xã Ngọc Táo, Huyện Phac The, Thành phố Ha Nội")
    assert value.endswith("Huyện Phac The, Thành phố Hà Nội") and "district" not in codes


def test_unit_term_of_an_address_gets_its_accents_and_letter_back() -> None:
    assert fix_lead_term("Té dan phố 12") == "Tổ dân phố 12"
    assert fix_lead_term("Khu phế 3") == "Khu phố 3"
    assert fix_lead_term("Ap 2") == "Ấp 2"
    assert fix_lead_term("Thon An Lạc") == "Thôn An Lạc"
    # A word read with other accents is another word; a name is no unit term.
    assert fix_lead_term("Bàn Cờ 5") == "Bàn Cờ 5"
    assert fix_lead_term("Tân Lập") == "Tân Lập"
    assert normalize_address("To dân phố 5, Xã Phú Yên, Huyện Phú Xuyên, Thành phố Hà Nội"
                             )[0].startswith("Tổ dân phố 5, ")


def test_short_address_keeps_its_short_form_when_its_units_are_spelt() -> None:
    """A 2016 card's place of origin names its units without their kind (Xã, Huyện, Tỉnh): the
    official names are written back the way the address has them."""
    assert normalize_address("Xuân Mỹ, Nghỉ Xuân, Hà Tinh")[0] == "Xuân Mỹ, Nghi Xuân, Hà Tĩnh"
    assert normalize_address("Xã Minh Tân, Huyện Vụ Bản, Tinh Nam Định")[0] == \
        "Xã Minh Tân, Huyện Vụ Bản, Tỉnh Nam Định"


def test_a_value_on_the_threshold_is_accepted_and_reads_at_or_above_it() -> None:
    """GIVEN a rule whose threshold is a plateau of the isotonic map, with more decimals than
    the confidence people see (as training picks it: one of the calibrated probabilities)
    WHEN a value lands on that plateau, and another just under it
    THEN the first is accepted and its confidence does not read below the threshold; the
    second goes to review and does not read as high as the threshold."""
    n = len(FEATURES)
    plateau = 65 / 66  # 0.98484848...
    cal = Calibrator(coef=[0.0] * n, intercept=2.0, threshold=plateau, means=[0.0] * n,
                     scales=[1.0] * n, info={}, iso_x=[0.0, 1.0], iso_y=[0.5, 0.5],
                     iso_kinds={"person_name": [[0.0, 1.0], [plateau, plateau]],
                                "date": [[0.0, 1.0], [plateau - 1e-5, plateau - 1e-5]]})
    on, under = _field("full_name", "Lê Văn Bình"), _field("date_of_birth", "01/02/1990")
    on._evidence.update({"type_person_name": 1.0, "ocr_min": 0.9})
    under._evidence.update({"type_date": 1.0, "ocr_min": 0.9})
    doc = ExtractedDocument(doctype="cccd_front", title="", pages=[0],
                            classification_confidence=1.0, fields=[on, under])
    apply_calibration([doc], cal)
    assert on.status == FieldStatus.accepted and on.confidence == 0.9849
    assert under.status == FieldStatus.review and under.confidence == 0.9848
