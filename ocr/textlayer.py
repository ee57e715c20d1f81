"""Text layer of born-digital PDF pages (pdfplumber): exact text, no OCR needed."""

from __future__ import annotations

import logging
from pathlib import Path

from models.ocr import Line, PageOCR, Word

__all__ = ["text_layer_page"]

log = logging.getLogger(__name__)

# A page with fewer real characters than this is treated as a scan (e.g. an OCRed PDF with
# an invisible junk layer is still better re-read).
MIN_CHARS = 40


def _char_count(path: Path, index: int) -> int:
    """Characters on the page by pdfium (fast, page by page); a large number when it cannot
    tell, so that pdfplumber decides."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError:
        return MIN_CHARS
    try:
        page = doc[index]
        text = page.get_textpage()
        n = text.count_chars()
        text.close()
        page.close()
        return n
    except (pdfium.PdfiumError, IndexError):
        return MIN_CHARS
    finally:
        doc.close()


def text_layer_page(path: Path, index: int, *, dpi: int, width: int,
                    height: int) -> PageOCR | None:
    """Words of page ``index`` in pixel coordinates at ``dpi``, or None if it has no text."""
    if _char_count(path, index) < MIN_CHARS:
        return None  # a scan: no need to parse the page with pdfminer
    import pdfplumber
    from pdfminer.pdfparser import PDFSyntaxError

    try:
        # Only this page: pdfplumber otherwise builds every page of the file first, which
        # made each page of a long PDF cost as much as the whole file.
        with pdfplumber.open(str(path), pages=[index + 1]) as pdf:
            page = pdf.pages[0]
            if len(page.chars) < MIN_CHARS:
                return None
            words = page.extract_words(keep_blank_chars=False, use_text_flow=True,
                                       extra_attrs=["size"])
    except (PDFSyntaxError, IndexError, ValueError, KeyError) as e:
        log.debug("no usable text layer in %s page %d: %s", path, index, e)
        return None
    if sum(len(w["text"]) for w in words) < MIN_CHARS:
        return None
    k = dpi / 72.0
    lines: list[list[Word]] = []
    last_top: float | None = None
    for w in sorted(words, key=lambda w: (round(w["top"] / 3), w["x0"])):
        word = Word(text=w["text"], confidence=1.0,
                    bbox=(int(w["x0"] * k), int(w["top"] * k), int(w["x1"] * k),
                          int(w["bottom"] * k)))
        if last_top is None or abs(w["top"] - last_top) > max(2.0, w.get("size", 10) * 0.5):
            lines.append([word])
            last_top = w["top"]
        else:
            lines[-1].append(word)
    return PageOCR(width=width, height=height, dpi=dpi, source="text-layer",
                   lines=[Line(words=sorted(ws, key=lambda x: x.bbox[0])) for ws in lines])
