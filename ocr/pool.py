"""A pool of OCR worker processes, one per core, each keeping Tesseract's models loaded.

A page is a job: the worker decodes it from the file (one page at a time, so a 500-page PDF
never sits in memory), cleans it up, reads it, and sends back the small OCR tree (and, when
asked, the cleaned page as PNG bytes). Images never cross the process boundary on the way in.

The pool is started lazily, once per process (:func:`get_pool`), and shared by everything in
that process: the page tasks of every batch a worker runs, ``dossier ocr`` on many files, the
bench. Workers are spawned (not forked: the parent may run threads) and run one Tesseract thread
and one OpenCV thread each. Pages wait in one first-come queue; each is sent to an idle worker.

A page fails alone: a worker that does not answer within the page timeout is killed, and one
that dies (a crash inside Tesseract, the OOM killer) fails only the page it held (a page whose
worker died is tried once more, on a fresh worker, since the death may not have been its
fault); either way a new worker takes the dead one's place. ``concurrent.futures``'s process
pool cannot do that: one dead worker breaks the whole pool and every page in flight with it.
"""

from __future__ import annotations

import atexit
import collections
import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from models import errors
from models.batches import PageJob
from models.errors import DossierError, OcrEngineError
from models.ocr import OcrOptions, PageOCR

__all__ = ["PageOutcome", "OcrPool", "get_pool", "shutdown_pool", "run_page_job",
           "WorkerLost"]

log = logging.getLogger(__name__)


@dataclass
class PageOutcome:
    """What a worker sends back: the OCR tree, or the error that stopped the page."""

    ocr: PageOCR | None = None
    timings: dict[str, float] = field(default_factory=dict)
    cleaned_jpeg: bytes | None = None
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
        page = load_page(Path(job.path), job.source_page, job.limits)
        load_s = time.perf_counter() - t
        result = ocr_loaded_page(page, job.opts, path=Path(job.path), index=job.source_page)
        out.ocr = result.ocr
        out.timings = {"load": load_s, **result.timings}
        if job.want_cleaned_jpeg:
            from ocr.searchable import page_jpeg

            # The image the word boxes refer to: the cleaned page, or for a text-layer page
            # its render; as the searchable PDF embeds it, so that the PDF takes it as it is.
            image = result.cleaned if result.cleaned is not None else cv2.cvtColor(
                page.image, cv2.COLOR_BGR2GRAY)
            out.cleaned_jpeg = page_jpeg(image)
        del page, result
    except DossierError as e:
        # Exceptions with keyword arguments do not survive pickling: send the parts.
        # The class's own name, which error() finds again (a kind may be a name of its own).
        out.error_kind, out.error_message, out.error_hint = type(e).__name__, e.message, e.hint
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


def _worker_main(conn: Connection, warm: OcrOptions | None) -> None:
    """A worker's life: load the models, then run what the pool sends until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    # A group of its own: a worker killed for a hung page takes its `tesseract` child along.
    os.setpgrp()
    _init_worker(warm)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, args = msg
        try:
            reply: tuple[bool, Any] = (True, fn(*args))
        except BaseException as e:  # noqa: BLE001 - sent back to whoever asked
            reply = (False, e)
        try:
            conn.send(reply)
        except Exception as e:  # noqa: BLE001 - an unpicklable answer is still an answer
            conn.send((False, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}")))
            log.debug("unpicklable reply: %s", e)


def _kill_group(process: Any) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, TypeError):
        process.kill()


class WorkerLost(OcrEngineError):
    """The OCR process holding a job died or was killed after the page timeout."""


@dataclass
class _Item:
    fn: Callable[..., Any]
    args: tuple
    future: Future
    page: int | None  # for a page job: its index, and failures become the page's outcome
    tries: int = 0


@dataclass
class _Worker:
    process: Any
    conn: Connection
    item: _Item | None = None
    deadline: float = 0.0


class OcrPool:
    """``workers`` OCR processes; :meth:`submit` queues a page and returns a future.

    ``page_timeout``: seconds a worker may spend on one job before it is killed and replaced
    (None: no limit).
    """

    def __init__(self, workers: int, warm: OcrOptions | None = None,
                 page_timeout: float | None = None):
        self.workers = max(1, int(workers))
        self.warm = warm
        self.page_timeout = page_timeout
        self.replaced = 0  # workers started in place of dead or killed ones
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._queue: collections.deque[_Item] = collections.deque()
        self._procs: list[_Worker] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)

    # -- public ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every worker now (they import and load their models in the background),
        instead of waiting for the first page."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the OCR pool is shut down")
            if self._thread is None:
                while len(self._procs) < self.workers:
                    self._procs.append(self._spawn())
                self._thread = threading.Thread(target=self._dispatch, name="ocr-pool",
                                                daemon=True)
                self._thread.start()

    def submit(self, job: PageJob) -> Future[PageOutcome]:
        """Queue a page; its future always gives a :class:`PageOutcome` (a page the pool could
        not read, by timeout or a dead worker, has the error as its outcome)."""
        return self._put(_Item(run_page_job, (job,), Future(), job.source_page))

    def call(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` in a worker (a picklable module-level function)."""
        return self._put(_Item(fn, args, Future(), None))

    def run(self, job: PageJob) -> PageOutcome:
        """Submit and wait."""
        return self.submit(job).result()

    def pids(self) -> list[int]:
        """The worker processes' pids (for supervision and tests)."""
        with self._lock:
            return [w.process.pid for w in self._procs if w.process.pid is not None]

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            pending, self._queue = list(self._queue), collections.deque()
            procs, thread = list(self._procs), self._thread
        for item in pending:
            item.future.cancel()
        self._wake()
        if thread is not None:
            thread.join(timeout=10)
        for w in procs:
            self._stop_worker(w)

    # -- internals ---------------------------------------------------------------------------

    def _put(self, item: _Item) -> Future:
        self.start()
        with self._lock:
            self._queue.append(item)
        self._wake()
        return item.future

    def _wake(self) -> None:
        try:
            self._wake_w.send_bytes(b"x")
        except OSError:
            pass

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        p = self._ctx.Process(target=_worker_main, args=(child, self.warm), daemon=True,
                              name="ocr-worker")
        p.start()
        child.close()
        return _Worker(p, parent)

    @staticmethod
    def _stop_worker(w: _Worker) -> None:
        try:
            w.conn.send(None)
        except OSError:
            pass
        w.process.join(timeout=5)
        if w.process.is_alive():
            w.process.kill()
            w.process.join(timeout=5)
        w.conn.close()

    def _fail(self, item: _Item, message: str, retry: bool) -> None:
        if retry and item.tries < 2 and not self._closed:
            with self._lock:
                self._queue.appendleft(item)  # its turn again, on a fresh worker
            return
        if item.page is None:
            item.future.set_exception(WorkerLost(message))
        else:
            item.future.set_result(PageOutcome(
                error_kind="OcrEngineError", error_message=message,
                error_hint="the page may be damaged: check it or rescan it; the other pages "
                           "are not affected"))

    def _replace(self, w: _Worker) -> None:
        with self._lock:
            if w in self._procs:
                self._procs.remove(w)
            if not self._closed:
                self._procs.append(self._spawn())
                self.replaced += 1
        try:
            w.conn.close()
        except OSError:
            pass
        w.process.join(timeout=1)

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    busy = [w.item for w in self._procs if w.item is not None]
                    for running in busy:
                        if not running.future.cancel():
                            running.future.set_exception(
                                RuntimeError("the OCR pool was shut down"))
                    return
                idle = [w for w in self._procs if w.item is None]
                while idle and self._queue:
                    item = self._queue.popleft()
                    if item.tries == 0 and not item.future.set_running_or_notify_cancel():
                        continue  # cancelled while it waited
                    w = idle.pop()
                    item.tries += 1
                    try:
                        w.conn.send((item.fn, item.args))
                    except (OSError, ValueError):
                        self._queue.appendleft(item)
                        item.tries -= 1
                        continue  # its death shows on its sentinel below
                    w.item = item
                    w.deadline = (time.monotonic() + self.page_timeout
                                  if self.page_timeout else float("inf"))
                procs = list(self._procs)
            deadline = min((w.deadline for w in procs if w.item is not None),
                           default=float("inf"))
            timeout = max(0.0, min(deadline - time.monotonic(), 5.0))
            ready = wait([self._wake_r, *(w.conn for w in procs if w.item is not None),
                          *(w.process.sentinel for w in procs)], timeout=timeout)
            if self._wake_r in ready:
                while self._wake_r.poll():
                    self._wake_r.recv_bytes()
            now = time.monotonic()
            for w in procs:
                if w.item is not None and w.conn in ready:
                    try:
                        ok, value = w.conn.recv()
                    except (EOFError, OSError):
                        ok, value = None, None
                    if ok is not None:
                        item, w.item = w.item, None
                        if ok:
                            item.future.set_result(value)
                        else:
                            item.future.set_exception(value)
                        continue
                    w.process.kill()  # its pipe closed under it: it is on its way out
                if w.process.sentinel in ready or not w.process.is_alive() or w.conn in ready:
                    w.process.join(timeout=5)
                    lost, w.item = w.item, None
                    code = w.process.exitcode
                    log.warning("OCR worker pid %s died (exit %s)%s", w.process.pid, code,
                                f" on page {lost.page + 1}" if lost and lost.page is not None
                                else "")
                    self._replace(w)
                    if lost is not None:
                        where = f"page {lost.page + 1}" if lost.page is not None else "a job"
                        self._fail(lost, f"the OCR process died on {where} (exit {code})",
                                   retry=True)
                elif w.item is not None and now >= w.deadline:
                    item, w.item = w.item, None
                    log.warning("OCR worker pid %s exceeded the page timeout (%.0f s); "
                                "killing it", w.process.pid, self.page_timeout or 0)
                    _kill_group(w.process)
                    self._replace(w)
                    where = f"page {item.page + 1}" if item.page is not None else "a job"
                    self._fail(item, f"OCR of {where} did not finish within "
                                     f"{self.page_timeout:.0f} s (DOSSIER_PAGE_TIMEOUT_S)",
                               retry=False)


_pool: OcrPool | None = None
_pool_lock = threading.Lock()


def get_pool(workers: int, warm: OcrOptions | None = None, *,
             page_timeout: float | None = None) -> OcrPool:
    """The process's OCR pool, started on first use with ``workers`` processes. ``warm``:
    the options whose models each new worker loads as it starts (default: the defaults).
    ``page_timeout``: see :class:`OcrPool` (kept from the first call when not given)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = OcrPool(workers, warm or OcrOptions(), page_timeout)
            atexit.register(shutdown_pool)
        elif _pool.workers != max(1, int(workers)):
            _pool.shutdown()
            _pool = OcrPool(workers, warm or _pool.warm, page_timeout or _pool.page_timeout)
        elif page_timeout is not None:
            _pool.page_timeout = page_timeout
        return _pool


def shutdown_pool() -> None:
    """Stop the workers (at exit, or when a benchmark wants their peak memory)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown()
