"""Cleanup + OCR of a page or a file, exactly as the digitization flow runs it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.batches import PageResult
from models.errors import DossierError
from models.ocr import Limits, OcrDocument, OcrOptions, PageOCR
from ocr import tesseract
from ocr.cleanup import CleanupResult, clean_page
from ocr.loading import LoadedPage, count_pages
from ocr.order import reading_order
from ocr.textlayer import text_layer_page

__all__ = ["OcrOptions", "PageResult", "FileResult", "ocr_loaded_page", "ocr_file", "ocr_files"]

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


@dataclass
class FileResult:
    """One input file of :func:`ocr_files`: its pages, or the error that stopped it."""

    path: Path
    document: OcrDocument | None = None
    page_images: list[bytes | None] = field(default_factory=list)  # PNG the boxes refer to
    error: DossierError | None = None
    timings: list[dict[str, float]] = field(default_factory=list)
    worker_peak_rss_kb: int = 0  # the largest peak of the processes that read its pages


def ocr_files(paths: list[Path], opts: OcrOptions = OcrOptions(), *,
              limits: Limits = Limits(), workers: int = 1,
              page_images: bool = False) -> Iterator[FileResult]:
    """Cleanup and OCR every page of many files through one pool of worker processes.

    All pages of all files are queued at once, so the pool stays busy across file
    boundaries; results come back file by file, in order. A bad file yields its error and
    the others go on. A single page is read in this process (no pool to start).
    """
    from models.batches import PageJob
    from ocr.pool import PageOutcome, get_pool, run_page_job

    tesseract.check_engine(opts.engine or tesseract.default_engine(), opts.tesseract_cmd,
                           opts.lang)
    counts: list[int | DossierError] = []
    for p in paths:
        try:
            counts.append(count_pages(p, limits))
        except DossierError as e:
            counts.append(e)
    total = sum(n for n in counts if isinstance(n, int))
    in_process = workers <= 1 or total <= 1
    pool = None if in_process else get_pool(workers, opts)
    # Each file's error, or its pages: jobs read here, or the pool's futures (None once read).
    queued: list[tuple[Path, DossierError | list[PageJob | Future[PageOutcome] | None]]] = []
    for p, n in zip(paths, counts, strict=True):
        if isinstance(n, DossierError):
            queued.append((p, n))
            continue
        jobs = [PageJob(path=str(p), source_page=i, opts=opts, limits=limits,
                        want_cleaned_png=page_images) for i in range(n)]
        queued.append((p, [*jobs] if pool is None else [pool.submit(j) for j in jobs]))
    for p, work in queued:
        if isinstance(work, DossierError):
            yield FileResult(path=p, error=work)
            continue
        fr = FileResult(path=p)
        pages = []
        for i, item in enumerate(work):
            # One page at a time in this process: nothing waits in memory but small results.
            if isinstance(item, PageJob):
                outcome = run_page_job(item)
            else:
                assert item is not None  # emptied only below, once read
                outcome = item.result()
            work[i] = None  # the future would keep its result alive a second time
            err = outcome.error(str(p))
            if err is not None:
                for rest in work:
                    if isinstance(rest, Future):
                        rest.cancel()
                fr.error = err
                break
            pages.append(outcome.ocr)
            fr.page_images.append(outcome.cleaned_png)
            fr.timings.append(outcome.timings)
            fr.worker_peak_rss_kb = max(fr.worker_peak_rss_kb, outcome.worker_peak_rss_kb)
        if fr.error is None:
            fr.document = OcrDocument(source=str(p), pages=pages)
        else:
            fr.page_images = []
        yield fr


def ocr_file(path: Path, opts: OcrOptions = OcrOptions(), *, limits: Limits = Limits(),
             workers: int = 1) -> OcrDocument:
    """Cleanup and OCR every page of an image, multi-page TIFF or PDF, pages in parallel."""
    result = next(ocr_files([path], opts, limits=limits, workers=workers))
    if result.error is not None:
        raise result.error
    assert result.document is not None
    return result.document
