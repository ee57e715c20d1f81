"""Classification, splitting and field extraction on real OCR of rendered pages."""

from __future__ import annotations

import cv2
import pytest

from extraction import citizen_ids_of, extract_documents, load_doctypes
from extraction.classify import PageClass, split_pages
from extraction.confidence import _load_calibrator, load_calibrator
from models.errors import DoctypeDefinitionError
from models.records import FieldStatus
from ocr import tesseract
from tests.pages import BIRTH_FORM, render

CARD = [
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
    "CĂN CƯỚC CÔNG DÂN",
    "Citizen Identity Card",
    "Số / No.: 001190012345",
    "Họ và tên / Full name:",
    "LÊ THỊ HOA",
    "Ngày sinh / Date of birth: 21/07/1990",
    "Giới tính / Sex: Nữ   Quốc tịch / Nationality: Việt Nam",
    "Quê quán / Place of origin:",
    "Xã Đông Anh, Huyện Đông Anh, Hà Nội",
    "Nơi thường trú / Place of residence:",
    "12 Hàng Bạc, Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội",
    "Có giá trị đến / Date of expiry: 21/07/2030",
]


@pytest.fixture(scope="module")
def pages():
    out = []
    for lines in (CARD, BIRTH_FORM):
        gray = cv2.cvtColor(render(lines), cv2.COLOR_BGR2GRAY)
        out.append(tesseract.recognize(gray))
    return out


def test_dossier_of_card_and_form_splits_into_two_documents(pages):
    docs = extract_documents(pages, load_doctypes())
    assert [(d.doctype, d.pages) for d in docs] == [("cccd_front", [0]),
                                                    ("birth_registration", [1])]


def test_card_fields(pages):
    card = extract_documents(pages[:1], load_doctypes())[0]
    values = card.values()
    assert values["citizen_id"] == "001190012345"
    assert values["full_name"] == "LÊ THỊ HOA"  # value on the row below its label
    assert values["date_of_birth"] == "1990-07-21"
    assert values["sex"] == "Nữ"
    assert values["nationality"] == "Việt Nam"
    assert values["place_of_residence"] == "12 Hàng Bạc, Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội"
    assert values["expiry_date"] == "2030-07-21"
    cid = card.field("citizen_id")
    assert cid.page == 0
    assert cid.bbox is not None and cid.bbox[2] > cid.bbox[0]
    # The ID's century/sex digits agree with the date of birth and the sex.
    assert not cid.problems and cid._evidence.get("check_ok") == 1.0
    # Every found value is accepted exactly when the calibrated rule says so.
    rule = load_calibrator()
    assert rule is not None
    for f in card.fields:
        if f.value is not None:
            expected = (FieldStatus.accepted
                        if not f.problems and f.confidence >= rule.threshold
                        else FieldStatus.review)
            assert f.status == expected, f.name


def test_birth_form_fields_follow_their_sections(pages):
    form = extract_documents(pages[1:], load_doctypes())[0]
    v = form.values()
    assert v["declarant_name"] == "Nguyễn Văn An"
    assert v["child_name"] == "Nguyễn Thị Bình"
    assert v["child_date_of_birth"] == "2024-11-05"
    assert v["child_sex"] == "Nữ"
    assert v["mother_name"] == "Trần Thị Cúc"
    assert v["mother_id"] == "079190004321"
    assert v["father_id"] == "079085001234"
    assert v["declaration_date"] == "2024-11-10"


def test_record_names_every_valid_citizen_id(pages):
    types = load_doctypes()
    form = extract_documents(pages[1:], types)[0]
    by_id = {d.id: d for d in types}
    ids = citizen_ids_of(form, by_id["birth_registration"], pages[1:])
    assert set(ids) == {"079085001234", "079190004321"}


def test_continuation_pages_join_the_document():
    classes = [PageClass("birth_registration", 8, 0.9, True), PageClass("unknown", 0, 0, False),
               PageClass("cccd_front", 5, 0.8, True), PageClass("cccd_front", 5, 0.8, True)]
    assert [(d, p) for d, p, _ in split_pages(classes)] == [
        ("birth_registration", [0, 1]), ("cccd_front", [2]), ("cccd_front", [3])]


def test_extra_doctype_folder_adds_a_type_without_python(tmp_path, pages):
    (tmp_path / "fishing_permit.yaml").write_text(
        "id: birth_registration_copy\ntitle: Bản sao tờ khai\nmin_score: 100\n"
        "keywords: [tờ khai]\nfields:\n  - name: child\n    labels: ['Họ, chữ đệm, tên']\n",
        encoding="utf-8")
    types = load_doctypes(tmp_path)
    assert "birth_registration_copy" in {d.id for d in types}


def test_bad_doctype_file_names_itself(tmp_path):
    (tmp_path / "broken.yaml").write_text("id: x\ntitle: y\nkeywords: [a]\nfields:\n"
                                          "  - name: f\n    labels: [b]\n    type: colour\n")
    with pytest.raises(DoctypeDefinitionError) as e:
        load_doctypes(tmp_path)
    assert "broken.yaml" in str(e.value) and "colour" in str(e.value)


def test_a_one_page_type_never_takes_a_second_page():
    """GIVEN two card fronts in a row whose titles OCR lost, then an unrecognized page
    WHEN the stack is split THEN each front is a document, and the unknown page no card's."""
    classes = [PageClass("cccd_front", 4, 0.8, False, 1), PageClass("cccd_front", 4, 0.8, False, 1),
               PageClass("unknown", 0, 0, False), PageClass("unknown", 0, 0, False),
               PageClass("birth_registration", 8, 0.9, True), PageClass("unknown", 0, 0, False)]
    assert [(d, p) for d, p, _ in split_pages(classes)] == [
        ("cccd_front", [0]), ("cccd_front", [1]), ("unknown", [2, 3]),
        ("birth_registration", [4, 5])]


def test_unknown_page_of_another_shape_is_no_continuation():
    """GIVEN an A4 form, then an unreadable landscape page (a card scanned on its own)
    WHEN the stack is split THEN the landscape page is not the form's next page."""
    a4, card = 2480 / 3508, 1012 / 638
    classes = [PageClass("power_of_attorney", 9, 1, True, aspect=a4),
               PageClass("unknown", 0, 0, False, aspect=card),
               PageClass("unknown", 0, 0, False, aspect=a4)]
    assert [(d, p) for d, p, _ in split_pages(classes)] == [
        ("power_of_attorney", [0]), ("unknown", [1]), ("unknown", [2])]


def test_unreadable_page_of_a_cards_shape_beside_one_side_is_the_other(tmp_path):
    """GIVEN card-shaped pages no keyword identified: one after a card front, one before a
    card back, one between two forms WHEN they are classified by shape THEN the first is a
    back, the second a front, the third stays unknown; an A4 page is never a card."""
    from extraction.classify import classify_by_shape

    card, a4 = 1012 / 638, 2480 / 3508

    def page(doctype: str, aspect: float) -> PageClass:
        known = doctype != "unknown"
        return PageClass(doctype, 5 * known, float(known), known,
                         1 if doctype.startswith("cccd") else None, aspect)

    classes = [page("cccd_front", card), page("unknown", card), page("unknown", card),
               page("cccd_back", card), page("receipt_appointment", a4), page("unknown", card),
               page("unknown", a4), page("cccd_back", card)]
    classify_by_shape(classes, load_doctypes())
    assert [c.doctype for c in classes] == [
        "cccd_front", "cccd_back", "cccd_front", "cccd_back", "receipt_appointment", "unknown",
        "unknown", "cccd_back"]


def test_the_warm_up_runs_once_on_its_own_thread_and_extraction_can_wait_for_it():
    import extraction
    from extraction.nlp import get_nlp

    extraction.start_warm_up()
    first = extraction._warm
    extraction.start_warm_up()
    assert extraction._warm is first and first.name == "extraction-warm-up"
    extraction.wait_for_warm_up()
    assert not first.is_alive()
    assert get_nlp() is get_nlp() and _load_calibrator.cache_info().currsize >= 1


def test_threads_asking_for_the_pipeline_at_once_share_one(monkeypatch):
    """GIVEN no spaCy pipeline built yet WHEN eight threads ask for it at once (the warm-up
    beside extractions) THEN it is built once and every thread gets that one: a Doc of one
    pipeline matched with another's vocabulary fails (spaCy's E018)."""
    import threading

    from extraction import nlp

    monkeypatch.setattr(nlp, "_nlp", None)
    built = []
    real = nlp._build_nlp

    def slow_build():
        built.append(1)
        return real()

    monkeypatch.setattr(nlp, "_build_nlp", slow_build)
    got: list = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        got.append(nlp.get_nlp())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and len(got) == 8 and all(g is got[0] for g in got)
