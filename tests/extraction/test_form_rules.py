"""Layout rules of forms, on hand-placed words (no OCR): where a wrapped value ends, ruled
table cells, a value left of its label, a date line found by its pattern, a region cut out of
a letterhead row, label words inside a value, and family names read without diacritics."""

from __future__ import annotations

from pathlib import Path

import pytest

from extraction import _names_printed_twice, extract_documents
from extraction.addresses import normalize_address, restore_unit_kinds
from extraction.confidence import confirmed
from extraction.doctypes import load_doctypes
from extraction.fields import extract_fields
from extraction.layout import page_rows
from extraction.sources import reconcile
from extraction.text import restore_name_marks
from extraction.validators import parse_value
from models.ocr import PageOCR
from models.records import ExtractedDocument, ExtractedField
from tests.pages import placed_page

CHAR_W = 14  # pixels per character of the hand-placed words


def _page(rows: list[list[tuple[int, str]]], y0: int = 100, step: int = 50,
          width: int = 1400) -> PageOCR:
    return placed_page(rows, y0=y0, step=step, width=width, char_w=CHAR_W, space=CHAR_W)


def _doctype(name: str):
    return next(d for d in load_doctypes() if d.id == name)


def _read(doctype, page: PageOCR) -> dict[str, str | None]:
    fields = extract_fields(doctype, page_rows(page, 0),
                            page_sizes={0: (page.width, page.height)})
    return {f.name: f.value for f in fields}


def _custom(tmp_path: Path, body: str):
    folder = tmp_path / "types"
    folder.mkdir()
    (folder / "t.yaml").write_text(body, encoding="utf-8")
    return next(d for d in load_doctypes(folder) if d.id == "t")


# The right edge full lines reach: 100 + 80 characters.
FULL = "x" * 10


def _filler(n: int) -> list[tuple[int, str]]:
    """A row of prose running to the right margin, so the page has a text column."""
    return [(100, " ".join([FULL] * n))]


def test_a_value_ending_short_of_the_margin_does_not_take_the_next_line() -> None:
    """GIVEN an address that fits on its line, followed by an unnumbered sentence
    WHEN the address (up to two lines) is read
    THEN the sentence is not taken as its second line."""
    page = _page([
        _filler(7), _filler(7), _filler(7),
        [(100, "7. Nơi ở hiện tại: Thôn Tây, Xã Bản Liền, Huyện Bắc Hà")],
        [(160, "Giấy xác nhận có giá trị 30 ngày kể từ ngày cấp.")],
    ])
    assert _read(_doctype("residence_confirmation"), page)["current_residence"] == \
        "Thôn Tây, Xã Bản Liền, Huyện Bắc Hà"


def test_a_value_filling_its_line_runs_on_to_the_next() -> None:
    """GIVEN an address whose first line reaches the right margin WHEN read THEN its
    second line is part of it; and an address whose first line ends with the province
    ends there, even when the line is full."""
    page = _page([
        _filler(7), _filler(7), _filler(7),
        [(100, "5. Nơi thường trú: Số 200 đường Lý Thường Kiệt, Phường Minh Khai, Quận")],
        [(110, "Hồng Bàng, Thành phố Hải Phòng")],
        [(100, "7. Nơi ở hiện tại: Xóm Mới, Xã Thạch Hà, Huyện Thạch Hà, Tỉnh Hà Tĩnh")],
        [(110, "Giấy xác nhận có giá trị")],
    ])
    values = _read(_doctype("residence_confirmation"), page)
    assert values["permanent_residence"] == ("Số 200 đường Lý Thường Kiệt, Phường Minh Khai, "
                                             "Quận Hồng Bàng, Thành phố Hải Phòng")
    assert values["current_residence"] == "Xóm Mới, Xã Thạch Hà, Huyện Thạch Hà, Tỉnh Hà Tĩnh"


def test_a_ruled_table_splits_cells_at_the_rule() -> None:
    """GIVEN a marriage form's table where the two people's residences sit close together,
    the rule between them read as "|", each wrapping onto a second line
    WHEN read THEN the residence is the first person's cell only, both of its lines."""
    page = _page([
        [(100, "Nơi cư trú"), (330, "Thôn An Lạc, Xã Xuân Lộc, | Thôn Đông, Xã Hòa Bình,")],
        [(330, "Huyện Sông Cầu, Tỉnh Phú Yên"), (720, "Huyện Tuy An, Tỉnh Phú Yên")],
    ])
    assert _read(_doctype("marriage_registration"), page)["residence"] == \
        "Thôn An Lạc, Xã Xuân Lộc, Huyện Sông Cầu, Tỉnh Phú Yên"


def test_a_ruled_table_splits_cells_where_its_columns_start() -> None:
    """GIVEN a marriage form's table whose rules OCR did not read, where the first person's
    name and residence fill their column so that the second person's follow after a narrow
    gap WHEN read THEN each person's cell ends where the next column starts, as the
    table's other rows show."""
    page = _page([
        [(100, "Họ, chữ đệm, tên"), (330, "Nguyễn Diệu Bảo Hạnh"), (640, "Phan Hữu Khoa")],
        [(100, "Ngày, tháng, năm sinh"), (330, "16/10/1984"), (640, "01/08/1995")],
        [(100, "Dân tộc"), (330, "Kinh"), (640, "Kinh")],
        [(100, "Quốc tịch"), (330, "Việt Nam"), (640, "Việt Nam")],
        [(100, "Nơi cư trú"), (330, "Thôn Trung, Xã Tiền"), (640, "Ấp Bình An, Xã Thanh")],
        [(330, "Phong, Tỉnh Phú Thọ"), (640, "Quân, Tỉnh Thanh Hóa")],
    ])
    values = _read(_doctype("marriage_registration"), page)
    assert values["wife_name"] == "Nguyễn Diệu Bảo Hạnh"
    assert values["husband_name"] == "Phan Hữu Khoa"
    assert values["residence"] == "Thôn Trung, Xã Tiền Phong, Tỉnh Phú Thọ"


def test_a_value_left_of_its_label() -> None:
    """GIVEN a confirmation whose issuing unit names itself before "xác nhận thông tin về
    cư trú", under a title with the same words WHEN read THEN the unit is the value."""
    page = _page([
        [(400, "XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ")],
        [(160, "Công an Phường Ái Quốc xác nhận thông tin về cư trú của công dân như sau:")],
    ])
    assert _read(_doctype("residence_confirmation"), page)["issuing_authority"] == \
        "Công an Phường Ái Quốc"


def test_the_date_line_is_found_by_its_pattern_anywhere() -> None:
    """GIVEN an application letter with a birth date in words and, above the signature, the
    place-and-date line WHEN read THEN the letter's date is the date line's."""
    page = _page([
        [(500, "ĐƠN ĐỀ NGHỊ")],
        [(100, "Tôi tên là: Nguyễn Văn An")],
        [(100, "Sinh ngày 12 tháng 3 năm 1990")],
        [(700, "Hà Nội, ngày 05 tháng 11 năm 2024")],
        [(800, "Người làm đơn")],
    ])
    values = _read(_doctype("application_letter"), page)
    assert values["date"] == "2024-11-05"
    assert values["date_of_birth"] == "1990-03-12"


def test_label_words_opening_a_value_are_the_values_own(tmp_path: Path) -> None:
    """GIVEN a field labelled "Số" and an address value that starts with "Số 200"
    WHEN read THEN the address keeps its house number; a real "Số:" label still cuts."""
    doctype = _custom(tmp_path, """
id: t
title: T
keywords: ["t"]
fields:
  - {name: number, labels: ["Số"], type: code, value_position: right}
  - {name: home, labels: ["Địa chỉ"], type: text, value_position: right}
""")
    page = _page([
        [(100, "Số: 12/XN")],
        [(100, "Địa chỉ: Số 200 đường Giải Phóng, Phường Đông Hòa")],
        [(100, "Địa chỉ: Số: 5/AB")],
    ])
    values = _read(doctype, page)
    assert values["number"] == "12/XN"
    assert values["home"] == "Số 200 đường Giải Phóng, Phường Đông Hòa"


def test_a_region_takes_the_words_inside_it_from_a_row_that_crosses_it(tmp_path: Path) -> None:
    """GIVEN a letterhead row with the agency on the left and the national motto on the
    right WHEN a field is the page's top-left region THEN only the agency is read."""
    doctype = _custom(tmp_path, """
id: t
title: T
keywords: ["t"]
fields:
  - {name: agency, position: {region: [0, 0, 0.45, 0.6]}, type: text}
""")
    page = _page([[(100, "CÔNG AN PHƯỜNG ÁI QUỐC"), (800, "Độc lập - Tự do - Hạnh phúc")]],
                 width=1400)
    assert _read(doctype, page)["agency"] == "CÔNG AN PHƯỜNG ÁI QUỐC"


def test_a_pattern_without_diacritics_matches_text_read_with_them(tmp_path: Path) -> None:
    """GIVEN a pattern with a character class (\\W) and no diacritics WHEN the page has
    them THEN it still matches (classes are not lowercased into other classes)."""
    doctype = _custom(tmp_path, r"""
id: t
title: T
keywords: ["t"]
fields:
  - {name: d, type: date, pattern: '[^\W\d_]+,\s*(ngay\s*\d+\s*thang\s*\d+\s*nam\s*\d{4})'}
""")
    page = _page([[(100, "Đà Nẵng, ngày 05 tháng 11 năm 2024")]])
    assert _read(doctype, page)["d"] == "2024-11-05"


@pytest.mark.parametrize(("read", "written"), [
    ("NGUYEN VAN AN", "NGUYỄN VĂN AN"), ("Tran Thi Hoa", "Trần Thị Hoa"),
    ("NGUYÊN CÔNG THÔNG", "NGUYỄN CÔNG THÔNG"), ("Dang Minh Liên", "Đặng Minh Liên"),
    # Given names are left alone: their bare letters spell several names.
    ("HUỲNH DIEU MAI", "HUỲNH DIEU MAI"), ("Lê Văn", "Lê Văn"),
])
def test_family_names_get_their_diacritics_back(read: str, written: str) -> None:
    assert restore_name_marks(read) == written


def test_a_restored_name_keeps_the_reading_and_counts_as_doubted() -> None:
    """GIVEN a name read without diacritics WHEN extracted THEN the value has them back,
    the reading as OCR gave it is kept, and the written-back word counts as one OCR doubts
    (so a person checks it unless something else confirms it)."""
    page = _page([[(100, "Tôi tên là: NGUYEN VAN AN")]])
    field = next(f for f in extract_fields(_doctype("application_letter"), page_rows(page, 0))
                 if f.name == "applicant_name")
    assert field.value == "NGUYỄN VĂN AN"
    assert [r.value for r in field.readings] == ["NGUYEN VAN AN"]
    assert field._evidence["ocr_min"] == 0.0


@pytest.mark.parametrize(("raw", "value"), [
    # Prose keeps its full stop; a place's stray trailing dot (a leader's last) does not.
    ("Bên B được thay mặt Bên A thực hiện thủ tục cấp bản sao trích lục, nộp lệ phí.",
     "Bên B được thay mặt Bên A thực hiện thủ tục cấp bản sao trích lục, nộp lệ phí."),
    ("Bệnh viện Đa khoa tỉnh Đắk Lắk.", "Bệnh viện Đa khoa tỉnh Đắk Lắk"),
    # Leader dots read between two words of a value.
    ("Ủy ban nhân dân xã Hòa Hội, Huyện Châu... Thành", "Ủy ban nhân dân xã Hòa Hội, Huyện Châu Thành"),
    ("Đăng ký thường trú......", "Đăng ký thường trú"),
    # A table rule or a speck read at the end of a value.
    ("Kinh |", "Kinh"),
    ("Đăng ký biến động quyền sử dụng đất............~", "Đăng ký biến động quyền sử dụng đất"),
    ("01 (bộ)", "01 (bộ)"),
])
def test_text_values_trimmed(raw: str, value: str) -> None:
    assert parse_value("text", raw).value == value


@pytest.mark.parametrize(("raw", "iso"), [
    ("ngày12 tháng 3 năm 1990", "1990-03-12"), ("12 tháng 3 năm 1990", "1990-03-12"),
    ("Hà Nội, ngày 05 tháng 11 năm 2024", "2024-11-05"), ("05-11-24", "2024-11-05"),
    ("5 NOV 2024", "2024-11-05"),
])
def test_date_notations_of_forms(raw: str, iso: str) -> None:
    assert parse_value("date", raw).value == iso


def test_a_line_ending_in_a_colon_does_not_continue_a_value() -> None:
    """GIVEN a value whose line is filled out by a dotted leader, followed by a heading read
    as "1, ..." (the numbered item's dot read as a comma) that ends in a colon
    WHEN the value (up to two lines) is read THEN the heading is not part of it."""
    page = _page([
        _filler(7), _filler(7), _filler(7),
        [(100, "Nội dung yêu cầu giải quyết: Chứng thực bản sao từ bản chính" + "." * 20)],
        [(100, "1, Thành phần hồ sơ nộp gồm:")],
    ])
    assert _read(_doctype("receipt_appointment"), page)["procedure_name"] == \
        "Chứng thực bản sao từ bản chính"


def test_a_stray_mark_between_label_words_is_forgiven_but_a_comma_is_not(tmp_path: Path) -> None:
    """GIVEN a label read with a hyphen between two of its words, and a value whose words
    around a comma spell a label fuzzily ("Miện, Tỉnh" ~ "Diện tích")
    WHEN the fields are read THEN the label is found, and the value is not cut there."""
    page = _page([
        [(100, "Tên công ty-viết bằng tiếng Việt: CÔNG TY TNHH AN PHÁT")],
        [(100, "a) Thửa đất số: 125")],
        [(100, "b) Địa chỉ: Xã Tứ Cường, Huyện Thanh Miện, Tỉnh Hải Dương")],
        [(100, "c) Diện tích: 362,9 m2")],
    ])
    assert _read(_doctype("enterprise_registration"), page)["enterprise_name"] == \
        "CÔNG TY TNHH AN PHÁT"
    assert _read(_doctype("land_use_certificate"), page)["land_address"] == \
        "Xã Tứ Cường, Huyện Thanh Miện, Tỉnh Hải Dương"


def test_fields_after_a_label_ocr_missed_are_read_after_the_labels_before_it() -> None:
    """GIVEN a birth registration form whose "Quan hệ với người được khai sinh" line OCR did
    not read (the child's fields are defined ``after`` it)
    WHEN the fields are read THEN the child's fields are found below the declarant's, and
    the declarant's own name is not taken for the child's."""
    page = _page([
        [(100, "Họ, chữ đệm, tên người yêu cầu: Nguyễn Văn An")],
        [(100, "Giấy tờ tùy thân: Căn cước công dân số 079085001234")],
        [(100, "Ngày, tháng, năm sinh: 05/11/2024")],
        [(100, "Nơi sinh: Bệnh viện Từ Dũ, Thành phố Hồ Chí Minh")],
    ])
    values = _read(_doctype("birth_registration"), page)
    assert values["relationship"] is None
    assert values["child_date_of_birth"] == "2024-11-05"
    assert values["child_place_of_birth"] == "Bệnh viện Từ Dũ, Thành phố Hồ Chí Minh"
    assert values["declarant_name"] == "Nguyễn Văn An"
    assert values["child_name"] is None


@pytest.mark.parametrize(("read", "written"), [
    ("Ap 2, Xã Ba Giang, Huyện Ba Tơ, Tỉnh Quảng Ngãi",
     "Ấp 2, Xã Ba Giang, Huyện Ba Tơ, Tỉnh Quảng Ngãi"),
    ("Tổ dan phố 5, Xã Phong Thạnh, Tình Cà Mau", "Tổ dân phố 5, Xã Phong Thạnh, Tỉnh Cà Mau"),
    ("THANH PHO HA NOI", "THÀNH PHỐ HA NOI"),
    # Only the kind at the start of a part: a place's own name keeps its letters.
    ("Xóm Mới, Tỉnh Thanh Hóa", "Xóm Mới, Tỉnh Thanh Hóa"),
    ("Số 200 đường Ly Thường Kiệt", "Số 200 đường Ly Thường Kiệt"),
])
def test_address_unit_kinds_get_their_accents_back(read: str, written: str) -> None:
    assert restore_unit_kinds(read) == written


def test_an_office_named_by_its_place_gets_its_units_official_spelling() -> None:
    """GIVEN a registering office read as "Ủy ban nhân dân xã X, Huyện Y, Tỉnh Z" with
    accents lost in the unit names WHEN normalized as an address THEN each unit is spelt as
    officially named, the office's words before the ward kept as read."""
    assert normalize_address("Ủy ban nhân dân xã Phiéng Ban, Huyện Bắc Yên, Tinh Sơn La")[0] \
        == "Ủy ban nhân dân xã Phiêng Ban, Huyện Bắc Yên, Tỉnh Sơn La"
    assert normalize_address("Ủy ban nhân dân xã Vạn Linh, Tỉnh Lang Sơn")[0] == \
        "Ủy ban nhân dân xã Vạn Linh, Tỉnh Lạng Sơn"


def test_an_address_part_whose_comma_ocr_lost_is_split_off_its_unit() -> None:
    """GIVEN addresses read with a lost comma before a unit ("Ap 2 Xã Gia Phong"), a leader's
    dot before the last unit, and leader dots after a comma WHEN parsed and normalized THEN
    the parts are as printed."""
    assert normalize_address("Ap 2 Xã Gia Phong, Huyện Gia Viễn, Tỉnh Ninh Bình")[0] == \
        "Ấp 2, Xã Gia Phong, Huyện Gia Viễn, Tỉnh Ninh Bình"
    assert normalize_address("Phường 15, Quận Tân Bình, . Thành phố Hồ Chí Minh")[0] == \
        "Phường 15, Quận Tân Bình, Thành phố Hồ Chí Minh"
    assert parse_value("address", "Xã Mường Chanh, Huyện Mai Sơn, ..... Tỉnh Sơn La").value == \
        "Xã Mường Chanh, Huyện Mai Sơn, Tỉnh Sơn La"


def test_a_label_read_without_the_space_between_its_words_is_found() -> None:
    """GIVEN a power of attorney whose grantor's ID label OCR read as one word ("SốCCCD:")
    WHEN read THEN the grantor's ID is the number by it, and the grantee's ID stays the
    grantee's."""
    page = _page([
        [(100, "I. BÊN ỦY QUYỀN (Bên A):")],
        [(100, "Họ và tên: Lương Kim Hồng")],
        [(100, "SốCCCD: 034188363260")],
        [(100, "II. BÊN ĐƯỢC ỦY QUYỀN (Bên B):")],
        [(100, "Họ và tên: Trần Văn Bình")],
        [(100, "Số CCCD: 075167919533")],
    ])
    values = _read(_doctype("power_of_attorney"), page)
    assert values["grantor_id"] == "034188363260"
    assert values["grantee_id"] == "075167919533"


def test_a_birth_date_read_only_to_check_an_id_is_used_and_not_kept() -> None:
    """GIVEN a power of attorney printing each party's birth date above their ID: the
    grantor's ID says a woman born in 1988 and she was born in 1988; the grantee's ID says
    1967 and he was born in 1970
    WHEN read
    THEN the grantor's ID carries a passing check and no problem, the grantee's ID is held
    with the mismatch, and neither birth date is among the document's fields."""
    page = _page([
        [(100, "I. BÊN ỦY QUYỀN (Bên A):")],
        [(100, "Họ và tên: Lương Kim Hồng")],
        [(100, "Ngày sinh: 14/05/1988")],
        [(100, "Số CCCD: 034188363260")],
        [(100, "II. BÊN ĐƯỢC ỦY QUYỀN (Bên B):")],
        [(100, "Họ và tên: Trần Văn Bình")],
        [(100, "Ngày sinh: 02/09/1970")],
        [(100, "Số CCCD: 075067919533")],
    ])
    fields = {f.name: f for f in extract_fields(_doctype("power_of_attorney"),
                                                page_rows(page, 0))}
    assert "grantor_date_of_birth" not in fields and "grantee_date_of_birth" not in fields
    grantor, grantee = fields["grantor_id"], fields["grantee_id"]
    assert grantor.value == "034188363260" and not grantor.problems
    assert grantor._evidence.get("check_ok") == 1.0
    assert grantee.value == "075067919533" and grantee.problems
    assert grantee._evidence.get("check_bad") == 1.0


def test_a_parent_printed_twice_on_a_form_confirms_their_own_id() -> None:
    """GIVEN a birth registration whose declarant is the child's father: his name and ID
    printed in the declarant's block and again in the father's
    WHEN the dossier is reconciled
    THEN both readings of the ID and of the name confirm each other; the mother's ID, printed
    once, is not confirmed."""

    def f(name: str, value: str) -> ExtractedField:
        return ExtractedField(name=name, value=value)

    doc = ExtractedDocument(doctype="birth_registration", title="", pages=[0],
                            classification_confidence=1.0, fields=[
                                f("declarant_name", "Trần Văn Bình"),
                                f("declarant_id", "075067919533"),
                                f("mother_name", "Lương Kim Hồng"),
                                f("mother_id", "034188363260"),
                                f("father_name", "Trần Văn Bình"),
                                f("father_id", "075067919533")])
    reconcile([doc])
    got = {x.name: confirmed(x) for x in doc.fields}
    assert got == {"declarant_name": True, "declarant_id": True, "mother_name": False,
                   "mother_id": False, "father_name": True, "father_id": True}


def test_a_residence_read_alike_on_two_documents_confirms_itself() -> None:
    """GIVEN a dossier of a card front and an application letter of the same citizen ID, the
    residence read alike on both (spacing aside), and a residence confirmation of another
    citizen with the same residence
    WHEN the dossier is reconciled
    THEN the card's and the letter's residences confirm each other; the other citizen's does
    not count, and a residence read otherwise on a third document of the person is not
    doubted for it."""

    def doc(doctype: str, cid: str, field: str, value: str) -> ExtractedDocument:
        return ExtractedDocument(doctype=doctype, title="", pages=[0],
                                 classification_confidence=1.0,
                                 fields=[ExtractedField(name="citizen_id", value=cid),
                                         ExtractedField(name=field, value=value)])

    home = "Thôn Đông, Xã Tân Lập, Huyện Đan Phượng, Thành phố Hà Nội"
    card = doc("cccd_front", "001090012345", "place_of_residence", home)
    letter = doc("application_letter", "001090012345", "address", home.replace(", ", " ,"))
    other = doc("residence_confirmation", "001190054321", "permanent_residence", home)
    moved = doc("residence_confirmation", "001090012345", "permanent_residence",
                "Số 5 Phố Huế, Phường Hàng Bài, Quận Hoàn Kiếm, Thành phố Hà Nội")
    reconcile([card, letter, other, moved])
    assert confirmed(card.fields[1]) and confirmed(letter.fields[1])
    assert not confirmed(other.fields[1])
    assert not confirmed(moved.fields[1]) and not moved.fields[1]._evidence.get("doc_disagree")


def test_a_name_printed_again_under_the_signature_confirms_itself() -> None:
    """GIVEN a receipt naming its applicant by the label and again under the signatures
    (beside the official's name), and one whose signature line reads an accent otherwise
    WHEN read
    THEN the first applicant's name is confirmed by its second reading; the second's is not."""

    doctype = _doctype("receipt_appointment")

    def name_of(signature: str):
        page = _page([
            [(100, "Tiếp nhận hồ sơ của: Nguyễn Thị Hồng Nhung")],
            [(100, "Số điện thoại: 0912345678")],
            [(100, "NGƯỜI NỘP HỒ SƠ"), (800, "NGƯỜI TIẾP NHẬN")],
            [(100, signature), (800, "Trần Văn Bình")],
        ])
        rows = page_rows(page, 0)
        fields = extract_fields(doctype, rows)
        _names_printed_twice(doctype, fields, rows)
        return next(f for f in fields if f.name == "applicant_name")

    same = name_of("Nguyễn Thị Hồng Nhung")
    assert same.value == "Nguyễn Thị Hồng Nhung" and confirmed(same)
    other = name_of("Nguyễn Thị Hồng Nhưng")
    assert other.value == "Nguyễn Thị Hồng Nhung" and not confirmed(other)


def test_the_only_id_number_on_a_card_whose_label_was_lost_is_checked_and_weighed() -> None:
    """GIVEN a card front whose ID label OCR garbled ("$é/ wo.") but whose number, the only
    one on it, agrees with the birth date and sex printed on it
    WHEN read
    THEN the number is the card's ID, checked against both, for the scorer to weigh (not
    held as guesswork)."""

    page = _page([
        [(100, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")],
        [(100, "CĂN CƯỚC CÔNG DÂN")],
        [(100, "Citizen Identity Card")],
        [(100, "$é/ wo. 034188363260")],
        [(100, "Họ và tên / Full name:")],
        [(100, "LƯƠNG KIM HỒNG")],
        [(100, "Ngày sinh / Date of birth: 14/05/1988")],
        [(100, "Giới tính / Sex: Nữ"), (700, "Quốc tịch / Nationality: Việt Nam")],
    ])
    (doc,) = extract_documents([page], load_doctypes(), calibrate=False)
    assert doc.doctype == "cccd_front"
    f = doc.field("citizen_id")
    assert f is not None and f.value == "034188363260" and not f.problems
    assert f._evidence.get("lone_id") == 1.0 and not f._evidence.get("generic")
    assert f._evidence.get("check_ok") == 1.0


def test_a_brides_residence_on_a_marriage_form_agrees_with_her_card() -> None:
    """GIVEN a marriage registration whose bride's column gives her ID and residence, and her
    card front reading the residence alike
    WHEN the dossier is reconciled THEN each residence confirms the other."""

    home = "Xóm 3, Xã Nghi Phong, Huyện Nghi Lộc, Tỉnh Nghệ An"
    card = ExtractedDocument(doctype="cccd_front", title="", pages=[0], fields=[
        ExtractedField(name="citizen_id", value="040192001234"),
        ExtractedField(name="place_of_residence", value=home)])
    form = ExtractedDocument(doctype="marriage_registration", title="", pages=[1], fields=[
        ExtractedField(name="wife_id", value="040192001234"),
        ExtractedField(name="husband_id", value="040090005678"),
        ExtractedField(name="residence", value=home)])
    reconcile([card, form])
    assert confirmed(card.fields[1]) and confirmed(form.fields[2])
