"""A page's type is said only when its content fits it: a form of a kind the project has no
definition for, whose personal-data block prints a few of a card's keywords, is unknown (and
read for its identity fields), while a card side read poorly keeps its type."""

from __future__ import annotations

import random

import numpy as np
import pytest

from extraction import extract_documents, load_doctypes
from extraction.classify import UNKNOWN, classify_page
from models.ocr import Line, PageOCR, Word
from ocr.loading import LoadedPage
from ocr.pipeline import OcrOptions, ocr_loaded_page
from sample_scans.generator.canvas import render_raster
from sample_scans.generator.registry import new_ctx
from sample_scans.generator.sheet import Sheet

NAME = "Phạm Thị Thu Hà"


def _school_enrolment() -> PageOCR:
    """A school's enrolment form (no definition): national header, title, and the block
    with "Số căn cước công dân", "Quê quán", "Nơi thường trú" as a card prints them."""
    s = Sheet(new_ctx(random.Random(11), "dejavu-serif"))
    s.national_header()
    s.title("ĐƠN XIN NHẬP HỌC")
    s.field("Kính gửi:", "Ban Giám hiệu Trường Trung học phổ thông Nguyễn Du")
    s.field("Họ và tên:", NAME)
    s.field("Giới tính:", "Nữ")
    s.field("Ngày sinh:", "14/09/2008")
    s.field("Số căn cước công dân:", "036308012345")
    s.field("Quê quán:", "Xã Hải Minh, Huyện Hải Hậu, Tỉnh Nam Định")
    s.field("Nơi thường trú:", "Số 12 đường Trần Hưng Đạo, Phường Bà Triệu, Thành phố Nam Định")
    s.field("Họ tên cha (mẹ) hoặc người giám hộ:", "Phạm Văn Toàn")
    s.field("Xin nhập học vào lớp:", "10A1")
    s.para("Em xin hứa chấp hành nghiêm chỉnh nội quy của nhà trường.", first_indent=60)
    s.para("Em xin hứa học tập chăm chỉ, rèn luyện đạo đức và tham gia đầy đủ các hoạt động "
           "của nhà trường, của Đoàn Thanh niên và của lớp.", first_indent=60)
    s.signature_block(s.x0 + 1450, ["Người làm đơn"], NAME, sign=False)
    img = np.asarray(render_raster(s.c).convert("RGB"))[:, :, ::-1].copy()
    return ocr_loaded_page(LoadedPage(img, 300, 0), OcrOptions(), index=0).ocr


@pytest.fixture(scope="module")
def enrolment() -> PageOCR:
    return _school_enrolment()


def test_a_form_of_an_unknown_kind_is_unknown_though_it_prints_a_cards_keywords(
        enrolment: PageOCR) -> None:
    """GIVEN a school enrolment form whose block prints "Số căn cước công dân", "Quê quán"
    and "Nơi thường trú" (enough of the card front's keywords to reach its minimum score)
    WHEN its page is classified and extracted
    THEN it is unknown, not a card front, and its person is read by the generic identity
         fields"""
    types = load_doctypes()
    front = next(d for d in types if d.id == "cccd_front")
    alone = classify_page(enrolment, [front])
    assert alone.doctype == UNKNOWN
    assert len(enrolment.words) > 130  # a form's length, more than a card side carries
    assert classify_page(enrolment, types).doctype == UNKNOWN
    docs = extract_documents([enrolment], types)
    assert [d.doctype for d in docs] == [UNKNOWN]
    assert docs[0].values()["full_name"] == NAME


def _page(lines: list[str], *, width: int = 2480, height: int = 3508) -> PageOCR:
    out = []
    for i, text in enumerate(lines):
        out.append(Line(words=[Word(text=t, bbox=(10 + 60 * j, 10 + 40 * i, 60 + 60 * j,
                                                  40 + 40 * i), confidence=0.9)
                               for j, t in enumerate(text.split())]))
    return PageOCR(index=0, width=width, height=height, lines=out)


def test_a_card_front_read_poorly_keeps_its_type() -> None:
    """GIVEN a card front's OCR that lost its labels but kept "CĂN CƯỚC CÔNG DÂN" (a weak
    score: a few of the type's keywords) and a card's few words
    WHEN classified THEN it is a card front"""
    page = _page(["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "CĂN CƯỚC CÔNG DÂN",
                  "Sổ 036090012345", "Hq va tn NGUYỄN VĂN BÌNH", "Ngay sjnh 12/03/1990"],
                 width=1000, height=640)
    c = classify_page(page, load_doctypes())
    assert c.doctype == "cccd_front" and c.confidence < 0.5


FILLER = ["Nay tôi làm đơn này kính đề nghị cơ quan xem xét và giải quyết cho gia đình tôi"] * 12


def test_a_weakly_scored_form_type_needs_its_labels() -> None:
    """GIVEN a page that names a receipt's keywords in its sentences ("hẹn trả kết quả",
    "mã hồ sơ": a weak score, above the type's minimum) with one of its labels, and the same
    page printing most of the receipt's labels
    WHEN classified THEN the first is unknown and the second a receipt"""
    types = load_doctypes()
    said = ["Ông bà được hẹn trả kết quả sau mười ngày làm việc",
            "Mã hồ sơ được gửi qua tin nhắn", *FILLER]
    weak = classify_page(_page(said), types)
    assert weak.doctype == UNKNOWN
    labelled = [*said, "Họ tên người nộp: Lê Văn Tám", "Số CCCD: 036090012345",
                "Số điện thoại: 0912345678", "Tên thủ tục: Đăng ký thường trú",
                "Ngày nhận hồ sơ: 02/12/2026"]
    fitting = classify_page(_page(labelled), types)
    assert fitting.doctype == "receipt_appointment" and fitting.confidence < 0.5
