"""Born-digital PDF pages are read from their text layer, scanned ones are left to OCR."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from fpdf import FPDF
from PIL import Image

from ocr.searchable import FONT_CANDIDATES
from ocr.textlayer import text_layer_page

FONT = next(p for p in FONT_CANDIDATES if p.is_file())


def _pdf(path: Path, pages: list[str | None]) -> Path:
    """A PDF whose pages carry the given text, or (None) only an image, like a scan."""
    pdf = FPDF(unit="pt", format="A4")
    pdf.add_font("text", "", str(FONT))
    scan = io.BytesIO()
    Image.fromarray(np.full((400, 300), 200, np.uint8)).save(scan, format="PNG")
    for text in pages:
        pdf.add_page()
        if text is None:
            pdf.image(scan, x=0, y=0, w=595, h=842)
            continue
        pdf.set_font("text", size=12)
        for i in range(6):
            pdf.text(72, 100 + 20 * i, f"{text} dòng {i + 1}: Nguyễn Văn An, sinh ngày 01/02/1990")
    pdf.output(str(path))
    return path


def test_each_page_gets_its_own_words(tmp_path):
    p = _pdf(tmp_path / "three.pdf", ["Trang một", "Trang hai", "Trang ba"])
    page = text_layer_page(p, 2, dpi=300, width=2480, height=3508)
    assert page is not None and page.source == "text-layer"
    assert "Trang ba dòng 1" in page.text and "Trang một" not in page.text
    first = page.lines[0].words[0]
    # 72 pt from the left edge is 300 px at 300 dpi.
    assert abs(first.bbox[0] - 300) <= 3


def test_a_scanned_page_between_text_pages_is_left_to_ocr(tmp_path):
    p = _pdf(tmp_path / "mixed.pdf", ["Trang một", None, "Trang ba"])
    assert text_layer_page(p, 1, dpi=300, width=2480, height=3508) is None
    assert text_layer_page(p, 0, dpi=300, width=2480, height=3508) is not None
