"""Cleanup + OCR of a page or a file, exactly as the digitization flow runs it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.ocr import OcrDocument, PageOCR
from ocr import tesseract
from ocr.cleanup import clean_page
from ocr.loading import Limits, LoadedPage, count_pages, load_page
from ocr.textlayer import text_layer_page

__all__ = ["OcrOptions", "PageResult", "ocr_loaded_page", "ocr_file"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OcrOptions:
    lang: str = "vie+eng"
    tesseract_cmd: str = "tesseract"
    timeout: float = 180.0
    detect_orientation: bool = True
    use_text_layer: bool = True
    cleanup: bool = True


@dataclass
class PageResult:
    ocr: PageOCR
    cleaned: np.ndarray | None
    timings: dict[str, float] = field(default_factory=dict)


def _orientation_fn(opts: OcrOptions) -> Callable[[np.ndarray], int]:
    def detect(gray: np.ndarray) -> int:
        found = tesseract.detect_orientation(gray, cmd=opts.tesseract_cmd)
        # Low-confidence OSD flips upright pages of forms with little text: ignore it.
        return found.rotate if found.confidence >= 2.0 else 0

    return detect


def ocr_loaded_page(page: LoadedPage, opts: OcrOptions = OcrOptions(), *,
                    path: Path | None = None, index: int = 0) -> PageResult:
    """Cleanup and OCR one decoded page (or read a born-digital PDF page's text layer)."""
    timings: dict[str, float] = {}
    if opts.use_text_layer and path is not None and page.pdf_page_points is not None:
        t = time.perf_counter()
        layer = text_layer_page(path, page.source_page, dpi=page.dpi or 300,
                                width=page.image.shape[1], height=page.image.shape[0])
        timings["text_layer"] = time.perf_counter() - t
        if layer is not None:
            layer.index = index
            return PageResult(ocr=layer, cleaned=None, timings=timings)
    t = time.perf_counter()
    if opts.cleanup:
        cleaned = clean_page(page.image, dpi_hint=page.dpi,
                             orientation=_orientation_fn(opts) if opts.detect_orientation else None)
        image, extra = cleaned.image, cleaned
    else:
        import cv2

        image, extra = cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY), None
    timings["cleanup"] = time.perf_counter() - t
    t = time.perf_counter()
    result = tesseract.recognize(image, lang=opts.lang, cmd=opts.tesseract_cmd,
                                 timeout=opts.timeout,
                                 dpi=extra.dpi if extra else (page.dpi or 300))
    timings["ocr"] = time.perf_counter() - t
    result.index = index
    if extra is not None:
        result.rotation, result.skew_angle, result.scale = (extra.rotation, extra.skew_angle,
                                                           extra.scale)
    return PageResult(ocr=result, cleaned=image, timings=timings)


def ocr_file(path: Path, opts: OcrOptions = OcrOptions(), *, limits: Limits = Limits(),
             workers: int = 1) -> OcrDocument:
    """Cleanup and OCR every page of an image, multi-page TIFF or PDF, pages in parallel."""
    tesseract.check_tesseract(opts.tesseract_cmd, opts.lang)
    n = count_pages(path, limits)

    def one(i: int) -> PageOCR:
        return ocr_loaded_page(load_page(path, i, limits), opts, path=path, index=i).ocr

    if workers <= 1 or n == 1:
        pages = [one(i) for i in range(n)]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pages = list(pool.map(one, range(n)))
    return OcrDocument(source=str(path), pages=pages)
