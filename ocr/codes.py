"""QR codes and barcodes on a page, read exactly with zxing-cpp.

The chip-based ID card's QR code, a receipt's dossier-code barcode and separator sheets are
data the document carries in machine-readable form: read them before anything is guessed.
"""

from __future__ import annotations

import logging

import numpy as np

from models.ocr import MachineCode

__all__ = ["read_codes"]

log = logging.getLogger(__name__)

# Small codes (an ID card's QR at 2-3 pixels a module) read better a little enlarged.
_SMALL_PAGE = 1400


def _decode(gray: np.ndarray) -> tuple[list[MachineCode], bool]:
    """The codes read, and whether a code was located that could not be read (its check
    failed: too few pixels a module, as on a card copied onto a page scanned at low
    resolution)."""
    import zxingcpp

    found = []
    located = False
    formats = zxingcpp.BarcodeFormat
    # A QR code's or a Data Matrix's finder patterns are found at any angle; a barcode's bars
    # are scanned along rows, so only it is looked for on the page turned a quarter too
    # (turning the page for every format costs more than the rest of this step).
    square = zxingcpp.BarcodeFormats([formats.QRCode, formats.DataMatrix])
    bars = zxingcpp.BarcodeFormats([formats.Code128])
    results = [*zxingcpp.read_barcodes(gray, formats=square, try_rotate=False,
                                       try_downscale=True, return_errors=True),
               *zxingcpp.read_barcodes(gray, formats=bars, try_rotate=True,
                                       try_downscale=True, return_errors=True)]
    for r in results:
        if not r.valid or not r.text:
            located = located or not r.valid
            continue
        p = r.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
        ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
        fmt = str(r.format).split(".")[-1].replace(" ", "")  # "QR Code" -> "QRCode"
        found.append(MachineCode(format=fmt, text=r.text,
                                 bbox=(min(xs), min(ys), max(xs), max(ys))))
    return found, located


def read_codes(image: np.ndarray) -> list[MachineCode]:
    """Every QR code, Code 128 barcode and Data Matrix on a page image (BGR or grey)."""
    import cv2

    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    codes, located = _decode(gray)
    # Enlarged, a code's modules are sampled finely enough to read: tried on a small page
    # where nothing was read, and on a page of any size where a code was located but not
    # read (enlarging every page of A4 would cost more than reading it).
    if located or (not codes and max(gray.shape) < _SMALL_PAGE):
        big = cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        codes += [c.model_copy(update={"bbox": tuple(v // 2 for v in c.bbox)}) if c.bbox
                  else c for c in _decode(big)[0]]
    seen: set[tuple[str, str]] = set()
    out = []
    for c in codes:
        if (c.format, c.text) not in seen:
            seen.add((c.format, c.text))
            out.append(c)
    return out
