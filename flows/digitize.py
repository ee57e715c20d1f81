"""The Prefect flow that digitizes an accepted batch. It only wires the stages together:
count pages -> cleanup + OCR per page (in parallel) -> classify, split, extract per dossier ->
record JSON to S3 and a row to the index, with the batch ledger updated as it goes.

The originals are already durable in the object store (``storage/intake.py``); the flow gets
the batch id and reads its plan from the ledger, and its tasks pass object keys and typed
models (``models/batches.py``), never images. The decisions live in ``flows/decisions.py``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from extraction.doctypes import DoctypeDef
from flows import decisions
from flows.progress import ProgressEvent, emit
from flows.runtime import get_runtime
from models.batches import (
    FINAL_STAGES,
    BatchDossier,
    BatchFile,
    BatchPlan,
    ExtractJob,
    FileProblem,
    PageCount,
    PageJob,
    PageResult,
    RecordState,
    Stage,
)
from models.errors import InputFileError, StorageError
from models.ocr import PageOCR
from models.records import (
    ExtractedDocument,
    FileStatus,
    IngestFileResult,
    IngestReport,
    PageRef,
    Record,
    utcnow,
)
from models.settings import get_settings
from storage.faults import is_outage
from storage.intake import new_batch_id

__all__ = ["digitize_batch", "new_batch_id", "count_pages", "ocr_page", "extract_dossier",
           "ExtractJob"]

log = logging.getLogger(__name__)


def _transient(task, task_run, state) -> bool:
    """Retry only store outages; a bad scan fails the same way every time."""
    try:
        state.result()
    except Exception as e:  # noqa: BLE001 - anything but an outage is not worth a retry
        return is_outage(e)
    return False


# A task meets a short store outage (a server restarting) by trying again; a longer one is
# waited out by the flow (see _StoreDown), so no file is ever failed for it.
_RETRY_DELAYS: list[float] = [1, 3, 6]


class _StoreDown(Exception):
    """The object store or the index is unreachable: the dossier is tried again later."""


def _local_original(sha256: str) -> Path:
    """The original's bytes on local disk, fetched from the object store if not cached."""
    rt = get_runtime()
    cached = rt.cache_dir / sha256
    if not cached.exists():
        tmp = cached.with_suffix(f".{os.getpid()}.{secrets.token_hex(3)}.part")
        rt.store.download_original(sha256, tmp)
        os.replace(tmp, cached)
    return cached


def _limits():
    from ocr.loading import Limits

    s = get_runtime().settings
    return Limits(s.max_file_bytes, s.max_image_pixels, s.max_pages, s.pdf_render_dpi)


def _ocr_key(sha256: str, source_page: int) -> str:
    return f"ocr/{sha256}/{source_page:04d}.json"


def _cleaned_key(sha256: str, source_page: int) -> str:
    return f"cleaned/{sha256}/{source_page:04d}.png"


def _pdf_key(record_id: str) -> str:
    return f"pdf/{record_id}.pdf"


def _store_searchable_pdf(record_id: str, refs: list[PageRef],
                          pages: list[PageOCR]) -> str | None:
    """Write the document's searchable PDF (page images fetched one at a time); its key,
    or None when a page has no stored image (digitized before page images were kept)."""
    from ocr.searchable import searchable_pdf

    rt = get_runtime()
    if any(r.cleaned_key is None for r in refs):
        return None
    images = (rt.store.get_derived(r.cleaned_key) for r in refs if r.cleaned_key)
    data = searchable_pdf(zip(images, pages, strict=True), title=record_id)
    return rt.store.put_derived(_pdf_key(record_id), data, "application/pdf")


@task(name="count-pages", retries=len(_RETRY_DELAYS), retry_delay_seconds=_RETRY_DELAYS,
      retry_condition_fn=_transient, cache_policy=NO_CACHE)
def count_pages(file: BatchFile) -> PageCount:
    """How many pages a stored original has, or why it cannot be read (an expected outcome,
    named after the operator's file)."""
    from ocr.loading import count_pages as count

    assert file.sha256 is not None
    try:
        return PageCount(file_no=file.file_no,
                         pages=count(_local_original(file.sha256), _limits()))
    except InputFileError as e:
        return PageCount(file_no=file.file_no, problem=decisions.problem_from(e, file.name))


@task(name="ocr-page", retries=len(_RETRY_DELAYS), retry_delay_seconds=_RETRY_DELAYS,
      retry_condition_fn=_transient, cache_policy=NO_CACHE)
def ocr_page(job: PageJob) -> PageResult:
    """Cleanup and OCR one page of a stored original.

    Keys are content-addressed, so a page already done (a re-run after a crash, or the same
    page in another batch) is not read again. A page that cannot be decoded is an expected
    outcome, returned as the page's problem; anything else raises and the flow records it.
    """
    from extraction import start_warm_up
    from ocr import pool
    from ocr.pipeline import OcrOptions

    rt = get_runtime()
    key = _ocr_key(job.sha256, job.source_page)
    cleaned = _cleaned_key(job.sha256, job.source_page)
    done = PageResult(file_no=job.file_no, sha256=job.sha256, source_page=job.source_page,
                      ocr_key=key, cleaned_key=cleaned)
    if rt.store.derived_exists(key):
        emit(ProgressEvent("page_done", job.dossier))
        done.reused = True
        done.cleaned_key = cleaned if rt.store.derived_exists(cleaned) else None
        return done
    path = _local_original(job.sha256)
    rt.ledger.set_pages(job.batch_id, job.file_no, [job.source_page], Stage.reading)
    start_warm_up()  # this process extracts the pages it reads: its loading overlaps OCR
    s = rt.settings
    # Decoded, cleaned and read in the OCR process pool (models kept loaded per worker).
    opts = OcrOptions(lang=s.lang, tesseract_cmd=s.tesseract_cmd,
                      timeout=s.tesseract_timeout_s, engine=s.ocr_engine or None)
    outcome = pool.get_pool(s.workers, opts, page_timeout=s.page_timeout_s).run(job.model_copy(
        update={"path": str(path), "opts": opts, "limits": _limits(), "want_cleaned_png": True}))
    e = outcome.error(str(path))
    if isinstance(e, InputFileError):
        emit(ProgressEvent("page_done", job.dossier))
        return PageResult(file_no=job.file_no, sha256=job.sha256, source_page=job.source_page,
                          problem=FileProblem(kind=e.kind, message=f"page {job.source_page + 1}: "
                                              f"{e.message}", hint=e.hint))
    result = outcome.result(str(path))
    # A page read is not read again for a store outage: its results wait for the store.
    give_up_at = time.monotonic() + s.store_outage_s
    done.cleaned_key = None
    if outcome.cleaned_png is not None:
        png = outcome.cleaned_png
        _patiently(f"page {cleaned}", lambda: rt.store.put_derived(cleaned, png, "image/png"),
                   give_up_at)
        done.cleaned_key = cleaned
    data = result.export()
    data["timings"] = {k: round(v, 4) for k, v in outcome.timings.items()}
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    # Written last: its presence is what tells a resumed run that the page is done.
    _patiently(f"page {key}", lambda: rt.store.put_derived(key, body, "application/json"),
               give_up_at)
    emit(ProgressEvent("page_done", job.dossier))
    return done


def _read_again(ref: PageRef, langs: str, psm: int) -> PageOCR:
    """A page read again as its document type says (``lang``, ``page_layout``), kept beside
    its first reading; ``ref`` then names that reading."""
    from ocr import pool
    from ocr.pipeline import OcrOptions

    rt = get_runtime()
    key = _ocr_key(ref.original_sha256, ref.source_page).removesuffix(".json") + \
        f".{langs}.psm{psm}.json"
    if rt.store.derived_exists(key):
        page = PageOCR.from_dict(json.loads(rt.store.get_derived(key)))
    else:
        s = rt.settings
        opts = OcrOptions(lang=langs, tesseract_cmd=s.tesseract_cmd,
                          timeout=s.tesseract_timeout_s, engine=s.ocr_engine or None, psm=psm)
        path = _local_original(ref.original_sha256)
        page = pool.get_pool(s.workers, opts, page_timeout=s.page_timeout_s).run(PageJob(
            path=str(path), source_page=ref.source_page, opts=opts, limits=_limits())
        ).result(str(path))
        rt.store.put_derived(key, json.dumps(page.export(), ensure_ascii=False).encode("utf-8"),
                             "application/json")
    ref.ocr_key = key
    return page


@task(name="extract-dossier", retries=len(_RETRY_DELAYS), retry_delay_seconds=_RETRY_DELAYS,
      retry_condition_fn=_transient, cache_policy=NO_CACHE)
def extract_dossier(job: ExtractJob) -> list[RecordState]:
    """Classify, split and extract a dossier's pages; store one record per document."""
    from extraction import extract_documents, read_as_their_types, wait_for_warm_up
    from storage.verified import IndexKnown

    rt = get_runtime()
    wait_for_warm_up()
    ocr_pages: list[PageOCR] = []
    refs: list[PageRef] = []
    for i, p in enumerate(job.pages):
        assert p.ocr_key is not None
        page = PageOCR.from_dict(json.loads(rt.store.get_derived(p.ocr_key)))
        page.index = i
        ocr_pages.append(page)
        refs.append(PageRef(index=i, original_sha256=p.sha256, source_page=p.source_page,
                            ocr_key=p.ocr_key, cleaned_key=p.cleaned_key,
                            ocr_confidence=round(page.confidence, 4)))
    # A page of a type that says how it is read (its languages, its layout) is read so.
    ocr_pages = read_as_their_types(ocr_pages, rt.doctypes, rt.settings.lang,
                                    lambda i, langs, psm: _read_again(refs[i], langs, psm))
    by_id = {d.id: d for d in rt.doctypes}
    out: list[RecordState] = []
    # One uploaded file may be a scanned stack of several dossiers cut by separator sheets.
    for dossier_id, idxs in decisions.stack_dossiers(job.dossier_id, ocr_pages):
        part = [ocr_pages[i] for i in idxs]
        docs = extract_documents(part, rt.doctypes,
                                 review_threshold=rt.settings.review_threshold,
                                 calibration=rt.settings.resolved_calibration(),
                                 known=IndexKnown(rt.index))
        for n, doc in enumerate(docs, start=1):
            out.append(_store_record(job, dossier_id, n, doc, [refs[i] for i in idxs], part,
                                     by_id))
    return out


def _store_record(job: ExtractJob, dossier_id: str, n: int, doc: ExtractedDocument,
                  refs: list[PageRef], pages: list[PageOCR],
                  by_id: dict[str, DoctypeDef]) -> RecordState:
    """Store one extracted document of a dossier as a record version (unless a stored one
    stands) and index it. ``refs`` and ``pages`` are the dossier's; ``doc.pages`` index them."""
    from extraction import citizen_ids_of

    rt = get_runtime()
    record_id = decisions.record_id_for(dossier_id, n)
    now = utcnow()
    record = Record(
        record_id=record_id, dossier_id=dossier_id, batch_id=job.batch_id,
        doctype=doc.doctype, title=doc.title,
        status=decisions.review_status(doc, by_id.get(doc.doctype)),
        classification_confidence=doc.classification_confidence, fields=doc.fields,
        pages=[refs[i] for i in doc.pages],
        citizen_ids=citizen_ids_of(doc, by_id.get(doc.doctype), pages),
        station=job.station, operator=job.operator, created_at=now, updated_at=now,
        pdf_key=_store_searchable_pdf(record_id, [refs[i] for i in doc.pages],
                                      [pages[i] for i in doc.pages]))
    # Unless a person touched the stored version, or it is this very extraction.
    record = rt.records.put_machine(record).record
    return RecordState(record_id=record_id, doctype=record.doctype, status=record.status)


# -- wiring ---------------------------------------------------------------------------------

T = TypeVar("T")


def _outcome(future: PrefectFuture[T]) -> tuple[T, None] | tuple[None, Exception]:
    """A task's value, or whatever exception it raised: the caller records it on the file."""
    try:
        return future.result(), None
    except Exception as e:  # noqa: BLE001 - one file's fault is recorded on that file only
        return None, e


def _called(task_fn, arg):
    """``task_fn(arg)`` run as a task in this thread: its value, or the exception it raised
    (recorded on the file by the caller)."""
    try:
        return task_fn(arg), None
    except Exception as e:  # noqa: BLE001 - one file's fault is recorded on that file only
        return None, e


@dataclass
class _DossierRun:
    dossier: BatchDossier
    pages: dict[int, int] = field(default_factory=dict)  # file_no -> page count
    problems: dict[int, FileProblem] = field(default_factory=dict)
    futures: list[tuple[PageJob, PrefectFuture[PageResult]]] = field(default_factory=list)
    duplicate_of: dict[int, IngestFileResult | None] = field(default_factory=dict)


def _start_dossier(plan: BatchPlan, d: BatchDossier,
                   reading: dict[tuple[str, int], PrefectFuture[PageResult]] | None = None,
                   ) -> _DossierRun:
    """Count the dossier's pages and start reading them. ``reading`` holds the pages this
    batch already started, by content: the same page twice in a batch is read once."""
    rt = get_runtime()
    reading = {} if reading is None else reading
    run = _DossierRun(d)
    for f in d.files:
        if f.problem is not None:
            run.problems[f.file_no] = f.problem
    stored = [f for f in d.files if f.sha256 and f.problem is None]
    known = [rt.index.find_file(f.sha256) for f in stored if f.sha256]
    if decisions.is_duplicate_dossier(d.dossier_id, known):
        run.duplicate_of = {f.file_no: k for f, k in zip(stored, known, strict=True)}
        return run
    counted = [(f, count_pages.submit(f)) for f in stored]
    for f, fut in counted:
        counted_file, error = _outcome(fut)
        if error is not None and is_outage(error):
            raise _StoreDown(str(error)) from error
        if error is not None:
            run.problems[f.file_no] = decisions.problem_from(error, f.name)
            continue
        assert counted_file is not None  # no error: the task returned it
        if counted_file.problem is not None:
            run.problems[f.file_no] = counted_file.problem
            continue
        n = counted_file.pages
        run.pages[f.file_no] = n
        rt.ledger.set_pages(plan.batch_id, f.file_no, range(n), Stage.queued)
        rt.ledger.set_file(plan.batch_id, f.file_no, Stage.reading, pages=n)
        for i in range(n):
            job = PageJob(batch_id=plan.batch_id, file_no=f.file_no, sha256=f.sha256,
                          source_page=i, dossier=d.name)
            page = reading.get((job.sha256, i))
            if page is None:
                page = reading[(job.sha256, i)] = ocr_page.submit(job)
            run.futures.append((job, page))
    emit(ProgressEvent("pages_planned", d.name, count=len(run.futures)))
    return run


def _finish_dossier(plan: BatchPlan, run: _DossierRun) -> list:
    rt = get_runtime()
    d = run.dossier
    names = {f.file_no: f.name for f in d.files}
    results: list[PageResult] = []
    outcomes = [(job, *_outcome(fut)) for job, fut in run.futures]
    for _, _, error in outcomes:
        if error is not None and is_outage(error):  # not the page's fault: the dossier waits
            raise _StoreDown(str(error)) from error
    for job, r, error in outcomes:
        if r is not None and r.file_no != job.file_no:  # read for another file of the batch
            r = r.model_copy(update={"file_no": job.file_no})
            rt.ledger.set_pages(plan.batch_id, job.file_no, [job.source_page],
                                Stage.failed if r.problem else Stage.extracting,
                                r.problem.text if r.problem else None)
        if error is not None:
            r = PageResult(file_no=job.file_no, sha256=job.sha256, source_page=job.source_page,
                           problem=decisions.problem_from(error, f"page {job.source_page + 1}"))
        assert r is not None  # read, or made for its error
        if r.problem is not None:
            rt.ledger.set_pages(plan.batch_id, job.file_no, [job.source_page], Stage.failed,
                                r.problem.text)
        results.append(r)
    failed = dict(run.problems)
    for f in d.files:
        problem = decisions.file_problem(f, results)
        if problem is not None:
            failed.setdefault(f.file_no, problem)
    for no, problem in failed.items():
        rt.ledger.set_file(plan.batch_id, no, Stage.failed, problem=problem)
        emit(ProgressEvent("file_failed", d.name, detail=problem.text))
    good = decisions.pages_to_extract(results, set(failed),
                                      {f.file_no: f.position for f in d.files})
    states: list[RecordState] = []
    if good:
        for no in {p.file_no for p in good}:
            rt.ledger.set_file(plan.batch_id, no, Stage.extracting)
            rt.ledger.set_pages(plan.batch_id, no, [p.source_page for p in good
                                                    if p.file_no == no], Stage.extracting)
        extract_job = ExtractJob(batch_id=plan.batch_id, dossier_id=d.dossier_id, pages=good,
                                 station=plan.station, operator=plan.operator)
        # Run here, in the flow's thread, not queued behind the batch's pages in the task
        # runner: the dossier is extracted while the OCR pool reads the next pages.
        made, error = _called(extract_dossier, extract_job)
        states = made or []
        if error is not None and is_outage(error):
            raise _StoreDown(str(error)) from error
        if error is not None:
            states = []
            for no in {p.file_no for p in good}:
                failed[no] = decisions.problem_from(error, names[no])
                rt.ledger.set_file(plan.batch_id, no, Stage.failed, problem=failed[no])
    record_ids = [s.record_id for s in states]
    out = []
    for f in d.files:
        problem = failed.get(f.file_no)
        pages = run.pages.get(f.file_no, 0)
        if problem is None:
            stage = decisions.file_stage(None, [s.status for s in states])
            rt.ledger.set_pages(plan.batch_id, f.file_no, range(pages), stage)
            rt.ledger.set_file(plan.batch_id, f.file_no, stage, record_ids=record_ids)
        result = decisions.ingest_result(f, d.dossier_id, status=FileStatus.accepted,
                                         pages=pages, problem=problem, record_ids=record_ids)
        # Registered last: a crash before this point makes the next run redo the dossier.
        rt.index.record_file(result, plan.batch_id)
        out.append(result)
    emit(ProgressEvent("dossier_done", d.name))
    return out


def _duplicate_dossier(plan: BatchPlan, run: _DossierRun) -> list:
    rt = get_runtime()
    out = []
    for f in run.dossier.files:
        k = run.duplicate_of.get(f.file_no)
        problem = run.problems.get(f.file_no)
        if problem is not None or k is None:
            problem = problem or FileProblem(kind="InternalError", message=f"{f.name}: lost",
                                             hint=decisions.INTERNAL_HINT)
            rt.ledger.set_file(plan.batch_id, f.file_no, Stage.failed, problem=problem)
            out.append(decisions.ingest_result(f, run.dossier.dossier_id,
                                               status=FileStatus.failed, pages=0,
                                               problem=problem, record_ids=[]))
            continue
        rt.ledger.set_file(plan.batch_id, f.file_no, Stage.duplicate, pages=k.pages,
                           record_ids=k.record_ids)
        out.append(decisions.ingest_result(f, run.dossier.dossier_id,
                                           status=FileStatus.duplicate, pages=k.pages,
                                           problem=None, record_ids=k.record_ids))
    emit(ProgressEvent("dossier_done", run.dossier.name, detail="duplicate"))
    return out


def _fail_dossier(plan: BatchPlan, d: BatchDossier, error: Exception) -> list:
    """Last resort when the wiring itself broke on a dossier: every file says so."""
    rt = get_runtime()
    out = []
    for f in d.files:
        problem = decisions.problem_from(error, f.name)
        try:
            rt.ledger.set_file(plan.batch_id, f.file_no, Stage.failed, problem=problem)
        except StorageError:
            log.warning("cannot record the failure of file %s", f.file_no)
        out.append(decisions.ingest_result(f, d.dossier_id, status=FileStatus.failed, pages=0,
                                           problem=problem, record_ids=[]))
    return out


def _settle_dossier(plan: BatchPlan, d: BatchDossier, run: _DossierRun | Exception) -> list:
    """The dossier's files' results; raises :class:`_StoreDown` when a store outage stopped
    it (nothing is failed for that: the dossier is tried again once the store is back)."""
    try:
        if isinstance(run, Exception):
            raise run
        if run.duplicate_of:
            return _duplicate_dossier(plan, run)
        return _finish_dossier(plan, run)
    except _StoreDown:
        raise
    except Exception as e:  # noqa: BLE001 - the rest of the batch goes on
        if is_outage(e):
            raise _StoreDown(str(e)) from e
        return _fail_dossier(plan, d, e)


def _run_dossiers(plan: BatchPlan, dossiers: list[BatchDossier], report: IngestReport,
                  lost: threading.Event) -> list[BatchDossier]:
    """Start every dossier's pages, then settle each in turn; returns the dossiers a store
    outage stopped."""
    reading: dict[tuple[str, int], PrefectFuture] = {}
    first, again = decisions.split_repeated_dossiers(dossiers)
    runs: list[tuple[BatchDossier, _DossierRun | Exception]] = []
    for d in first:
        try:
            runs.append((d, _start_dossier(plan, d, reading)))
        except Exception as e:  # noqa: BLE001 - recorded on the dossier's files below
            runs.append((d, e))
    stopped: list[BatchDossier] = []
    for d, run in runs:
        try:
            report.files.extend(_settle_dossier(plan, d, run))
        except _StoreDown as e:
            log.warning("batch %s, dossier %s waits for the store: %s", plan.batch_id, d.name,
                        e)
            stopped.append(d)
    # The same content uploaded twice in one batch: once the first is stored, the others
    # are its duplicates (or, if it failed, they try again themselves).
    for d in again:
        if lost.is_set():
            break
        try:
            run = _start_dossier(plan, d, reading)
        except Exception as e:  # noqa: BLE001 - recorded on the dossier's files
            run = e
        try:
            report.files.extend(_settle_dossier(plan, d, run))
        except _StoreDown:
            stopped.append(d)
    return stopped


def _patiently(what: str, fn, give_up_at: float):
    """``fn()``, retried with backoff while the store is out, until ``give_up_at``."""
    delay = 1.0
    while True:
        try:
            return fn()
        except Exception as e:
            if not is_outage(e) or time.monotonic() + delay > give_up_at:
                raise
            log.warning("%s waits for the store: %s", what, e)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


class _Heartbeat:
    """Keeps the batch's lease while the run works, from a thread of its own."""

    def __init__(self, batch_id: str, run_id: str, every: float) -> None:
        self.batch_id, self.run_id, self.every = batch_id, run_id, every
        self.lost = threading.Event()  # another run took the batch over: this one stops
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="batch-heartbeat", daemon=True)

    def _beat(self) -> None:
        ledger = get_runtime().ledger
        while not self._stop.wait(self.every):
            try:
                if not ledger.heartbeat(self.batch_id, self.run_id):
                    log.warning("batch %s was taken over by another run", self.batch_id)
                    self.lost.set()
                    return
            except StorageError:
                log.warning("heartbeat for batch %s failed; will retry", self.batch_id)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _run_id() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.id or uuid.uuid4())


def _pages_in_flight() -> int:
    s = get_settings()
    return max(1, s.batch_pages_in_flight or s.workers + 1)


# The task runner's threads bound how many pages of this batch wait for the OCR pool at once;
# the pool is shared by every batch the process runs, so batches' pages interleave there.
# (Prefect types task_runner as an invariant TaskRunner[PrefectFuture[Any]], which its own
# ThreadPoolTaskRunner is not.)
@flow(name="digitize-batch", log_prints=False,
      task_runner=ThreadPoolTaskRunner(max_workers=_pages_in_flight()))  # type: ignore[arg-type]
def digitize_batch(batch_id: str) -> IngestReport:
    """Digitize an accepted batch (see ``storage/intake.py``); a failing file or dossier never
    stops the rest, and a store outage fails none: the dossiers it stopped are tried again
    with backoff until the store is back (past ``DOSSIER_STORE_OUTAGE_S`` the run gives up and
    the watchdog submits the batch again). Returns the report; progress is in the ledger."""
    rt = get_runtime()
    run_id = _run_id()
    give_up_at = time.monotonic() + rt.settings.store_outage_s
    plan = _patiently(f"batch {batch_id}", lambda: rt.ledger.plan(batch_id), give_up_at)
    report = IngestReport(batch_id=batch_id, station=plan.station, operator=plan.operator)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    stale = timedelta(seconds=rt.settings.batch_stale_s)
    if not _patiently(f"batch {batch_id}", lambda: rt.ledger.claim(batch_id, run_id, stale,
                                                                   worker), give_up_at):
        log.info("batch %s is finished or held by another run", batch_id)
        return report
    with _Heartbeat(batch_id, run_id, rt.settings.batch_heartbeat_s) as beat:
        todo = [d for d in plan.dossiers
                if not (all(f.stage in FINAL_STAGES for f in d.files)
                        and any(f.problem is None for f in d.files))]
        # finished by an earlier run of this batch (resumed, or a file replaced) are left out
        delay = 2.0
        while todo := _run_dossiers(plan, todo, report, beat.lost):
            if beat.lost.is_set():
                return report
            if time.monotonic() + delay > give_up_at:
                raise StorageError(f"batch {batch_id}: the store stayed unreachable; the "
                                   "batch will be submitted again")
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
        if beat.lost.is_set():
            return report
    _patiently(f"batch {batch_id}", lambda: rt.ledger.finish(batch_id, run_id), give_up_at)
    report.finished_at = utcnow()
    return report
