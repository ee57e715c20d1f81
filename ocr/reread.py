"""A value's printed lines read again on their own: a second, independent reading.

The first reading of a page sees it whole: Tesseract finds its blocks and lines, and a slip
there (a line cut in two, a smudge taken for an accent) is made with the whole page's
context. Each line of a value cropped out alone, enlarged by half and read as one line,
goes through other segmentation and other pixels; on the dev pages such a second reading
mostly says the same for a right value and mostly differs for a misread one, so agreement is
evidence (``extraction.reread``). About 0.03 s of CPU a line (36 lines of 8 test-split
pages, the JPEG decoded each time).
"""

from __future__ import annotations

import cv2
import numpy as np

from models.ocr import BBox, OcrOptions
from ocr import tesseract

__all__ = ["read_lines", "SCALE"]

# Enlarged by half: at the page's own scale the line is read much as it was the first time.
SCALE = 1.5


def read_lines(image: bytes | np.ndarray, boxes: list[BBox], dpi: int = 300,
               opts: OcrOptions = OcrOptions()) -> list[str]:
    """The text of each box of ``image`` (a cleaned page: 8-bit grayscale, or its encoded
    bytes), read alone as one line; "" for a box outside the page or where nothing is read."""
    gray = _gray(image)
    h_img, w_img = gray.shape[:2]
    out: list[str] = []
    for x0, y0, x1, y1 in boxes:
        h = max(1, y1 - y0)
        # A margin of a quarter line above and below, half a line at the ends: the ascents,
        # accents and descents of the line, not the next line's.
        top, bottom = max(0, y0 - h // 4), min(h_img, y1 + h // 4)
        left, right = max(0, x0 - h // 2), min(w_img, x1 + h // 2)
        if bottom - top < 4 or right - left < 4:
            out.append("")
            continue
        crop = cv2.resize(gray[top:bottom, left:right], None, fx=SCALE, fy=SCALE,
                          interpolation=cv2.INTER_CUBIC)
        page = tesseract.recognize(crop, lang=opts.lang, psm=7, dpi=int(dpi * SCALE),
                                   cmd=opts.tesseract_cmd, timeout=opts.timeout,
                                   engine=opts.engine)
        out.append(" ".join(w.text for line in page.lines for w in line.words))
    return out


def _gray(image: bytes | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    arr = cv2.imdecode(np.frombuffer(image, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if arr is None:
        raise ValueError("the stored page image could not be decoded")
    return arr
