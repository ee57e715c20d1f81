"""Layout rules of field reading, on hand-placed words (no OCR): a card's two columns, a
bilingual label split over two lines, a label's words inside a title, a table's columns."""

from __future__ import annotations

from extraction.doctypes import load_doctypes
from extraction.fields import extract_fields
from extraction.layout import page_rows
from models.ocr import Line, PageOCR, Word
from tests.pages import placed_page


def _page(rows: list[list[tuple[int, str]]], step: int = 40) -> PageOCR:
    return placed_page(rows, step=step, width=1200, space=10)


def _doctype(name: str):
    return next(d for d in load_doctypes() if d.id == name)


def test_card_front_columns_beside_the_photo() -> None:
    """GIVEN a chip card front: residence label and value in the right column, the expiry
    label on two lines and its date in the photo column, on the same rows
    WHEN the fields are read
    THEN each value is taken from its own column."""
    page = _page([
        [(500, "Nơi cư trú / Place of residence:")],
        [(100, "Có giá trị đến /")],
        [(500, "Khu phố 3, Xã Phước Chánh, Huyện Phước Sơn, Tỉnh")],
        [(100, "Date of expiry:")],
        [(500, "Quảng Nam")],
        [(100, "27/05/2035")],
    ], step=20)
    fields = {f.name: f.value for f in extract_fields(_doctype("cccd_front"),
                                                       page_rows(page, 0))}
    assert fields["place_of_residence"] == ("Khu phố 3, Xã Phước Chánh, Huyện Phước Sơn, "
                                            "Tỉnh Quảng Nam")
    assert fields["expiry_date"] == "2035-05-27"


def test_label_words_in_a_title_do_not_hide_the_label() -> None:
    """GIVEN a receipt whose title contains "hẹn trả kết quả" and whose appointment line
    comes later WHEN read THEN the appointment date is the one on the labelled line."""
    page = _page([
        [(300, "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ")],
        [(100, "Mã hồ sơ: 000.12.34.H56-240101-0042")],
        [(100, "1. Thành phần hồ sơ nộp gồm:")],
        [(100, "5. Thời gian trả kết quả giải quyết hồ sơ: 09 giờ 00 phút, ngày 14/04/2025")],
    ], step=60)
    fields = {f.name: f.value for f in extract_fields(_doctype("receipt_appointment"),
                                                       page_rows(page, 0))}
    assert fields["appointment_date"] == "2025-04-14"
    assert fields["dossier_code"] == "000.12.34.H56-240101-0042"


def test_table_columns_keep_their_own_wrapped_lines() -> None:
    """GIVEN a marriage form's table: the ID label in column 1, each person's ID under
    "Căn cước công dân số" in columns 2 and 3 WHEN read THEN each side gets its own ID."""
    page = _page([
        [(100, "Giấy tờ tùy thân"), (450, "Căn cước công dân số"),
         (850, "Căn cước công dân số")],
        [(450, "064304761044"), (850, "066202697320")],
    ])
    fields = {f.name: f.value for f in extract_fields(_doctype("marriage_registration"),
                                                       page_rows(page, 0))}
    assert fields["wife_id"] == "064304761044"
    assert fields["husband_id"] == "066202697320"


def test_a_speck_does_not_split_the_tilted_line_it_sits_on() -> None:
    """GIVEN a line tilted on a skewed scan (its right end 16 px higher than its left) and a
    leader's dot, 3 px high, level with its left end
    WHEN the page is grouped into rows
    THEN the line's words make one row, in reading order."""
    words = [Word(text=t, bbox=(x, 1343 - d, x + 80, 1391 - d), confidence=0.95)
             for t, x, d in (("Nội", 495, 0), ("dung", 590, 0), ("yêu", 711, 2),
                             ("cầu", 808, 6), ("Đăng", 1168, 8), ("ký", 1322, 10),
                             ("thành", 1397, 14), ("lập", 1568, 12), ("tư", 2043, 16))]
    speck = Word(text=".", bbox=(2130, 1365, 2133, 1368), confidence=0.3)
    page = PageOCR(width=2480, height=3508, lines=[Line(words=[speck, *words])])
    rows = [r for r in page_rows(page, 0) if len(r.words) > 1]
    assert len(rows) == 1
    assert rows[0].text.startswith("Nội dung yêu cầu Đăng ký thành lập tư")
