"""Values a closed list settles with no person: an address's official units read exactly as
the national list names them, a procedure of the national catalogue, one of a field's
choices (on real OCR of a committed sample, and on readings as OCR gives them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extraction import extract_documents, load_doctypes
from extraction.addresses import names_unknown_unit, place_address
from extraction.confidence import held_for_review
from extraction.known import (
    LIST_EXACT,
    closed_list,
    closed_list_member,
    mark_closed_list,
    norm,
)
from models.records import ExtractedField, FieldStatus
from ocr.loading import Limits, load_page
from ocr.pipeline import OcrOptions, ocr_loaded_page

CARD = Path(__file__).resolve().parents[2] / "sample_scans" / "cccd-front-clean.png"
AUTHORITIES = ["CỤC TRƯỞNG CỤC CẢNH SÁT ĐKQL CƯ TRÚ VÀ DLQG VỀ DÂN CƯ",
               "CỤC TRƯỞNG CỤC CẢNH SÁT QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI", "BỘ CÔNG AN"]


@pytest.mark.parametrize(("text", "exact", "head"), [
    ("Xã Hưng Thịnh, Huyện Trảng Bom, Tỉnh Đồng Nai", True, 0),
    ("xã Hưng Thịnh, huyện Trảng Bom, tỉnh Đồng Nai.", True, 0),
    ("Hưng Thịnh, Trảng Bom, Đồng Nai", True, 0),  # a 2016 card leaves the kinds out
    ("Thôn 3, Xã Hưng Thịnh, Huyện Trảng Bom, Tỉnh Đồng Nai", True, 1),
    ("Ủy ban nhân dân xã Hưng Thịnh, Huyện Trảng Bom, Tỉnh Đồng Nai", True, 0),
    ("Xã Hưng Thinh, Huyện Trảng Bom, Tỉnh Đồng Nai", False, 0),  # an accent misread
    ("Xã Hưng Thịnh, Huyện Trảng Bom", False, 0),  # the province lost
    ("Xã Hưng Thịnh, Huyện Yên Minh, Tỉnh Đồng Nai", False, 0),  # not that district's
])
def test_an_address_is_exact_only_when_every_unit_reads_as_officially_named(text, exact, head):
    p = place_address(text)
    assert p.exact is exact, (text, p)
    if exact:
        assert p.head == head and p.share == 1.0 and p.codes["ward"]


def test_a_place_of_origin_read_exactly_is_accepted_and_one_misread_is_not():
    """GIVEN the clean card read by Tesseract
    THEN its place of origin, read as the national list names its units, is accepted as a
    member of that list; the same card with one accent of the ward misread is not."""
    page = load_page(CARD, 0, Limits())
    ocr = ocr_loaded_page(page, OcrOptions(), index=0).ocr
    truth = json.loads(Path(f"{CARD}.truth.json").read_text(encoding="utf-8"))
    want = truth["documents"][0]["fields"]["place_of_origin"]
    (doc,) = extract_documents([ocr], load_doctypes())
    f = doc.field("place_of_origin")
    assert f is not None and f.value == want
    assert f._evidence.get(LIST_EXACT) == 1.0
    assert f.status == FieldStatus.accepted

    for w in (w for ln in ocr.lines for w in ln.words if w.text.startswith("Tân")):
        w.text = w.text.replace("Tân", "Tăn")
    (doc,) = extract_documents([ocr], load_doctypes())
    f = doc.field("place_of_origin")
    assert f is not None and not f._evidence.get(LIST_EXACT)


def test_procedures_and_choices_are_closed_lists():
    assert norm("Đăng ký khai sinh") in closed_list("procedures")
    assert mark_closed_list("Đăng ký khai sinh.", "procedures")
    # Accents count in a closed list: the reading without them is not the member.
    assert not mark_closed_list("Dang ky khai sinh", "procedures")
    assert not mark_closed_list("Đăng ký khai sinh con", "procedures")
    # A field's choices: letter for letter, accents lost, when only one choice has them.
    assert mark_closed_list("BO CONG AN", None, AUTHORITIES)
    assert not mark_closed_list("BO CONG AN TINH", None, AUTHORITIES)
    assert not mark_closed_list("Mương", None, ["Mường", "Muông"])


def test_a_long_reading_with_the_letters_of_one_member_is_that_member():
    """A catalogue's phrase read with its accents lost or misread is that member when no other
    member has its letters; a short reading (a kinship term) is not."""
    assert closed_list_member("Cap ban sao trich luc ho tich", "procedures") == \
        "Cấp bản sao trích lục hộ tịch"
    assert closed_list_member("Đăng ký thướng trú", "procedures") == "Đăng ký thường trú"
    assert closed_list_member("Dat trong cay lau nam", "land_use_purposes") == \
        "Đất trồng cây lâu năm"
    assert closed_list_member("Đăng ký thường trú mới", "procedures") is None
    assert closed_list_member("Cha ruot", "relationships") is None  # under 15 letters


def test_a_reading_near_one_choice_only_is_that_choice_and_accepted():
    """GIVEN a card back whose issuing office lost its second line's last word to OCR
    WHEN its value is snapped to the field's choices
    THEN it is that choice, and counts as verified; a reading as near two choices is left."""
    from extraction.confidence import verified_elsewhere
    from extraction.fields import _known_values

    back = next(d for d in load_doctypes() if d.id == "cccd_back")
    fdef = back.field("issuing_authority")
    assert fdef is not None
    f = ExtractedField(name=fdef.name, value="CỤC TRUONG CỤC CANH SAT QUAN LY HANH CHÍNH VỀ "
                                           "TRAT TỰ XÃ")
    _known_values(fdef, f)
    assert f.value == AUTHORITIES[1] and verified_elsewhere(f)
    g = ExtractedField(name=fdef.name, value="CỤC TRƯỞNG CỤC CẢNH SÁT")
    _known_values(fdef, g)
    assert not verified_elsewhere(g)


@pytest.mark.parametrize(("text", "unknown"), [
    ("Xã Hành Đúc", True),  # one accent misread: no ward has that name
    ("Xã Hành Đức", False),
    ("Ủy ban nhân dân xã Sting Thai, Huyện Yên Minh, Tỉnh Hà Giang", True),
    ("CÔNG AN XÃ KIÊN MỘC", False),
    ("Số 12 đường Lê Lợi, Phường 1, Thành phố Tuy Hòa, Tỉnh Phú Yên", False),
    ("Phường 1, Thành phố Hòa, Tỉnh Phú Yên", True),  # "Tuy" lost
    ("Bệnh viện Phụ sản Thành phố Hồ Chí Minh", False),
])
def test_a_unit_the_national_list_does_not_name_holds_the_value(text, unknown):
    assert names_unknown_unit(text) is unknown
    f = ExtractedField(name="x", value=text, status=FieldStatus.review)
    f._evidence.update({"unit_unknown": 1.0} if unknown else {})
    assert held_for_review(f) is unknown
