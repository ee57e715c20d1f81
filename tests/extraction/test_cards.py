"""ID cards end to end on real OCR: the generator's front and back of one person's chip card
are read by the pipeline's cleanup and Tesseract, classified, split and extracted; the two
sides lend each other what one of them could not give."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pytest

from extraction import extract_documents, load_doctypes
from extraction.classify import classify_page
from extraction.fields import (
    EXPIRY_FROM_BIRTHDAY,
    EXPIRY_NOT_BIRTHDAY,
    FUTURE_BIRTH,
    _cross_check,
    card_expiries,
)
from extraction.sources import NAME_FROM_MRZ, OTHER_CODE_DIFFERS, PersonData, _mrz_name
from extraction.text import fold
from extraction.validators import MRZ_NAME_ODD, mrz_problems
from models.ocr import Line, PageOCR
from models.records import ExtractedDocument, ExtractedField, FieldSource, FieldStatus
from ocr.loading import LoadedPage
from ocr.pipeline import OcrOptions, ocr_loaded_page
from sample_scans.generator import render_document
from sample_scans.generator.canvas import render_raster
from sample_scans.generator.registry import new_ctx
from tests.pages import placed_page


@pytest.fixture(scope="module")
def card():
    """The OCR of both sides of one chip card (2021 layout), and their truth."""
    rng = random.Random(7)
    ctx = new_ctx(rng, "dejavu-serif")
    sides = [render_document("cccd_front", "b", rng, ctx=ctx),
             render_document("cccd_back", "b", rng, ctx=ctx)]
    pages = []
    for i, side in enumerate(sides):
        img = np.asarray(render_raster(side.pages[0]).convert("RGB"))[:, :, ::-1].copy()
        pages.append(ocr_loaded_page(LoadedPage(img, 300, 0), OcrOptions(), index=i).ocr)
    return pages, [s.fields for s in sides]


def _without(page: PageOCR, drop) -> PageOCR:
    """The page as OCR would have read it had it missed the words ``drop`` picks, its QR code
    worn past reading."""
    lines = [Line(words=[w for w in ln.words if not drop(w.text)], block=ln.block)
             for ln in page.lines]
    return page.model_copy(update={"lines": [ln for ln in lines if ln.words], "codes": []})


def test_both_sides_are_classified_split_and_read(card) -> None:
    pages, (front, back) = card
    types = load_doctypes()
    assert [classify_page(p, types).doctype for p in pages] == ["cccd_front", "cccd_back"]
    docs = extract_documents(pages, types)
    assert [(d.doctype, d.pages) for d in docs] == [("cccd_front", [0]), ("cccd_back", [1])]
    got = {f.name: f.value for f in docs[0].fields}
    for name in ("citizen_id", "date_of_birth", "sex", "expiry_date"):
        assert got[name] == front[name], name
    assert got["full_name"].casefold() == front["full_name"].casefold()
    assert docs[1].field("mrz").value == back["mrz"]
    assert docs[1].field("issue_date").value == back["issue_date"]
    assert docs[1].field("issuing_authority").value == back["issuing_authority"]


def test_front_whose_number_was_lost_takes_it_from_the_back(card) -> None:
    """GIVEN a front whose ID number OCR did not read at all and whose QR code is worn, and its
    back scanned after it
    WHEN the dossier is extracted THEN the number comes from the back's MRZ, whose date of
    birth agrees with the front's reading."""
    pages, (front, _) = card
    lost = _without(pages[0], lambda t: front["citizen_id"] in t)
    docs = extract_documents([lost, pages[1]], load_doctypes())
    f = docs[0].field("citizen_id")
    assert f.value == front["citizen_id"] and f.source == FieldSource.mrz


def test_front_whose_number_label_was_lost_keeps_its_number_checked(card) -> None:
    """GIVEN a front alone whose ID label OCR garbled and whose QR code is worn
    WHEN it is extracted THEN the one valid ID number in its text is its number, checked
    against the birth date and sex on the card like a labelled one, and weighed by the scorer
    as the card's only number (not held as guesswork)."""
    pages, (front, _) = card
    garbled = _without(pages[0], lambda t: fold(t).strip("/.: ").replace("/", "")
                       in ("so", "no", "sono", ""))
    assert "No." not in garbled.text
    f = extract_documents([garbled], load_doctypes())[0].field("citizen_id")
    assert f.value == front["citizen_id"] and not f.problems
    assert f._evidence.get("lone_id") == 1.0 and f._evidence.get("check_ok") == 1.0
    assert not f._evidence.get("generic")


def test_mrz_name_line_comes_from_the_qr_code_of_the_same_card() -> None:
    mrz = ("IDVNM0686579117049068657911<<<\n6806112M2806114VNM<<<<<<<<<<<8\n"
           "TRAN<<BA<H0ANG<HAV<<<<<<<<<<<<")
    back = ExtractedDocument(doctype="cccd_back", title="", pages=[1], fields=[
        ExtractedField(name="mrz", value=mrz, confidence=0.8, status=FieldStatus.review)])
    qr = PersonData(FieldSource.qr, {"citizen_id": "049068657911",
                                     "full_name": "Trần Bá Hoàng Hậu"})
    other = PersonData(FieldSource.qr, {"citizen_id": "001190012345", "full_name": "Lê Văn A"})
    _mrz_name(back, [other, qr], [back])
    f = back.field("mrz")
    assert f.value.split("\n")[2] == "TRAN<<BA<HOANG<HAU" + "<" * 12
    assert f.source == FieldSource.qr and f.readings[0].value == mrz


def test_back_read_too_poorly_to_tell_is_known_by_its_mrz(card) -> None:
    """GIVEN a card back where OCR read nothing but the machine-readable zone
    WHEN it is extracted THEN it is a card back with its MRZ."""
    pages, (_, back) = card
    only_mrz = _without(pages[1], lambda t: "<" not in t)
    docs = extract_documents([only_mrz], load_doctypes())
    assert [d.doctype for d in docs] == ["cccd_back"]
    assert docs[0].field("mrz").value == back["mrz"]


def test_page_only_its_qr_code_was_read_from_is_a_card_front(card) -> None:
    """GIVEN a chip card's front of which OCR read no word, its QR code read
    WHEN it is extracted THEN it is a card front (half sure) and the code gives its fields."""
    pages, (front, _) = card
    assert pages[0].codes
    blank = pages[0].model_copy(update={"lines": []})
    docs = extract_documents([blank], load_doctypes())
    assert [(d.doctype, d.classification_confidence) for d in docs] == [("cccd_front", 0.5)]
    f = docs[0].field("citizen_id")
    assert f.value == front["citizen_id"] and f.source == FieldSource.qr


def _reread(page: PageOCR, old: str, new: str) -> PageOCR:
    lines = [Line(words=[w.model_copy(update={"text": w.text.replace(old, new)})
                         for w in ln.words], block=ln.block) for ln in page.lines]
    return page.model_copy(update={"lines": lines, "codes": []})


def test_front_reading_a_valid_expiry_is_not_overruled_by_the_other_sides_code(card) -> None:
    """GIVEN a front whose expiry reads as another of its holder's birthdays than the one the
    back's MRZ gives (another card of the same person, or a misread)
    WHEN the dossier is extracted THEN the front keeps its reading, the MRZ's beside it, and a
    person decides."""
    pages, (front, _) = card
    born, expiry = date.fromisoformat(front["date_of_birth"]), front["expiry_date"]
    other = next(d for d in card_expiries(born.isoformat()) if d != expiry)
    dmy = lambda iso: "/".join(reversed(iso.split("-")))  # noqa: E731
    assert dmy(expiry) in pages[0].text
    docs = extract_documents([_reread(pages[0], dmy(expiry), dmy(other)), pages[1]],
                             load_doctypes())
    f = docs[0].field("expiry_date")
    assert f.value == other and f.status == FieldStatus.review
    assert OTHER_CODE_DIFFERS in f.problems
    assert [r.value for r in f.readings] == [expiry]


def test_expiry_is_checked_against_the_holders_birthdays() -> None:
    """A card expires on its holder's 25th, 40th or 60th birthday: a reading one digit off one
    of them is written as it (for review); one far from all is a problem for both dates; a
    birth date after today is a problem."""
    def fields(dob: str, exp_value: str | None, exp_raw: str = "") -> list[ExtractedField]:
        return [ExtractedField(name="date_of_birth", value=dob, confidence=0.9,
                               status=FieldStatus.review),
                ExtractedField(name="expiry_date", value=exp_value, raw=exp_raw or exp_value or "",
                               confidence=0.9, status=FieldStatus.review)]

    ok = fields("1991-02-24", "2031-02-24")
    _cross_check(ok)
    assert not ok[0].problems and not ok[1].problems
    slip = fields("1991-02-24", "2031-02-34")
    _cross_check(slip)
    assert slip[1].value == "2031-02-24" and slip[1].problems == [EXPIRY_FROM_BIRTHDAY]
    far = fields("1991-02-24", "2035-06-01")
    _cross_check(far)
    assert far[1].value == "2035-06-01"
    assert EXPIRY_NOT_BIRTHDAY in far[0].problems and EXPIRY_NOT_BIRTHDAY in far[1].problems
    future = fields("2040-11-25", None)
    _cross_check(future)
    assert FUTURE_BIRTH in future[0].problems


def test_id_number_disagreeing_with_the_birth_year_sends_both_to_review() -> None:
    cid = ExtractedField(name="citizen_id", value="079085001234", confidence=0.9)
    dob = ExtractedField(name="date_of_birth", value="1986-05-01", confidence=0.9)
    _cross_check([cid, dob])
    assert cid.problems and dob.problems == cid.problems


def test_mrz_name_line_that_reads_as_no_name_is_doubted() -> None:
    head = "IDVNM0773671665038077367166<<<\n7707146M3707148VNM<<<<<<<<<<<2\n"
    assert mrz_problems(head + "VU<<GIA<HUNG" + "<" * 18) == []
    assert mrz_problems(head + "3VU<<GIA<HUNG" + "<" * 17) == [MRZ_NAME_ODD]
    assert mrz_problems(head + "H<<THI<HTEN<E" + "<" * 17) == [MRZ_NAME_ODD]


def test_speck_after_a_name_label_is_not_the_name() -> None:
    """GIVEN a 2016 card's rows where OCR read the colon after "Họ và tên" as a letter of
    little confidence, the name on the row below
    WHEN the fields are read THEN the name is the row below."""
    page = placed_page([[(300, "CĂN CƯỚC CÔNG DÂN")], [(300, "Số: 079202095071")],
                        [(300, "Họ và tên if")], [(300, "NGUYEN TUAN HOANG QUAN")],
                        [(300, "Ngày, tháng, năm sinh: 15/10/2002")]])
    page.lines[2].words[-1].confidence = 0.12
    docs = extract_documents([page], load_doctypes())
    assert fold(docs[0].field("full_name").value) == "nguyen tuan hoang quan"


def test_front_whose_name_was_not_read_takes_the_letters_of_the_backs_mrz(card) -> None:
    """GIVEN a front whose name line OCR lost, its QR code worn, and its back scanned after it
    WHEN the dossier is extracted THEN the name is the MRZ's letters with the likely accents,
    for a person to check."""
    pages, (front, _) = card
    name_words = {fold(w) for w in front["full_name"].split()}
    lost = _without(pages[0], lambda t: fold(t) in name_words)
    docs = extract_documents([lost, pages[1]], load_doctypes())
    f = docs[0].field("full_name")
    assert fold(f.value) == fold(front["full_name"])
    assert f.source == FieldSource.mrz and f.status == FieldStatus.review
    assert NAME_FROM_MRZ in f.problems
