"""The personal-data block read wherever it appears, on real OCR of rendered pages: a form no
definition matches, a form typed by a definition whose own labels it does not print, a
marriage form whose residence is followed by a phone number; and the box of a value."""

from __future__ import annotations

import random

import numpy as np
import pytest

from extraction import extract_documents, load_doctypes
from models.ocr import PageOCR
from ocr.loading import LoadedPage
from ocr.pipeline import OcrOptions, ocr_loaded_page
from sample_scans.generator.canvas import Canvas, render_raster
from sample_scans.generator.registry import new_ctx
from sample_scans.generator.sheet import Sheet

ADDRESS = ("Số 245 đường Lê Thánh Tông, Thị trấn Yên Định, Huyện Hải Hậu, Tỉnh Nam Định, "
           "Việt Nam")
NAME = "Nguyễn Văn Bình"


def _ocr(canvas: Canvas) -> PageOCR:
    img = np.asarray(render_raster(canvas).convert("RGB"))[:, :, ::-1].copy()
    return ocr_loaded_page(LoadedPage(img, 300, 0), OcrOptions(), index=0).ocr


def _inline(s: Sheet, items: list[tuple[str, str]]) -> None:
    """Labels and values on one line one space apart: "Họ và tên: X Ngày sinh: Y"."""
    with s.c.text_line():
        x = s.x0
        for label, value in items:
            x = s.c.text(x, s.y, f"{label} {value}", s.font()) + s.fs * 0.3
    s.y += s.lh


def _health_declaration() -> Canvas:
    s = Sheet(new_ctx(random.Random(5), "dejavu-serif"))
    s.national_header()
    s.title("TỜ KHAI Y TẾ")
    _inline(s, [("Họ và tên:", NAME), ("Ngày sinh:", "12/03/1990")])
    _inline(s, [("Số CCCD:", "036090012345"), ("Dân tộc:", "Kinh")])
    s.field("Nơi thường trú:", ADDRESS)
    s.field("Số điện thoại liên hệ:", "0912345678")
    s.para("Tôi cam kết những thông tin trên là đúng sự thật.")
    return s.c


def _petition() -> Canvas:
    """An "đơn đề nghị" (a type the project defines) printing the block under labels the
    definition does not list."""
    s = Sheet(new_ctx(random.Random(6), "dejavu-serif"))
    s.national_header()
    s.title("ĐƠN ĐỀ NGHỊ")
    s.field("Kính gửi:", "Ủy ban nhân dân xã Hải Minh")
    s.field("Họ, chữ đệm và tên:", NAME)
    s.field("Số định danh cá nhân:", "036090012345")
    s.field("Nơi thường trú:", "Xóm Mới, Xã Hải Minh, Huyện Hải Hậu, Tỉnh Nam Định")
    s.para("Nay tôi làm đơn này kính đề nghị Ủy ban xem xét, giải quyết cho tôi.")
    s.signature_block(s.x0 + 1450, ["Người làm đơn"], NAME, sign=False)
    return s.c


def _marriage() -> Canvas:
    s = Sheet(new_ctx(random.Random(7), "dejavu-serif"), size_pt=12.5)
    s.national_header()
    s.title("TỜ KHAI ĐĂNG KÝ KẾT HÔN")
    x0, x1 = s.x0, s.x1
    split = [x0, x0 + 520, x0 + 520 + (x1 - x0 - 520) / 2, x1]
    s.table(split, [["", "Bên nữ", "Bên nam"],
                    ["Họ, chữ đệm, tên", "Trần Thị Hoa", NAME],
                    ["Ngày, tháng, năm sinh", "05/06/1992", "12/03/1990"],
                    ["Nơi cư trú", "Số 12 ngõ 5 phố Huế, Phường Phố Huế, Quận Hai Bà Trưng, Hà Nội",
                     "Số 12 ngõ 5 phố Huế, Phường Phố Huế, Quận Hai Bà Trưng, Hà Nội"],
                    ["Số điện thoại liên hệ", "0912345678", "0987654321"],
                    ["Kết hôn lần thứ mấy", "Lần thứ nhất", "Lần thứ nhất"]])
    return s.c


@pytest.fixture(scope="module")
def read():
    """Each page rendered, read by the pipeline's OCR, and extracted, with its canvas."""
    out = {}
    types = load_doctypes()
    for name, canvas in (("health", _health_declaration()), ("petition", _petition()),
                         ("marriage", _marriage())):
        page = _ocr(canvas)
        out[name] = (canvas, page, extract_documents([page], types))
    return out


def test_a_form_without_a_definition_gives_each_value_up_to_the_next_label(read) -> None:
    """GIVEN a health declaration (no definition) with the name and birth date on one line a
    space apart, the ID beside the ethnicity, and a two-line residence over a phone line
    WHEN read THEN each identity value stops at the next label, on its line or the next."""
    _, _, docs = read["health"]
    assert [d.doctype for d in docs] == ["unknown"]
    values = docs[0].values()
    assert values["full_name"] == NAME
    assert values["date_of_birth"] == "1990-03-12"
    assert values["citizen_id"] == "036090012345"
    assert values["residence"].startswith("Số 245 đường Lê Thánh Tông")
    assert "Việt Nam" in values["residence"]
    assert "điện thoại" not in values["residence"] and "0912" not in values["residence"]


def test_a_known_type_missing_its_own_labels_takes_the_blocks(read) -> None:
    """GIVEN an application letter printing "Họ, chữ đệm và tên", "Số định danh cá nhân"
    and "Nơi thường trú", none of them its definition's labels WHEN read THEN its person's
    fields hold them, for review."""
    _, _, docs = read["petition"]
    assert [d.doctype for d in docs] == ["application_letter"]
    doc = docs[0]
    assert doc.field("applicant_name").value == NAME
    assert doc.field("citizen_id").value == "036090012345"
    assert doc.field("address").value == "Xóm Mới, Xã Hải Minh, Huyện Hải Hậu, Tỉnh Nam Định"
    assert doc.field("address").status.value == "review"


def test_a_marriage_residence_ends_before_the_phone_row(read) -> None:
    """GIVEN a marriage form whose residence (no province kind to end it) wraps in its cell
    and is followed by a "Số điện thoại liên hệ" row WHEN read THEN the residence is both of
    its lines and not the phone number."""
    _, _, docs = read["marriage"]
    residence = docs[0].field("residence").value
    assert residence is not None and "Hai Bà Trưng" in residence
    assert "0912345678" not in residence and "điện thoại" not in residence.lower()


def _boxes(canvas: Canvas, texts: list[str]) -> list[tuple[float, float, float, float]]:
    return [w.bbox for w in canvas.words() if w.text in texts]


SLACK = 6  # pixels between a word's drawn box and Tesseract's


def _inside(word, box) -> bool:
    return box[0] - SLACK <= word[0] and word[2] <= box[2] + SLACK \
        and box[1] - SLACK <= word[1] and word[3] <= box[3] + SLACK


def _apart(word, box) -> bool:
    return word[2] <= box[0] + SLACK or word[0] >= box[2] - SLACK \
        or word[3] <= box[1] + SLACK or word[1] >= box[3] - SLACK


def test_the_box_of_a_value_holds_none_of_its_labels_words(read) -> None:
    """GIVEN "Họ và tên: Nguyễn Văn Bình", the label's last word read with the colon
    WHEN read THEN the name's box holds the name's words and not "tên:"."""
    canvas, _, docs = read["health"]
    box = docs[0].field("full_name").bbox
    assert box is not None
    for w in _boxes(canvas, ["Nguyễn", "Văn", "Bình"])[:3]:
        assert _inside(w, box)
    for w in _boxes(canvas, ["Họ", "và", "tên:"])[:3]:
        assert _apart(w, box)


def test_the_box_of_a_value_over_several_lines_covers_them_all(read) -> None:
    """GIVEN a residence over two lines under its label, and one over three lines of a table
    cell WHEN read THEN each box covers the first word of the first line and the last of the
    last line; the table cell's box holds none of the label's words."""
    canvas, _, docs = read["health"]
    box = docs[0].field("residence").bbox
    first, last = _boxes(canvas, ["245"])[0], _boxes(canvas, ["Nam"])[-1]  # "Việt Nam"
    assert last[1] > first[3], "the address does not wrap: the test shows nothing"
    assert box is not None and _inside(first, box) and _inside(last, box)
    assert box[3] <= _boxes(canvas, ["0912345678"])[0][1] + SLACK  # not the phone's line

    canvas, _, docs = read["marriage"]
    box = docs[0].field("residence").bbox
    first, last = _boxes(canvas, ["Số"])[0], _boxes(canvas, ["Nội"])[0]
    assert last[1] > first[3] + 50
    assert box is not None and _inside(first, box) and _inside(last, box)
    for w in _boxes(canvas, ["Nơi", "cư", "trú"])[:3]:
        assert _apart(w, box)
