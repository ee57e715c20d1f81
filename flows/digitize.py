"""The Prefect flow that digitizes a batch. It only wires the stages together:
store originals -> cleanup + OCR per page (in parallel) -> classify, split, extract per
dossier -> record JSON to S3 and a row to the index."""

from __future__ import annotations

import json
import logging
import os
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path

import cv2
from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows.plan import DossierInput, dossier_id_for, sha256_file
from flows.progress import ProgressEvent, emit
from flows.runtime import get_runtime
from models import errors
from models.errors import DossierError, InputFileError, NotFoundError, StorageError
from models.ocr import PageOCR
from models.records import (
    AuditAction,
    AuditEvent,
    FileStatus,
    IndexEntry,
    IngestFileResult,
    IngestReport,
    PageRef,
    Record,
    RecordStatus,
    utcnow,
)

__all__ = ["digitize_batch", "new_batch_id", "store_original", "ocr_page", "extract_dossier"]

log = logging.getLogger(__name__)

_CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                  ".tif": "image/tiff", ".tiff": "image/tiff", ".pdf": "application/pdf"}


def new_batch_id() -> str:
    return datetime.now(UTC).strftime("B%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def _transient(task, task_run, state) -> bool:
    """Retry only store hiccups; a bad scan fails the same way every time."""
    try:
        state.result()
    except StorageError:
        return True
    except Exception:  # noqa: BLE001 - anything else is not worth a retry
        return False
    return False


@task(name="store-original", retries=3, retry_delay_seconds=[2, 5, 15],
      retry_condition_fn=_transient, cache_policy=NO_CACHE)
def store_original(path: str, sha256: str, station: str | None) -> str:
    """Upload an original (content-addressed, never overwritten); durable when this returns."""
    rt = get_runtime()
    p = Path(path)
    ref = rt.store.put_original(p, filename=p.name,
                                content_type=_CONTENT_TYPES.get(p.suffix.lower(),
                                                                "application/octet-stream"),
                                metadata={"station": station} if station else None)
    if ref.sha256 != sha256:
        raise StorageError(f"{p.name} changed while it was being uploaded", path=path,
                           hint="wait until the scanner has finished writing, then ingest again")
    return ref.key


def _local_original(sha256: str) -> Path:
    """The original's bytes on local disk, fetched from the object store if not cached."""
    rt = get_runtime()
    cached = rt.cache_dir / sha256
    if not cached.exists():
        tmp = cached.with_suffix(f".{os.getpid()}.{secrets.token_hex(3)}.part")
        rt.store.download_original(sha256, tmp)
        os.replace(tmp, cached)
    return cached


def _ocr_key(sha256: str, source_page: int) -> str:
    return f"ocr/{sha256}/{source_page:04d}.json"


def _cleaned_key(sha256: str, source_page: int) -> str:
    return f"cleaned/{sha256}/{source_page:04d}.png"


@task(name="ocr-page", cache_policy=NO_CACHE)
def ocr_page(sha256: str, source_page: int, dossier: str) -> str | dict:
    """Cleanup and OCR one page of a stored original; returns the OCR JSON's key, or
    ``{"error", "kind", "hint"}`` when the page cannot be decoded.

    Keys are content-addressed, so a page already done (a re-run after a crash) is skipped.
    """
    from ocr.loading import Limits, load_page
    from ocr.pipeline import OcrOptions, ocr_loaded_page

    rt = get_runtime()
    key = _ocr_key(sha256, source_page)
    if rt.store.derived_exists(key):
        emit(ProgressEvent("page_done", dossier))
        return key
    s = rt.settings
    path = _local_original(sha256)
    limits = Limits(s.max_file_bytes, s.max_image_pixels, s.max_pages, s.pdf_render_dpi)
    try:
        page = load_page(path, source_page, limits)
    except InputFileError as e:
        # An expected per-file outcome, not a task crash: the flow reports it on the file.
        emit(ProgressEvent("page_done", dossier))
        return {"error": f"page {source_page + 1}: {e.message}", "kind": e.kind, "hint": e.hint}
    result = ocr_loaded_page(page, OcrOptions(lang=s.lang, tesseract_cmd=s.tesseract_cmd,
                                              timeout=s.tesseract_timeout_s),
                             path=path, index=source_page)
    if result.cleaned is not None:
        ok, png = cv2.imencode(".png", result.cleaned, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        if ok:
            rt.store.put_derived(_cleaned_key(sha256, source_page), png.tobytes(), "image/png")
    data = result.ocr.export()
    data["timings"] = {k: round(v, 4) for k, v in result.timings.items()}
    rt.store.put_derived(key, json.dumps(data, ensure_ascii=False).encode("utf-8"),
                         "application/json")
    emit(ProgressEvent("page_done", dossier))
    return key


def _stored_version(record: Record) -> tuple[Record, str | None] | None:
    """The stored record to keep instead of this machine extraction, with its version id:
    one holding this very extraction (a run resumed after a crash between storing the record
    and registering the files), or one a person has touched, which a machine run never
    overwrites. None when this extraction is to be stored; then its revision follows the
    stored one's."""
    rt = get_runtime()
    try:
        versions = rt.store.record_versions(record.record_id)
        old = Record.from_json(rt.store.get_record(record.record_id, versions[0].version_id))
    except NotFoundError:
        return None
    same = {"doctype", "fields", "pages", "citizen_ids", "status"}
    if old.touched_by_person or old.model_dump(include=same) == record.model_dump(include=same):
        return old, versions[0].version_id
    record.revision = old.revision + 1
    return None


@task(name="extract-dossier", retries=2, retry_delay_seconds=[2, 5],
      retry_condition_fn=_transient, cache_policy=NO_CACHE)
def extract_dossier(dossier_id: str, batch_id: str, pages: list[dict],
                    station: str | None, operator: str | None) -> list[str]:
    """Classify, split and extract a dossier's pages; store one record per document."""
    from extraction import citizen_ids_of, extract_documents

    rt = get_runtime()
    ocr_pages: list[PageOCR] = []
    refs: list[PageRef] = []
    for i, p in enumerate(pages):
        data = json.loads(rt.store.get_derived(p["ocr_key"]))
        page = PageOCR.from_dict(data)
        page.index = i
        ocr_pages.append(page)
        cleaned = _cleaned_key(p["sha256"], p["source_page"])
        refs.append(PageRef(index=i, original_sha256=p["sha256"], source_page=p["source_page"],
                            ocr_key=p["ocr_key"],
                            cleaned_key=cleaned if rt.store.derived_exists(cleaned) else None,
                            ocr_confidence=round(page.confidence, 4)))
    docs = extract_documents(ocr_pages, rt.doctypes,
                             review_threshold=rt.settings.review_threshold)
    by_id = {d.id: d for d in rt.doctypes}
    record_ids = []
    for n, doc in enumerate(docs, start=1):
        record_id = f"{dossier_id}-{n:02d}"
        # Settled only when every field is accepted: a missing field needs a person to say
        # it is not on the document before the record is served as complete.
        needs_review = doc.doctype not in by_id or not all(f.settled for f in doc.fields)
        now = utcnow()
        record = Record(
            record_id=record_id, dossier_id=dossier_id, batch_id=batch_id,
            doctype=doc.doctype, title=doc.title,
            status=RecordStatus.needs_review if needs_review else RecordStatus.extracted,
            classification_confidence=doc.classification_confidence, fields=doc.fields,
            pages=[refs[i] for i in doc.pages],
            citizen_ids=citizen_ids_of(doc, by_id.get(doc.doctype), ocr_pages),
            station=station, operator=operator, created_at=now, updated_at=now)
        kept = _stored_version(record)
        if kept is None:
            event = AuditEvent(event_id=uuid.uuid4().hex, record_id=record_id,
                               action=AuditAction.extracted, actor="machine", at=now,
                               record_version=record.revision)
            rt.store.put_audit_event(event)
            version = rt.store.put_record(record_id, record.to_json(),
                                          tags={"doctype": record.doctype,
                                                "status": record.status.value})
            rt.index.add_audit_events([event], record.doctype)
        else:
            record, version = kept
        # The index describes what is stored, never a discarded machine reading.
        rt.index.upsert_record(IndexEntry.from_record(record, rt.store.record_location(record_id),
                                                      version))
        record_ids.append(record_id)
    return record_ids


_INPUT_ERRORS = {c.__name__: c for c in vars(errors).values()
                 if isinstance(c, type) and issubclass(c, InputFileError)}


def _fail(result: IngestFileResult, err: Exception) -> None:
    result.status = FileStatus.failed
    result.error = str(err)
    result.error_kind = type(err).__name__ if isinstance(err, DossierError) else "InternalError"


@flow(name="digitize-batch", task_runner=ThreadPoolTaskRunner(max_workers=os.cpu_count() or 2),
      log_prints=False)
def digitize_batch(dossiers: list[dict], batch_id: str, station: str | None = None,
                   operator: str | None = None) -> dict:
    """Digitize a batch of dossiers; each is ``{"name": str, "files": [path, ...]}``.

    Returns an :class:`IngestReport` as a dict. A failing file never stops the rest.
    """
    from ocr.loading import Limits, count_pages

    rt = get_runtime()
    s = rt.settings
    limits = Limits(s.max_file_bytes, s.max_image_pixels, s.max_pages, s.pdf_render_dpi)
    report = IngestReport(batch_id=batch_id, station=station, operator=operator)
    plans = []
    for d in (DossierInput(x["name"], [Path(f) for f in x["files"]]) for x in dossiers):
        results: list[IngestFileResult] = []
        hashes: list[str] = []
        for f in d.files:
            r = IngestFileResult(path=str(f), dossier=d.name, status=FileStatus.accepted)
            results.append(r)
            try:
                r.sha256 = sha256_file(f)
                hashes.append(r.sha256)
            except OSError as e:
                _fail(r, InputFileError(f"cannot read the file: {e.strerror}", path=str(f)))
        dossier_id = dossier_id_for(hashes)
        # Originals first: nothing is reported accepted before it is durable in the store.
        uploads = {r.path: store_original.submit(r.path, r.sha256, station)
                   for r in results if r.sha256}
        for r in results:
            r.dossier_id = dossier_id
            if r.path in uploads:
                try:
                    uploads[r.path].result()
                except DossierError as e:
                    _fail(r, e)
        known = [rt.index.find_file(r.sha256) for r in results if r.sha256]
        if known and all(k is not None and k.status in (FileStatus.accepted, FileStatus.duplicate)
                         and k.dossier_id == dossier_id for k in known):
            for r, k in zip([r for r in results if r.sha256], known, strict=True):
                r.status, r.record_ids, r.pages = FileStatus.duplicate, k.record_ids, k.pages
            report.files.extend(results)
            emit(ProgressEvent("dossier_done", d.name, detail="duplicate"))
            continue
        pages: list[tuple[IngestFileResult, int]] = []
        for r in results:
            if r.status == FileStatus.failed:
                continue
            try:
                r.pages = count_pages(Path(r.path), limits)
            except DossierError as e:
                _fail(r, e)
                continue
            pages.extend((r, i) for i in range(r.pages))
        emit(ProgressEvent("pages_planned", d.name, count=len(pages)))
        futures = [(r, i, ocr_page.submit(r.sha256, i, d.name)) for r, i in pages]
        plans.append((d, dossier_id, results, futures))

    for d, dossier_id, results, futures in plans:
        done_pages = []
        for r, i, fut in futures:
            try:
                out = fut.result()
                if isinstance(out, dict):
                    raise _INPUT_ERRORS.get(out["kind"], InputFileError)(
                        out["error"], path=r.path, hint=out["hint"])
                done_pages.append({"sha256": r.sha256, "source_page": i, "ocr_key": out})
            except DossierError as e:
                e.path = r.path  # the user's file, not the local cache copy
                if r.status != FileStatus.failed:
                    _fail(r, e)
                    emit(ProgressEvent("file_failed", d.name, detail=str(e)))
        good = {r.sha256 for r in results if r.status != FileStatus.failed}
        done_pages = [p for p in done_pages if p["sha256"] in good]
        record_ids: list[str] = []
        if done_pages:
            try:
                record_ids = extract_dossier.submit(dossier_id, batch_id, done_pages, station,
                                                    operator).result()
            except DossierError as e:
                for r in results:
                    if r.status != FileStatus.failed:
                        _fail(r, e)
        for r in results:
            if r.status != FileStatus.failed:
                r.record_ids = record_ids
            # Registered last: a crash before this point makes the next run redo the dossier.
            if r.sha256:
                rt.index.record_file(r, batch_id)
        report.files.extend(results)
        emit(ProgressEvent("dossier_done", d.name))
    report.finished_at = utcnow()
    return report.model_dump(mode="json")
