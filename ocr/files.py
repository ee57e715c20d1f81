"""Cleanup + OCR of whole files, every page through the process's OCR pool (``ocr.pool``),
exactly as the digitization flow reads a page: ``dossier ocr``, ``dossier extract`` and the
benchmarks."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from models.batches import PageJob
from models.errors import DossierError
from models.ocr import Limits, OcrDocument, OcrOptions
from ocr import tesseract
from ocr.loading import count_pages
from ocr.pool import PageOutcome, get_pool, run_page_job

__all__ = ["FileResult", "ocr_files", "ocr_file"]


@dataclass
class FileResult:
    """One input file of :func:`ocr_files`: its pages, or the error that stopped it."""

    path: Path
    document: OcrDocument | None = None
    page_images: list[bytes | None] = field(default_factory=list)  # JPEG the boxes refer to
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
                        want_cleaned_jpeg=page_images) for i in range(n)]
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
            fr.page_images.append(outcome.cleaned_jpeg)
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
