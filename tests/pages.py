"""Pages rendered on the fly for unit tests: known text, known geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from models.ocr import Line, PageOCR, Word

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"

BIRTH_FORM = [
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
    "TỜ KHAI ĐĂNG KÝ KHAI SINH",
    "Kính gửi: Ủy ban nhân dân phường Bến Nghé",
    "Họ, chữ đệm, tên người yêu cầu: Nguyễn Văn An",
    "Nơi cư trú: 12 Lê Lợi, phường Bến Nghé, Quận 1, TP Hồ Chí Minh",
    "Giấy tờ tùy thân: CCCD số 079085001234",
    "Quan hệ với người được khai sinh: Cha",
    "Đề nghị cơ quan đăng ký khai sinh cho người dưới đây:",
    "Họ, chữ đệm, tên: Nguyễn Thị Bình",
    "Ngày, tháng, năm sinh: 05/11/2024",
    "Giới tính: Nữ      Dân tộc: Kinh      Quốc tịch: Việt Nam",
    "Nơi sinh: Bệnh viện Từ Dũ, Quận 1, TP Hồ Chí Minh",
    "Họ, chữ đệm, tên người mẹ: Trần Thị Cúc",
    "Năm sinh: 1990      Dân tộc: Kinh",
    "Giấy tờ tùy thân: 079190004321",
    "Họ, chữ đệm, tên người cha: Nguyễn Văn An",
    "Giấy tờ tùy thân: 079085001234",
    "Làm tại: Quận 1, ngày 10 tháng 11 năm 2024",
]


def render(lines: list[str], *, size=(2480, 3508), font_px=44, top=200, gap=100) -> np.ndarray:
    """A white A4 page at 300 dpi with ``lines`` in black, as a BGR array."""
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, font_px)
    y = top
    for line in lines:
        draw.text((180, y), line, font=font, fill="black")
        y += gap
    return np.asarray(img)[:, :, ::-1].copy()


def save(arr: np.ndarray, path: Path, dpi: int = 300) -> Path:
    Image.fromarray(arr[:, :, ::-1].copy()).save(path, dpi=(dpi, dpi))
    return path


def placed_page(rows: list[list[tuple[int, str]]], *, y0: int = 100, step: int = 50,
                width: int = 1400, char_w: int = 14, space: int = 14) -> PageOCR:
    """OCR of hand-placed words: each row's ``(x, text)`` items, rows ``step`` pixels apart,
    words ``char_w`` pixels per character and ``space`` pixels apart, each 30 px high."""
    lines = []
    for r, items in enumerate(rows):
        y = y0 + r * step
        words = []
        for x, text in items:
            left = x
            for part in text.split():
                words.append(Word(text=part, bbox=(left, y, left + len(part) * char_w, y + 30),
                                  confidence=0.95))
                left += len(part) * char_w + space
        lines.append(Line(words=words))
    return PageOCR(width=width, height=y0 + len(rows) * step + 100, lines=lines)
