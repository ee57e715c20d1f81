"""Cleanup + OCR of a page, exactly as the digitization flow runs it (a whole file, or many,
through the OCR pool: :mod:`ocr.files`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from models.batches import PageResult
from models.ocr import OcrOptions, PageOCR
from ocr import tesseract
from ocr.cleanup import CleanupResult, clean_page
from ocr.loading import LoadedPage
from ocr.order import reading_order
from ocr.textlayer import text_layer_page

__all__ = ["OcrOptions", "PageResult", "ocr_loaded_page"]

log = logging.getLogger(__name__)


def _orientation_fn(opts: OcrOptions) -> Callable[[np.ndarray], int]:
    def detect(gray: np.ndarray) -> int:
        found = tesseract.detect_orientation(gray, cmd=opts.tesseract_cmd, engine=opts.engine)
        # Low-confidence OSD flips upright pages of forms with little text: ignore it.
        return found.rotate if found.confidence >= 2.0 else 0

    return detect


def ocr_loaded_page(page: LoadedPage, opts: OcrOptions = OcrOptions(), *,
                    path: Path | None = None, index: int = 0) -> PageResult:
    """Cleanup and OCR one decoded page (or read a born-digital PDF page's text layer), and
    read the QR codes and barcodes it carries and the identity card its image shows."""
    from ocr.shapes import find_card

    result = _ocr_loaded_page(page, opts, path=path, index=index)
    assert result.ocr is not None  # read, or the page's error was raised
    t = time.perf_counter()
    result.ocr.card = find_card(page.image)
    result.timings["card"] = time.perf_counter() - t
    if opts.read_codes:
        from ocr.codes import read_codes

        t = time.perf_counter()
        result.ocr.codes = read_codes(page.image)
        result.timings["codes"] = time.perf_counter() - t
    return result


def _ocr_loaded_page(page: LoadedPage, opts: OcrOptions, *, path: Path | None,
                     index: int) -> PageResult:
    timings: dict[str, float] = {}
    if opts.use_text_layer and path is not None and page.pdf_page_points is not None:
        t = time.perf_counter()
        layer = text_layer_page(path, page.source_page, dpi=page.dpi or 300,
                                width=page.image.shape[1], height=page.image.shape[0])
        timings["text_layer"] = time.perf_counter() - t
        if layer is not None:
            layer.index = index
            return PageResult(ocr=layer, cleaned=None, timings=timings)
    if not opts.cleanup:
        import cv2

        gray = cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY)
        t = time.perf_counter()
        result = tesseract.recognize(gray, lang=opts.lang, cmd=opts.tesseract_cmd,
                                     timeout=opts.timeout, dpi=page.dpi or 300,
                                     engine=opts.engine, psm=opts.psm)
        timings["ocr"] = time.perf_counter() - t
        result.index = index
        return PageResult(ocr=result, cleaned=gray, timings=timings)

    # Most pages arrive upright, and OSD costs about a third of a page's OCR time: read the
    # page as it is first, and ask OSD only when the words read look like a turned page.
    # The image OSD would look at (cleanup's gray at its working resolution) is kept from
    # this first cleanup, so a page OSD finds upright is not cleaned a second time.
    seen: list[np.ndarray] = []

    def keep_upright(gray: np.ndarray) -> int:
        seen.append(gray)
        return 0

    t = time.perf_counter()
    cleaned = clean_page(page.image, dpi_hint=page.dpi, orientation=keep_upright)
    timings["cleanup"] = time.perf_counter() - t
    result = _recognize(cleaned, opts, timings)
    if opts.detect_orientation and looks_turned(result):
        t = time.perf_counter()
        rotate = _orientation_fn(opts)(seen[0]) if seen else 0
        turned = (clean_page(page.image, dpi_hint=page.dpi, orientation=lambda _g: rotate)
                  if rotate else cleaned)
        timings["orientation"] = time.perf_counter() - t
        if not turned.rotation and _upright_share(result) < 0.35:
            # OSD misses some upside-down pages under seals and noise, answering "upright"
            # with confidence; a page read this badly is worth one try the other way up.
            turned = clean_page(page.image, dpi_hint=page.dpi, orientation=lambda _g: 180)
            timings["orientation"] = time.perf_counter() - t
        if turned.rotation:
            again = _recognize(turned, opts, timings)
            if _upright_share(again) > _upright_share(result):
                cleaned, result = turned, again
    result.index = index
    result.rotation, result.skew_angle, result.scale = (cleaned.rotation, cleaned.skew_angle,
                                                       cleaned.scale)
    return PageResult(ocr=result, cleaned=cleaned.image, timings=timings)


def _recognize(cleaned: CleanupResult, opts: OcrOptions, timings: dict[str, float]) -> PageOCR:
    t = time.perf_counter()
    result = tesseract.recognize(cleaned.image, lang=opts.lang, cmd=opts.tesseract_cmd,
                                 timeout=opts.timeout, dpi=cleaned.dpi, engine=opts.engine,
                                 psm=opts.psm)
    result.lines = reading_order(result.lines)
    timings["ocr"] = timings.get("ocr", 0.0) + time.perf_counter() - t
    return result


def _upright_share(page: PageOCR) -> float:
    """Share of the words (2+ characters) read with confidence above 0.8."""
    words = [w for line in page.lines for w in line.words if len(w.text) >= 2]
    if not words:
        return 0.0
    return sum(w.confidence > 0.8 for w in words) / len(words)


def looks_turned(page: PageOCR) -> bool:
    """Upright pages, even poor phone shots, read 0.84+ of their words above 0.8 confidence
    on the samples; pages turned 180 degrees read 0.15-0.35. Tesseract reads some pages
    turned 90 degrees well, but their words' boxes stand upright (taller than wide), which
    breaks reading by rows. A page with almost no words is checked too."""
    words = [w for line in page.lines for w in line.words if len(w.text) >= 2]
    long = [w for w in words if len(w.text) >= 3]
    tall = sum((w.bbox[3] - w.bbox[1]) > (w.bbox[2] - w.bbox[0]) for w in long)
    return len(words) < 8 or _upright_share(page) < 0.6 or tall > 0.5 * len(long)
