"""A pool of OCR worker processes, one per core, each keeping Tesseract's models loaded.

A page is a job: the worker decodes it from the file (one page at a time, so a 500-page PDF
never sits in memory), cleans it up, reads it, and sends back the small OCR tree (and, when
asked, the cleaned page as PNG bytes). Images never cross the process boundary on the way in.

The pool is started lazily, once per process (:func:`get_pool`), and shared by everything in
that process: the digitization flow's page tasks, ``dossier ocr`` on many files, the bench.
Workers are spawned (not forked: the parent may run threads) and run one Tesseract thread and
one OpenCV thread each. They are not recycled after a number of pages: Python 3.11's
``max_tasks_per_child`` can leave the pool without workers (it hung a 500-page run here).
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import resource
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from models import errors
from models.errors import DossierError, OcrEngineError
from models.ocr import PageOCR
from ocr.loading import Limits
from ocr.pipeline import OcrOptions

__all__ = ["PageJob", "PageOutcome", "OcrPool", "get_pool", "shutdown_pool", "run_page_job"]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class PageJob:
    """One page of one file to clean up and read."""

    path: str
    index: int
    opts: OcrOptions = OcrOptions()
    limits: Limits = Limits()
    want_cleaned_png: bool = False


@dataclass
class PageOutcome:
    """What a worker sends back: the OCR tree, or the error that stopped the page."""

    ocr: PageOCR | None = None
    timings: dict[str, float] = field(default_factory=dict)
    cleaned_png: bytes | None = None
    error_kind: str | None = None
    error_message: str = ""
    error_hint: str | None = None
    worker_peak_rss_kb: int = 0

    def error(self, path: str | None = None) -> DossierError | None:
        """The page's error as the pipeline's own exception type, or None."""
        if self.error_kind is None:
            return None
        cls = getattr(errors, self.error_kind, None)
        if not (isinstance(cls, type) and issubclass(cls, DossierError)):
            cls = OcrEngineError
        return cls(self.error_message, path=path, hint=self.error_hint)

    def result(self, path: str | None = None) -> PageOCR:
        """The OCR tree; raises the page's error if it has one."""
        err = self.error(path)
        if err is not None:
            raise err
        assert self.ocr is not None
        return self.ocr


def run_page_job(job: PageJob) -> PageOutcome:
    """Load, clean up and read one page (what a worker runs; usable in-process too)."""
    import cv2

    from ocr.loading import load_page
    from ocr.pipeline import ocr_loaded_page

    out = PageOutcome()
    try:
        t = time.perf_counter()
        page = load_page(Path(job.path), job.index, job.limits)
        load_s = time.perf_counter() - t
        result = ocr_loaded_page(page, job.opts, path=Path(job.path), index=job.index)
        out.ocr = result.ocr
        out.timings = {"load": load_s, **result.timings}
        if job.want_cleaned_png:
            # The image the word boxes refer to: the cleaned page, or for a text-layer page
            # its render.
            image = result.cleaned if result.cleaned is not None else cv2.cvtColor(
                page.image, cv2.COLOR_BGR2GRAY)
            ok, png = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
            if ok:
                out.cleaned_png = png.tobytes()
        del page, result
    except DossierError as e:
        # Exceptions with keyword arguments do not survive pickling: send the parts.
        out.error_kind, out.error_message, out.error_hint = e.kind, e.message, e.hint
    if _trim is not None:
        _trim()
    out.worker_peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out


_trim = None  # in a worker: hands the page's freed memory back to the system


def _malloc_trim():
    """glibc's ``malloc_trim(0)``, or None where there is none. A worker frees a page's
    images (tens of MB) after every page; without a trim glibc keeps much of it mapped, and
    the worker's footprint creeps up page after page."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        fn = libc.malloc_trim if libc is not None else None
    except (OSError, AttributeError):
        return None
    if fn is None:
        return None
    fn.argtypes = [ctypes.c_size_t]
    return lambda: fn(0)


def _init_worker(warm: OcrOptions | None = None) -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    import cv2

    # One page per core already keeps every core busy; more threads only contend.
    cv2.setNumThreads(1)
    global _trim
    _trim = _malloc_trim()
    if warm is not None:
        _warm_up(warm)


def _warm_up(opts: OcrOptions) -> None:
    """Import the page code and load Tesseract's models now, while the parent is still
    starting, so the first page of each worker costs only its own reading."""
    from ocr import pipeline, tesseract  # noqa: F401 - the imports are the warm-up

    try:
        engine = opts.engine or tesseract.default_engine()
        tessdata = tesseract.check_engine(engine, opts.tesseract_cmd, opts.lang)
        if engine == "tesserocr":
            tesseract.preload(tessdata, opts.lang)
            if opts.detect_orientation:
                from tesserocr import PSM

                tesseract.preload(tesseract.check_engine(engine, opts.tesseract_cmd, "osd"),
                                  "osd", int(PSM.OSD_ONLY))
        if opts.read_codes:
            import zxingcpp  # noqa: F401
    except Exception as e:  # noqa: BLE001 - the first page reports the same problem properly
        log.debug("OCR worker warm-up skipped: %s", e)


def _noop() -> None:
    return None


class OcrPool:
    """``workers`` OCR processes; :meth:`submit` queues a page and returns a future."""

    def __init__(self, workers: int, warm: OcrOptions | None = None):
        self.workers = max(1, int(workers))
        self.warm = warm
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    def _ensure(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker, initargs=(self.warm,))
            return self._executor

    def start(self) -> None:
        """Start every worker now (they import and load their models in the background),
        instead of one at a time as the first pages arrive."""
        ex = self._ensure()
        # Each submission while no worker is idle starts one more, up to ``workers``.
        for _ in range(self.workers):
            ex.submit(_noop)

    def submit(self, job: PageJob) -> Future[PageOutcome]:
        try:
            return self._ensure().submit(run_page_job, job)
        except BrokenProcessPool:
            self._reset()
            return self._ensure().submit(run_page_job, job)

    def run(self, job: PageJob) -> PageOutcome:
        """Submit and wait. A worker that died (a crash inside Tesseract) fails only its page."""
        fut = self.submit(job)
        try:
            return fut.result()
        except BrokenProcessPool as e:
            self._reset()
            return PageOutcome(error_kind="OcrEngineError",
                               error_message=f"the OCR worker died on page {job.index + 1} "
                                             f"({e})",
                               error_hint="the page may be damaged; rescan it")

    def _reset(self) -> None:
        with self._lock:
            ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        with self._lock:
            ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=True, cancel_futures=True)


_pool: OcrPool | None = None
_pool_lock = threading.Lock()


def get_pool(workers: int, warm: OcrOptions | None = None) -> OcrPool:
    """The process's OCR pool, started on first use with ``workers`` processes. ``warm``:
    the options whose models each new worker loads as it starts (default: the defaults)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = OcrPool(workers, warm or OcrOptions())
            atexit.register(shutdown_pool)
        elif _pool.workers != max(1, int(workers)):
            _pool.shutdown()
            _pool = OcrPool(workers, warm or _pool.warm)
        return _pool


def shutdown_pool() -> None:
    """Stop the workers (at exit, or when a benchmark wants their peak memory)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown()
