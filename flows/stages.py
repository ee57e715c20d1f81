"""The batch flow's stages, as plain functions over typed data (``models/batches.py``).

Each stage reads and writes the object store, the index and the batch ledger through this
process's runtime (``flows/runtime.py``) and knows nothing of Prefect: ``flows/digitize.py``
wires them into its tasks and the flow. The decisions they take are plain functions of
``flows/decisions.py``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from extraction.doctypes import DoctypeDef
from flows import decisions
from flows.progress import ProgressEvent, emit
from flows.runtime import get_runtime
from models.batches import (
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
from models.ocr import BBox, Limits, PageOCR
from models.records import (
    ExtractedDocument,
    FileStatus,
    IngestFileResult,
    PageRef,
    Record,
    utcnow,
)
from storage.faults import is_outage

__all__ = ["local_original", "ocr_limits", "ocr_key", "cleaned_key", "pdf_key", "patiently",
           "count_file_pages", "read_page", "read_again", "extract", "line_reader", "store_record",
           "known_files", "mark_counted", "page_results", "failed_files", "mark_extracting",
           "extraction_failed", "file_results", "duplicate_results", "failure_results",
           "Heartbeat"]

if TYPE_CHECKING:
    from extraction.reread import LineReader

log = logging.getLogger(__name__)

T = TypeVar("T")


# -- where things are -------------------------------------------------------------------------

def local_original(sha256: str) -> Path:
    """The original's bytes on local disk, fetched from the object store if not cached."""
    rt = get_runtime()
    cached = rt.cache_dir / sha256
    if not cached.exists():
        tmp = cached.with_suffix(f".{os.getpid()}.{secrets.token_hex(3)}.part")
        rt.store.download_original(sha256, tmp)
        os.replace(tmp, cached)
    return cached


def ocr_limits() -> Limits:
    return get_runtime().settings.limits()


def ocr_key(sha256: str, source_page: int) -> str:
    return f"ocr/{sha256}/{source_page:04d}.json"


def cleaned_key(sha256: str, source_page: int) -> str:
    """The cleaned page image the OCR boxes refer to (JPEG, as the searchable PDF embeds it)."""
    return f"cleaned/{sha256}/{source_page:04d}.jpg"


def _legacy_cleaned_key(sha256: str, source_page: int) -> str:
    """Where pages digitized before kept their cleaned image (PNG)."""
    return f"cleaned/{sha256}/{source_page:04d}.png"


def pdf_key(record_id: str) -> str:
    return f"pdf/{record_id}.pdf"


def patiently(what: str, fn: Callable[[], T], give_up_at: float) -> T:
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


# -- pages ------------------------------------------------------------------------------------

def count_file_pages(file: BatchFile) -> PageCount:
    """How many pages a stored original has, or why it cannot be read (an expected outcome,
    named after the operator's file)."""
    from ocr.loading import count_pages as count

    assert file.sha256 is not None
    try:
        return PageCount(file_no=file.file_no,
                         pages=count(local_original(file.sha256), ocr_limits()))
    except InputFileError as e:
        return PageCount(file_no=file.file_no, problem=decisions.problem_from(e, file.name))


def read_page(job: PageJob) -> PageResult:
    """Cleanup and OCR one page of a stored original (see ``flows.digitize.ocr_page``)."""
    from extraction import start_warm_up
    from ocr import pool

    rt = get_runtime()
    key = ocr_key(job.sha256, job.source_page)
    cleaned = cleaned_key(job.sha256, job.source_page)
    done = PageResult(file_no=job.file_no, sha256=job.sha256, source_page=job.source_page,
                      ocr_key=key, cleaned_key=cleaned)
    if rt.store.derived_exists(key):
        emit(ProgressEvent("page_done", job.dossier))
        done.reused = True
        legacy = _legacy_cleaned_key(job.sha256, job.source_page)
        done.cleaned_key = (cleaned if rt.store.derived_exists(cleaned)
                            else legacy if rt.store.derived_exists(legacy) else None)
        return done
    path = local_original(job.sha256)
    rt.ledger.set_pages(job.batch_id, job.file_no, [job.source_page], Stage.reading)
    start_warm_up()  # this process extracts the pages it reads: its loading overlaps OCR
    s = rt.settings
    # Decoded, cleaned and read in the OCR process pool (models kept loaded per worker).
    opts = s.ocr_options()
    outcome = pool.get_pool(s.workers, opts, page_timeout=s.page_timeout_s).run(job.model_copy(
        update={"path": str(path), "opts": opts, "limits": ocr_limits(),
                "want_cleaned_jpeg": True}))
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
    if outcome.cleaned_jpeg is not None:
        jpeg = outcome.cleaned_jpeg
        patiently(f"page {cleaned}", lambda: rt.store.put_derived(cleaned, jpeg, "image/jpeg"),
                  give_up_at)
        done.cleaned_key = cleaned
    data = result.export()
    data["timings"] = {k: round(v, 4) for k, v in outcome.timings.items()}
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    # Written last: its presence is what tells a resumed run that the page is done.
    patiently(f"page {key}", lambda: rt.store.put_derived(key, body, "application/json"),
              give_up_at)
    emit(ProgressEvent("page_done", job.dossier))
    return done


def read_again(ref: PageRef, langs: str, psm: int) -> PageOCR:
    """A page read again as its document type says (``lang``, ``page_layout``), kept beside
    its first reading; ``ref`` then names that reading."""
    from ocr import pool

    rt = get_runtime()
    key = ocr_key(ref.original_sha256, ref.source_page).removesuffix(".json") + \
        f".{langs}.psm{psm}.json"
    if rt.store.derived_exists(key):
        page = PageOCR.from_dict(json.loads(rt.store.get_derived(key)))
    else:
        s = rt.settings
        opts = s.ocr_options(lang=langs, psm=psm)
        path = local_original(ref.original_sha256)
        page = pool.get_pool(s.workers, opts, page_timeout=s.page_timeout_s).run(PageJob(
            path=str(path), source_page=ref.source_page, opts=opts, limits=ocr_limits())
        ).result(str(path))
        rt.store.put_derived(key, json.dumps(page.export(), ensure_ascii=False).encode("utf-8"),
                             "application/json")
    ref.ocr_key = key
    return page


# -- documents --------------------------------------------------------------------------------

def extract(job: ExtractJob) -> list[RecordState]:
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
                                    lambda i, langs, psm: read_again(refs[i], langs, psm))
    by_id = {d.id: d for d in rt.doctypes}
    out: list[RecordState] = []
    # One uploaded file may be a scanned stack of several dossiers cut by separator sheets.
    for dossier_id, idxs in decisions.stack_dossiers(job.dossier_id, ocr_pages):
        part = [ocr_pages[i] for i in idxs]
        docs = extract_documents(part, rt.doctypes,
                                 review_threshold=rt.settings.review_threshold,
                                 calibration=rt.settings.resolved_calibration(),
                                 known=IndexKnown(rt.index),
                                 reread=line_reader([refs[i] for i in idxs], part)
                                 if rt.settings.second_reading else None)
        for n, doc in enumerate(docs, start=1):
            out.append(store_record(job, dossier_id, n, doc, [refs[i] for i in idxs], part,
                                    by_id))
    return out


def line_reader(refs: list[PageRef], pages: list[PageOCR]) -> LineReader:
    """Lines of a dossier's stored cleaned pages read again in the OCR pool
    (``extraction.reread``). A page with no stored image, or a reading the pool could not
    make, gives None: the value stays with the reviewer."""
    from ocr import pool
    from ocr.reread import read_lines

    rt = get_runtime()
    images: dict[int, bytes] = {}

    def read(i: int, boxes: list[BBox]) -> list[str] | None:
        key = refs[i].cleaned_key if 0 <= i < len(refs) else None
        if key is None:
            return None
        s = rt.settings
        try:
            if i not in images:
                images[i] = rt.store.get_derived(key)
            opts = s.ocr_options()
            texts: list[str] = pool.get_pool(s.workers, opts, page_timeout=s.page_timeout_s) \
                .call(read_lines, images[i], boxes, pages[i].dpi or 300, opts).result()
            return texts
        except Exception as e:  # noqa: BLE001 - a second reading is optional
            log.warning("page %d's lines not read again (%s): its values stay for review",
                        i, type(e).__name__)
            return None

    return read


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
    return rt.store.put_derived(pdf_key(record_id), data, "application/pdf")


def store_record(job: ExtractJob, dossier_id: str, n: int, doc: ExtractedDocument,
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


# -- a dossier's bookkeeping ------------------------------------------------------------------

def known_files(files: Sequence[BatchFile]) -> list[IngestFileResult | None]:
    """What the index knows of each stored file (digitized before), in order."""
    rt = get_runtime()
    return [rt.index.find_file(f.sha256) for f in files if f.sha256]


def mark_counted(plan: BatchPlan, file_no: int, pages: int) -> None:
    """A file's pages are counted: each is queued, the file is being read."""
    rt = get_runtime()
    rt.ledger.set_pages(plan.batch_id, file_no, range(pages), Stage.queued)
    rt.ledger.set_file(plan.batch_id, file_no, Stage.reading, pages=pages)


def page_results(plan: BatchPlan,
                 outcomes: Iterable[tuple[PageJob, PageResult | None, Exception | None]]
                 ) -> list[PageResult]:
    """Each page's result for its own file: a page read for another file of the batch (the
    same content) is copied to this one, a page whose task raised gets its problem, and the
    ledger says which pages failed."""
    rt = get_runtime()
    results: list[PageResult] = []
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
    return results


def failed_files(plan: BatchPlan, d: BatchDossier, problems: Mapping[int, FileProblem],
                 results: Sequence[PageResult]) -> dict[int, FileProblem]:
    """The dossier's failed files (refused or unreadable, or with a page that failed), each
    marked failed in the ledger."""
    rt = get_runtime()
    failed = dict(problems)
    for f in d.files:
        problem = decisions.file_problem(f, results)
        if problem is not None:
            failed.setdefault(f.file_no, problem)
    for no, problem in failed.items():
        rt.ledger.set_file(plan.batch_id, no, Stage.failed, problem=problem)
        emit(ProgressEvent("file_failed", d.name, detail=problem.text))
    return failed


def mark_extracting(plan: BatchPlan, good: Sequence[PageResult]) -> None:
    """The files (and pages) about to be extracted."""
    rt = get_runtime()
    for no in {p.file_no for p in good}:
        rt.ledger.set_file(plan.batch_id, no, Stage.extracting)
        rt.ledger.set_pages(plan.batch_id, no, [p.source_page for p in good
                                                if p.file_no == no], Stage.extracting)


def extraction_failed(plan: BatchPlan, d: BatchDossier, file_nos: Iterable[int],
                      error: BaseException) -> dict[int, FileProblem]:
    """The files whose extraction raised ``error``, each marked failed in the ledger."""
    rt = get_runtime()
    names = {f.file_no: f.name for f in d.files}
    failed: dict[int, FileProblem] = {}
    for no in file_nos:
        failed[no] = decisions.problem_from(error, names[no])
        rt.ledger.set_file(plan.batch_id, no, Stage.failed, problem=failed[no])
    return failed


def file_results(plan: BatchPlan, d: BatchDossier, failed: Mapping[int, FileProblem],
                 pages: Mapping[int, int], states: Sequence[RecordState]
                 ) -> list[IngestFileResult]:
    """The dossier's files' report lines, once its records are stored: each file's stage in
    the ledger, and the file registered as digitized."""
    rt = get_runtime()
    record_ids = [s.record_id for s in states]
    out = []
    for f in d.files:
        problem = failed.get(f.file_no)
        n = pages.get(f.file_no, 0)
        if problem is None:
            stage = decisions.file_stage(None, [s.status for s in states])
            rt.ledger.set_pages(plan.batch_id, f.file_no, range(n), stage)
            rt.ledger.set_file(plan.batch_id, f.file_no, stage, record_ids=record_ids)
        result = decisions.ingest_result(f, d.dossier_id, status=FileStatus.accepted,
                                         pages=n, problem=problem, record_ids=record_ids)
        # Registered last: a crash before this point makes the next run redo the dossier.
        rt.index.record_file(result, plan.batch_id)
        out.append(result)
    emit(ProgressEvent("dossier_done", d.name))
    return out


def duplicate_results(plan: BatchPlan, d: BatchDossier,
                      duplicate_of: Mapping[int, IngestFileResult | None],
                      problems: Mapping[int, FileProblem]) -> list[IngestFileResult]:
    """A dossier digitized before, file for file: its files point at the earlier records."""
    rt = get_runtime()
    out = []
    for f in d.files:
        k = duplicate_of.get(f.file_no)
        problem = problems.get(f.file_no)
        if problem is not None or k is None:
            problem = problem or FileProblem(kind="InternalError", message=f"{f.name}: lost",
                                             hint=decisions.INTERNAL_HINT)
            rt.ledger.set_file(plan.batch_id, f.file_no, Stage.failed, problem=problem)
            out.append(decisions.ingest_result(f, d.dossier_id, status=FileStatus.failed,
                                               pages=0, problem=problem, record_ids=[]))
            continue
        rt.ledger.set_file(plan.batch_id, f.file_no, Stage.duplicate, pages=k.pages,
                           record_ids=k.record_ids)
        out.append(decisions.ingest_result(f, d.dossier_id, status=FileStatus.duplicate,
                                           pages=k.pages, problem=None,
                                           record_ids=k.record_ids))
    emit(ProgressEvent("dossier_done", d.name, detail="duplicate"))
    return out


def failure_results(plan: BatchPlan, d: BatchDossier, error: Exception
                    ) -> list[IngestFileResult]:
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


# -- the batch's lease ------------------------------------------------------------------------

class Heartbeat:
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

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
