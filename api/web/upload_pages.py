"""The scanning station's upload page: drop files or whole folders (a folder is a dossier),
watch each dossier and page go through (server-sent events), replace a failed file, see the
station's recent batches and open a dossier's records. While the object store or the index is
unreachable, an unfinished batch says it is waiting for storage (nothing is lost: its worker
retries) and goes back to its progress once the store is back.

Uploads go through the same code as ``POST /v1/batches`` (``api/batches.py``); the page
sends the CSRF token as the ``x-csrftoken`` header, so the upload body is never buffered.
Station and operator come from the login.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.errors import N_, PlainHTTPError
from api.health import stores_down
from api.web.common import render, require_user
from api.web.i18n import gettext as _
from models.accounts import Role, UserInfo
from models.batches import BatchState, BatchStatus
from models.errors import NotFoundError, StorageError
from storage.faults import is_outage

__all__ = ["router", "plain_problem"]

router = APIRouter()
Operator = Annotated[UserInfo, Depends(require_user(Role.operator))]


def stage_words() -> dict[str, str]:
    return {"queued": _("Queued"), "reading": _("Reading"), "extracting": _("Extracting"),
            "done": _("Done"), "needs_review": _("Needs review"),
            "duplicate": _("Already digitized"), "failed": _("Failed")}


def plain_problem(kind: str | None) -> tuple[str, str]:
    """What went wrong and what to do, in the operator's language, by error kind."""
    table = {
        "EmptyFileError": (_("The file is empty."),
                           _("Scan the page again and replace this file.")),
        "CorruptFileError": (_("The file is damaged or cut short."),
                             _("Scan or export it again and replace this file.")),
        "EncryptedPdfError": (_("The PDF is protected by a password."),
                              _("Save it again without a password and replace this file.")),
        "ImageTooLargeError": (_("The image is too large to read safely."),
                               _("Scan at 300 dpi or less and replace this file.")),
        "TooLargeError": (_("The file is over the size limit."),
                          _("Scan at a lower resolution or split it, then replace this file.")),
        "TooManyPagesError": (_("The file has too many pages."),
                              _("Split it into smaller files and upload them.")),
        "UnsupportedFormatError": (_("This is not a scan (JPEG, PNG, TIFF or PDF)."),
                                   _("Upload the scanned image or PDF instead.")),
        "InternalError": (_("The system could not process this file."),
                          _("Replace the file with the same scan; if it fails again, "
                            "tell the administrator.")),
    }
    return table.get(kind or "", (_("The file could not be read."),
                                  _("Check the file, scan it again and replace it.")))


def _ledger(request: Request):
    from storage.batches import BatchLedger

    return BatchLedger(request.app.state.index)


def _may_see(user: UserInfo, station: str | None) -> bool:
    return user.role == Role.admin or user.station is None or user.station == station


def _no_batch(batch_id: str) -> PlainHTTPError:
    return PlainHTTPError(404, N_("There is no batch {batch_id} for this station."),
                          N_("Check the batch number, or open the upload page again."),
                          kind="NotFound", batch_id=batch_id)


def _status(request: Request, user: UserInfo, batch_id: str) -> BatchStatus:
    try:
        status = _ledger(request).status(batch_id)
    except NotFoundError as e:
        raise _no_batch(batch_id) from e
    if not _may_see(user, status.station):
        raise _no_batch(batch_id)
    return status


def _view(status: BatchStatus) -> dict[str, Any]:
    """The batch as the page draws it: dossiers with their files and pages."""
    words = stage_words()
    dossiers: dict[str, dict[str, Any]] = {}
    for f in status.files:
        if f.replaced_by is not None:
            continue
        d = dossiers.setdefault(f.dossier, {"name": f.dossier, "dossier_id": f.dossier_id,
                                            "files": []})
        what, todo = plain_problem(f.error_kind) if f.error else ("", "")
        d["files"].append({
            "file_no": f.file_no, "name": f.name, "stage": f.stage.value,
            "stage_text": words[f.stage.value], "error": f.error, "what": what, "todo": todo,
            "pages": [{"n": p.source_page + 1, "stage": p.stage.value,
                       "text": words[p.stage.value]} for p in f.pages],
            "records": len(f.records)})
    for d in dossiers.values():
        stages = {f["stage"] for f in d["files"]}
        final = stages <= {"done", "needs_review", "duplicate", "failed"}
        d["finished"] = final
        d["stage"] = ("failed" if stages == {"failed"} else "needs_review"
                      if final and "needs_review" in stages else "done" if final
                      else "reading" if stages & {"reading", "extracting"} else "queued")
        d["stage_text"] = words[d["stage"]]
        d["records"] = max((f["records"] for f in d["files"]), default=0)
    return {"batch_id": status.batch_id, "state": status.state.value,
            "finished": status.state == BatchState.finished,
            "dossiers": list(dossiers.values())}


@router.get("/upload", include_in_schema=False)
def upload_page(request: Request, user: Operator, batch: str | None = None) -> Response:
    recent = _ledger(request).recent(None if user.role == Role.admin else user.station, 15)
    return render(request, "upload.html", {
        "recent": recent, "batch": batch or "",
        "words": {"stages": stage_words(), "upload_failed": _("The upload failed"),
                  "replace": _("Replace this file"), "records": _("Open records"),
                  "no_files": _("Choose or drop files first."),
                  "uploading": _("Uploading…"), "received": _("Received and stored safely."),
                  "pages": _("pages"), "what_to_do": _("What to do"),
                  "request_id": _("Request id"),
                  "server_error": _("The server did not answer as expected. Try again.")}})


@router.post("/upload", status_code=202, include_in_schema=False)
async def upload(request: Request, user: Operator) -> dict[str, Any]:
    from api.batches import accept_upload, read_multipart

    parts = await read_multipart(request, request.app.state.settings.max_upload_bytes)
    plan = await accept_upload(request, parts, station=user.station, operator=user.name)
    return {"batch_id": plan.batch_id}


@router.post("/upload/batches/{batch_id}/files/{file_no}", status_code=202,
             include_in_schema=False)
async def replace(batch_id: str, file_no: int, request: Request, user: Operator
                  ) -> dict[str, Any]:
    from api.batches import replace_from_request

    await run_in_threadpool(_status, request, user, batch_id)
    return {"file_no": await replace_from_request(request, batch_id, file_no,
                                                  station=user.station)}


@router.get("/upload/batches/{batch_id}/events", include_in_schema=False)
async def events(batch_id: str, request: Request, user: Operator) -> StreamingResponse:
    """Server-sent events: the batch's view each time it changes, until it is finished."""
    await run_in_threadpool(_status, request, user, batch_id)
    lang_words = stage_words()  # bound to the user's language now, in this request

    async def stream() -> AsyncIterator[str]:
        last = None
        view: dict[str, Any] = {"batch_id": batch_id, "finished": False, "dossiers": []}
        while not await request.is_disconnected():
            try:
                status = await run_in_threadpool(_ledger(request).status, batch_id)
            except StorageError as e:  # the index is down: the last view, waiting for it
                if not is_outage(e):
                    raise
                view["waiting_for"] = ["index"]
            else:
                view = _view(status)
                for d in view["dossiers"]:
                    d["stage_text"] = lang_words[d["stage"]]
                view["waiting_for"] = [] if view["finished"] else await run_in_threadpool(
                    stores_down, request.app.state)
            data = json.dumps(view, ensure_ascii=False, default=str)
            if data != last:
                last = data
                yield f"data: {data}\n\n"
            if view["finished"]:
                yield "event: finished\ndata: {}\n\n"
                return
            await asyncio.sleep(0.7)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})


@router.get("/upload/dossiers/{dossier_id}", include_in_schema=False)
def dossier_records(dossier_id: str, request: Request, user: Operator) -> Response:
    entries = [e for e in _ledger(request).dossier_records(dossier_id)
               if _may_see(user, e.station)]
    if not entries:
        raise NotFoundError(f"no records for dossier {dossier_id}")
    return render(request, "upload_dossier.html", {"dossier_id": dossier_id,
                                                   "entries": entries})
