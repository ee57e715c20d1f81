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


def text_layer_page(path: Path, index: int, *, dpi: int, width: int,
                    height: int) -> PageOCR | None:
    """Words of page ``index`` in pixel coordinates at ``dpi``, or None if it has no text."""
    import pdfplumber
    from pdfminer.pdfparser import PDFSyntaxError

    try:
        with pdfplumber.open(str(path)) as pdf:
            page = pdf.pages[index]
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
