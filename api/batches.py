"""``/v1/batches``: upload a batch (multipart) and follow it per file, page and record.

An upload is acknowledged (202) only once every accepted original is durable in the object
store and the batch is queued; files are streamed to disk, never held whole in memory. A file
that cannot be accepted (empty, over the per-file limit) gets its own error and the rest goes
on; a request over ``DOSSIER_MAX_UPLOAD_BYTES`` is refused whole with 413. The upload page and
``dossier ingest`` accept batches through the same code (``storage/intake.py``).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import AsyncGenerator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api.auth import any_scope
from api.errors import N_, PlainHTTPError
from api.schema import (
    BATCH_UPLOAD,
    FILE_UPLOAD,
    BatchList,
    BatchReceipt,
    ReplaceReceipt,
    errors,
)
from models.batches import BatchPlan, BatchStatus, BatchSummary
from models.errors import NotFoundError
from models.records import ApiKeyInfo
from models.settings import Settings

__all__ = ["router", "accept_upload", "submit", "upload_limit_error", "read_multipart",
           "clean_text"]

log = logging.getLogger(__name__)

router = APIRouter()


class _Parser(MultiPartParser):
    # Each part goes to disk past 64 KiB, so 200 pages at once stay small in memory.
    spool_max_size = 64 * 1024


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# Control and format characters (NUL, line breaks, bidirectional overrides) have no place in
# a file name or a station: the index (PostgreSQL) refuses NUL and they garble every list.
_DROPPED = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
MAX_FIELD_CHARS = 200
# File numbers count a batch's files (replacements included); the index keeps them as 32-bit
# integers.
MAX_FILE_NO = 2**31 - 1


def clean_text(value: str) -> str:
    """``value`` without control or format characters, trimmed."""
    return "".join(c for c in value if unicodedata.category(c) not in _DROPPED).strip()


def _field(fields: dict[str, str], name: str) -> str | None:
    raw = fields.get(name) or ""
    value = clean_text(raw)
    if len(raw) > MAX_FIELD_CHARS:  # as sent, as the OpenAPI's maxLength counts
        raise PlainHTTPError(400, N_("The field '{name}' is over {limit} characters."),
                             N_("Send a shorter value."), kind="FieldTooLong", name=name,
                             limit=MAX_FIELD_CHARS)
    return value or None


def upload_limit_error(limit: int, size: int | None = None) -> PlainHTTPError:
    if size:
        return PlainHTTPError(413, N_("The upload is {size} bytes, over the limit of {limit} "
                                      "bytes (DOSSIER_MAX_UPLOAD_BYTES)."),
                              N_("Send fewer files at once."), kind="UploadTooLarge",
                              size=size, limit=limit)
    return PlainHTTPError(413, N_("The upload is over the limit of {limit} bytes "
                                  "(DOSSIER_MAX_UPLOAD_BYTES)."),
                          N_("Send fewer files at once."), kind="UploadTooLarge", limit=limit)


def _require_multipart(request: Request, part: str) -> None:
    main, _, params = request.headers.get("content-type", "").partition(";")
    if main.strip().lower() != "multipart/form-data" or "boundary=" not in params.lower():
        raise PlainHTTPError(415, N_("The request is not multipart/form-data."),
                             N_("Send the files as multipart/form-data, each in a part named "
                                "'{part}'."), kind="UnsupportedMediaType", part=part)


async def read_multipart(request: Request, limit: int, *, part: str = "files"
                         ) -> list[tuple[str, str | UploadFile]]:
    """The request's multipart parts, files spooled to disk; 415 when the body is not
    multipart (``part`` names the part the files go in), 413 past ``limit`` bytes."""
    _require_multipart(request, part)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise upload_limit_error(limit, int(declared))

    async def counted() -> AsyncGenerator[bytes, None]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                raise upload_limit_error(limit)
            yield chunk

    try:
        form = await _Parser(request.headers, counted(), max_files=10_000,
                             max_fields=100).parse()
    except MultiPartException as e:
        log.info("upload refused, not valid multipart: %s", e.message)
        raise PlainHTTPError(400, N_("The upload is not valid multipart/form-data."),
                             N_("Send it again; if it keeps failing, check the program that "
                                "sends it."), kind="BadMultipart") from e
    return form.multi_items()


def submit(request: Request, batch_id: str) -> str | None:
    """Hand the batch to Prefect; None if that failed (the watchdog submits it later: the
    originals are durable and the batch is queued, so the upload stands)."""
    fn: Callable[[str], str] | None = getattr(request.app.state, "submit_batch", None)
    if fn is None:
        from flows.service import submit_batch

        fn = submit_batch
    try:
        run_id = fn(batch_id)
    except Exception as e:  # noqa: BLE001 - Prefect unreachable: the watchdog retries
        log.warning("batch %s accepted but not yet submitted: %s", batch_id, e)
        return None
    _ledger(request).submitted(batch_id, run_id)
    return run_id


def _ledger(request: Request):
    from storage.batches import BatchLedger

    return BatchLedger(request.app.state.index)


async def accept_upload(request: Request, parts: list[tuple[str, str | UploadFile]], *,
                        station: str | None, operator: str | None) -> BatchPlan:
    """Store the uploaded files of ``parts`` (field ``files``) as a new batch and submit it."""
    from storage.intake import Upload, accept_batch

    s = _settings(request)
    uploads = [Upload(name=clean_text(v.filename or "") or "unnamed", stream=v.file)
               for k, v in parts if k == "files" and isinstance(v, UploadFile)]
    if not uploads:
        raise PlainHTTPError(422, N_("No files were sent."),
                             N_("Send each file in a multipart part named 'files'."),
                             kind="NoFiles")
    try:
        plan = await run_in_threadpool(
            accept_batch, uploads, store=request.app.state.store, ledger=_ledger(request),
            spool_dir=s.resolved_spool_dir(), max_file_bytes=s.max_file_bytes, station=station,
            operator=operator)
    finally:
        for _, v in parts:
            if isinstance(v, UploadFile):
                await v.close()
    await run_in_threadpool(submit, request, plan.batch_id)
    return plan


def _receipt(plan: BatchPlan) -> dict[str, Any]:
    return {"batch_id": plan.batch_id, "status_url": f"/v1/batches/{plan.batch_id}",
            "files": [{"file_no": f.file_no, "dossier": f.dossier, "name": f.name,
                       "sha256": f.sha256, "size": f.size, "accepted": f.problem is None,
                       "error": f.problem.text if f.problem else None,
                       "error_kind": f.problem.kind if f.problem else None}
                      for f in plan.files]}


write = Depends(any_scope("batches:write"))
read = Depends(any_scope("batches:read", "batches:write"))


@router.post("/v1/batches", status_code=202, response_model=BatchReceipt,
             responses=errors(400, 413, 415), openapi_extra=BATCH_UPLOAD)
async def create_batch(request: Request, key: ApiKeyInfo = write) -> dict[str, Any]:
    """Upload files as one batch (multipart parts named ``files``; a part's file name
    ``folder/page.png`` puts it in dossier ``folder``; optional fields ``station`` and
    ``operator``). 202 with the batch id once the originals are durable."""
    s = _settings(request)
    parts = await read_multipart(request, s.max_upload_bytes)
    fields = {k: v for k, v in parts if isinstance(v, str)}
    plan = await accept_upload(request, parts, station=_field(fields, "station"),
                               operator=_field(fields, "operator") or key.name)
    return _receipt(plan)


@router.get("/v1/batches", response_model=BatchList, responses=errors())
def list_batches(request: Request, station: str | None = None, limit: int = 20,
                 _key: ApiKeyInfo = read) -> dict[str, list[BatchSummary]]:
    return {"batches": _ledger(request).recent(station, min(max(limit, 1), 200))}


@router.get("/v1/batches/{batch_id}", responses=errors(404))
def get_batch(batch_id: str, request: Request, _key: ApiKeyInfo = read) -> BatchStatus:
    from api.health import with_waiting

    try:
        return with_waiting(request.app.state, _ledger(request).status(batch_id))
    except NotFoundError as e:
        raise NotFoundError(f"no batch {batch_id}") from e


@router.post("/v1/batches/{batch_id}/files/{file_no}", status_code=202,
             response_model=ReplaceReceipt, responses=errors(400, 404, 413, 415),
             openapi_extra=FILE_UPLOAD)
async def replace_file(batch_id: str, file_no: Annotated[int, Path(ge=1, le=MAX_FILE_NO)],
                       request: Request,
                       _key: ApiKeyInfo = write) -> dict[str, Any]:
    """Replace one file of a batch (one multipart part named ``file``) in the same dossier;
    the batch runs again for it."""
    new_no = await replace_from_request(request, batch_id, file_no, station=None)
    return {"batch_id": batch_id, "file_no": new_no, "replaces": file_no,
            "status_url": f"/v1/batches/{batch_id}"}


async def replace_from_request(request: Request, batch_id: str, file_no: int,
                               station: str | None) -> int:
    """Store the one file of a replace request (multipart part ``file``) in place of file
    ``file_no``, run the batch again, and return the new file's number (API and page)."""
    from storage.intake import Upload, accept_replacement

    s = _settings(request)
    parts = await read_multipart(request, s.max_upload_bytes, part="file")
    files = [v for k, v in parts if k == "file" and isinstance(v, UploadFile)]
    if len(files) != 1:
        for _, v in parts:
            if isinstance(v, UploadFile):
                await v.close()
        raise PlainHTTPError(422, N_("Send exactly one file."),
                             N_("Send it in a multipart part named 'file'."), kind="OneFile")
    try:
        new_no = await run_in_threadpool(
            accept_replacement, Upload(name=clean_text(files[0].filename or "") or "unnamed",
                                       stream=files[0].file),
            batch_id=batch_id, file_no=file_no, store=request.app.state.store,
            ledger=_ledger(request), spool_dir=s.resolved_spool_dir(),
            max_file_bytes=s.max_file_bytes, station=station)
    except NotFoundError as e:
        raise PlainHTTPError(404, N_("File {file_no} of batch {batch_id} cannot be replaced: it does "
                                "not exist or was already replaced."),
                             N_("Reload the page to see the batch as it is now."),
                             kind="NotFound", batch_id=batch_id, file_no=str(file_no)) from e
    finally:
        await files[0].close()
    await run_in_threadpool(submit, request, batch_id)
    return int(new_no)
