"""The Prefect flow that digitizes an accepted batch. It only wires the stages together:
count pages -> cleanup + OCR per page (a task each, in parallel) -> classify, split, extract
per dossier (a task each) -> record JSON to S3 and a row to the index, with the batch ledger
updated as it goes.

The originals are already durable in the object store (``storage/intake.py``); the flow gets
the batch id and reads its plan from the ledger, and its tasks pass object keys and typed
models (``models/batches.py``), never images. The stages are plain functions in
``flows/stages.py``; the decisions, in ``flows/decisions.py``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from flows import decisions, stages
from flows.progress import ProgressEvent, emit
from flows.runtime import get_runtime
from models.batches import (
    FINAL_STAGES,
    BatchDossier,
    BatchPlan,
    ExtractJob,
    FileProblem,
    PageJob,
    PageResult,
    RecordState,
)
from models.errors import StorageError
from models.records import IngestFileResult, IngestReport, utcnow
from models.settings import get_settings
from storage.faults import is_outage
from storage.intake import new_batch_id

__all__ = ["digitize_batch", "new_batch_id", "ocr_page", "extract_dossier", "ExtractJob"]

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


@task(name="ocr-page", retries=len(_RETRY_DELAYS), retry_delay_seconds=_RETRY_DELAYS,
      retry_condition_fn=_transient, cache_policy=NO_CACHE)
def ocr_page(job: PageJob) -> PageResult:
    """Cleanup and OCR one page of a stored original.

    Keys are content-addressed, so a page already done (a re-run after a crash, or the same
    page in another batch) is not read again. A page that cannot be decoded is an expected
    outcome, returned as the page's problem; anything else raises and the flow records it.
    """
    return stages.read_page(job)


@task(name="extract-dossier", retries=len(_RETRY_DELAYS), retry_delay_seconds=_RETRY_DELAYS,
      retry_condition_fn=_transient, cache_policy=NO_CACHE)
def extract_dossier(job: ExtractJob) -> list[RecordState]:
    """Classify, split and extract a dossier's pages; store one record per document."""
    return stages.extract(job)


# -- wiring ---------------------------------------------------------------------------------

T = TypeVar("T")
A = TypeVar("A")


def _outcome(future: PrefectFuture[T]) -> tuple[T, None] | tuple[None, Exception]:
    """A task's value, or whatever exception it raised: the caller records it on the file."""
    try:
        return future.result(), None
    except Exception as e:  # noqa: BLE001 - one file's fault is recorded on that file only
        return None, e


def _called(stage: Callable[[A], T], arg: A) -> tuple[T, None] | tuple[None, Exception]:
    """``stage(arg)`` run here, in the flow's thread (a stage, or a task run as one): its
    value, or whatever exception it raised (a store outage is met by the flow, the dossier
    waiting; anything else the caller records on the file)."""
    try:
        return stage(arg), None
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
    reading = {} if reading is None else reading
    run = _DossierRun(d, problems={f.file_no: f.problem for f in d.files
                                   if f.problem is not None})
    stored = [f for f in d.files if f.sha256 and f.problem is None]
    known = stages.known_files(stored)
    if decisions.is_duplicate_dossier(d.dossier_id, known):
        run.duplicate_of = {f.file_no: k for f, k in zip(stored, known, strict=True)}
        return run
    jobs: list[PageJob] = []
    for f in stored:
        # Counted here, not as a task of its own: reading a file's header is quick, and a
        # task run costs the Prefect server more CPU than the count (about 0.07 s a file).
        counted_file, error = _called(stages.count_file_pages, f)
        if error is not None and is_outage(error):
            raise _StoreDown(str(error)) from error
        if error is not None:
            run.problems[f.file_no] = decisions.problem_from(error, f.name)
            continue
        assert counted_file is not None  # no error: the task returned it
        if counted_file.problem is not None:
            run.problems[f.file_no] = counted_file.problem
            continue
        n = run.pages[f.file_no] = counted_file.pages
        stages.mark_counted(plan, f.file_no, n)
        jobs.extend(PageJob(batch_id=plan.batch_id, file_no=f.file_no, sha256=f.sha256,
                            source_page=i, dossier=d.name) for i in range(n))
    # Said before any of its pages is done: a dossier tried again after a store outage is
    # planned again, and whoever counts pages starts its count over from here.
    emit(ProgressEvent("pages_planned", d.name, count=len(jobs)))
    for job in jobs:
        page = reading.get((job.sha256, job.source_page))
        if page is None:
            page = reading[(job.sha256, job.source_page)] = ocr_page.submit(job)
        run.futures.append((job, page))
    return run


def _finish_dossier(plan: BatchPlan, run: _DossierRun) -> list[IngestFileResult]:
    d = run.dossier
    outcomes = [(job, *_outcome(fut)) for job, fut in run.futures]
    for _, _, error in outcomes:
        if error is not None and is_outage(error):  # not the page's fault: the dossier waits
            raise _StoreDown(str(error)) from error
    results = stages.page_results(plan, outcomes)
    failed = stages.failed_files(plan, d, run.problems, results)
    good = decisions.pages_to_extract(results, set(failed),
                                      {f.file_no: f.position for f in d.files})
    states: list[RecordState] = []
    if good:
        stages.mark_extracting(plan, good)
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
            failed.update(stages.extraction_failed(plan, d, {p.file_no for p in good}, error))
    return stages.file_results(plan, d, failed, run.pages, states)


def _settle_dossier(plan: BatchPlan, d: BatchDossier, run: _DossierRun | Exception
                    ) -> list[IngestFileResult]:
    """The dossier's files' results; raises :class:`_StoreDown` when a store outage stopped
    it (nothing is failed for that: the dossier is tried again once the store is back)."""
    try:
        if isinstance(run, Exception):
            raise run
        if run.duplicate_of:
            return stages.duplicate_results(plan, d, run.duplicate_of, run.problems)
        return _finish_dossier(plan, run)
    except _StoreDown:
        raise
    except Exception as e:  # noqa: BLE001 - the rest of the batch goes on
        if is_outage(e):
            raise _StoreDown(str(e)) from e
        return stages.failure_results(plan, d, e)


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


def _run_id() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.id or uuid.uuid4())


class _PagesInFlight(ThreadPoolTaskRunner):
    """The flow's task runner. Its threads bound how many pages of a batch wait for the OCR
    pool at once (``Settings.pages_in_flight``); the pool is shared by every batch the process
    runs, so batches' pages interleave there. Each run gets a runner of its own
    (``duplicate``), sized from the settings then, not when this module is imported."""

    def duplicate(self) -> _PagesInFlight:
        return type(self)(max_workers=get_settings().pages_in_flight())


# (Prefect types task_runner as an invariant TaskRunner[PrefectFuture[Any]], which its own
# ThreadPoolTaskRunner is not.)
@flow(name="digitize-batch", log_prints=False,
      task_runner=_PagesInFlight())  # type: ignore[arg-type]
def digitize_batch(batch_id: str) -> IngestReport:
    """Digitize an accepted batch (see ``storage/intake.py``); a failing file or dossier never
    stops the rest, and a store outage fails none: the dossiers it stopped are tried again
    with backoff until the store is back (past ``DOSSIER_STORE_OUTAGE_S`` the run gives up and
    the watchdog submits the batch again). Returns the report; progress is in the ledger."""
    rt = get_runtime()
    run_id = _run_id()
    give_up_at = time.monotonic() + rt.settings.store_outage_s
    plan = stages.patiently(f"batch {batch_id}", lambda: rt.ledger.plan(batch_id), give_up_at)
    report = IngestReport(batch_id=batch_id, station=plan.station, operator=plan.operator)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    stale = timedelta(seconds=rt.settings.batch_stale_s)
    if not stages.patiently(f"batch {batch_id}",
                            lambda: rt.ledger.claim(batch_id, run_id, stale, worker),
                            give_up_at):
        log.info("batch %s is finished or held by another run", batch_id)
        return report
    with stages.Heartbeat(batch_id, run_id, rt.settings.batch_heartbeat_s) as beat:
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
    stages.patiently(f"batch {batch_id}", lambda: rt.ledger.finish(batch_id, run_id),
                     give_up_at)
    report.finished_at = utcnow()
    return report
