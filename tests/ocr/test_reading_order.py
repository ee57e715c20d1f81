"""Reading order of a page's lines: Tesseract's blocks put back in the order a reader takes."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from models.ocr import Line, Word
from ocr.loading import LoadedPage
from ocr.order import reading_order
from ocr.pipeline import OcrOptions, ocr_loaded_page
from tests.pages import FONT


def _line(text: str, x: int, y: int, block: int) -> Line:
    return Line(words=[Word(text=text, bbox=(x, y, x + 20 * len(text), y + 30),
                            confidence=0.9)], block=block)


def test_a_block_below_another_is_read_after_it():
    """GIVEN Tesseract's blocks with an expiry block (bottom left) read first
    WHEN the lines are put in reading order
    THEN the blocks above it come first, and lines are kept whole."""
    lines = [_line("Có giá trị đến", 100, 800, 1), _line("13/12/2042", 100, 840, 1),
             _line("CĂN CƯỚC CÔNG DÂN", 500, 100, 2), _line("Họ và tên", 500, 300, 3),
             _line("BÙI THỊ QUỲNH", 500, 340, 3)]
    ordered = [ln.text for ln in reading_order(lines)]
    assert ordered == ["CĂN CƯỚC CÔNG DÂN", "Họ và tên", "BÙI THỊ QUỲNH", "Có giá trị đến",
                       "13/12/2042"]


def test_side_by_side_blocks_sharing_rows_are_read_row_by_row_and_columns_are_not():
    """GIVEN a header of two blocks side by side whose lines share rows, and below it two
    columns whose lines do not line up
    WHEN the lines are put in reading order
    THEN the header is read row by row, each column whole."""
    header = [_line("ỦY BAN NHÂN DÂN", 100, 100, 1), _line("XÃ TRÀ TÂN", 100, 140, 1),
              _line("CỘNG HÒA XÃ HỘI", 900, 102, 2), _line("Độc lập", 900, 142, 2)]
    columns = [_line("left one", 100, 300, 3), _line("left two", 100, 345, 3),
               _line("right one", 900, 322, 4), _line("right two", 900, 367, 4)]
    ordered = [ln.text for ln in reading_order(header + columns)]
    assert ordered == ["ỦY BAN NHÂN DÂN", "CỘNG HÒA XÃ HỘI", "XÃ TRÀ TÂN", "Độc lập",
                       "left one", "left two", "right one", "right two"]


def test_sideways_lines_keep_tesseracts_order():
    lines = [Line(words=[Word(text=t, bbox=(x, 100, x + 30, 900), confidence=0.9)], block=b)
             for t, x, b in [("first", 900, 1), ("second", 100, 2), ("third", 500, 3)]]
    assert [ln.text for ln in reading_order(lines)] == ["first", "second", "third"]


def test_a_two_column_header_is_read_row_by_row_through_tesseract():
    """GIVEN a rendered administrative letter head (agency left, national motto right) over
    a body of text, which Tesseract reads as the agency, the body, then the motto
    WHEN the page goes through the pipeline (cleanup, real Tesseract)
    THEN its text reads the head row by row, then the body."""
    img = Image.new("RGB", (2480, 1200), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 40)
    bold = ImageFont.truetype(FONT.replace("Serif.ttf", "Serif-Bold.ttf"), 40)
    draw.text((200, 150), "ỦY BAN NHÂN DÂN", font=font, fill="black")
    draw.text((260, 210), "XÃ TRÀ TÂN", font=bold, fill="black")
    draw.text((230, 270), "BỘ PHẬN MỘT CỬA", font=bold, fill="black")
    draw.text((1250, 150), "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", font=bold, fill="black")
    draw.text((1400, 210), "Độc lập - Tự do - Hạnh phúc", font=bold, fill="black")
    for i, line in enumerate(["Tiếp nhận hồ sơ của: Trần Hoàng Thông",
                              "Số điện thoại: 0944026592",
                              "Nội dung yêu cầu giải quyết: Đăng ký kết hôn"]):
        draw.text((200, 500 + 90 * i), line, font=font, fill="black")
    page = LoadedPage(image=np.asarray(img)[:, :, ::-1].copy(), dpi=300, source_page=0)
    text = ocr_loaded_page(page, OcrOptions(read_codes=False)).ocr.text
    spots = [text.find(s) for s in ("ỦY BAN", "CỘNG HÒA", "XÃ TRÀ TÂN", "Độc lập",
                                    "Tiếp nhận", "Số điện thoại", "Nội dung")]
    assert -1 not in spots, text
    assert spots == sorted(spots), text
