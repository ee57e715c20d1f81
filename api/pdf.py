"""A record's files for other systems: its searchable PDF (page images with the recognized
text as an invisible layer) and its original scans, fetched from the object store through
short-lived presigned URLs (scope ``originals:read``), never streamed through the API.

Each URL issued is a read of citizen data: it needs a purpose and is recorded in the access
log. The URLs name the object store as clients reach it (``DOSSIER_S3_PUBLIC_URL``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from api.auth import require_scope, required_purpose
from api.records import log_access, readable_entry
from api.schema import PURPOSE_PARAM, PresignedUrl, RecordOriginals, errors
from models.access import AccessAction, Purpose
from models.errors import NotFoundError
from models.records import ApiKeyInfo, Record, utcnow

__all__ = ["router", "ORIGINALS_READ"]

ORIGINALS_READ = "originals:read"
router = APIRouter(prefix="/v1", tags=["records"])
Files = Annotated[ApiKeyInfo, Depends(require_scope(ORIGINALS_READ))]
Why = Annotated[Purpose, Depends(required_purpose)]


def _ttl(request: Request) -> timedelta:
    return timedelta(minutes=request.app.state.settings.presign_minutes)


@router.get("/records/{record_id}/pdf", status_code=307, response_class=Response,
            responses={307: {"model": PresignedUrl,
                             "description": "Location: a presigned URL of the PDF; the body "
                                            "says the same as JSON {url, expires_at}"},
                       200: {"model": PresignedUrl, "description": "with redirect=false"},
                       **errors(400, 404)},
            openapi_extra={"parameters": [PURPOSE_PARAM]})
def record_pdf(record_id: str, request: Request, key: Files, purpose: Why,
               version: str | None = None,
               redirect: Annotated[bool, Query(
                   description="false: answer 200 with the JSON, no redirect")] = True,
               ) -> Response:
    """The searchable PDF of one record's document (of its latest version, or ``version``),
    as a presigned URL valid for a few minutes: a redirect to it, or JSON."""
    entry = readable_entry(request, key, record_id)
    record = Record.from_json(request.app.state.store.get_record(record_id, version))
    if not record.pdf_key:
        raise NotFoundError(f"record {record_id} has no searchable PDF "
                            "(digitized before PDFs were made: ingest it again)")
    ttl = _ttl(request)
    log_access(request, key, purpose, AccessAction.pdf, [entry])
    url = request.app.state.store.presigned_derived_url(record.pdf_key, ttl,
                                                        content_type="application/pdf")
    body = {"record_id": record_id, "url": url,
            "expires_at": (utcnow() + ttl).isoformat()}
    if not redirect:
        return JSONResponse(body)
    return JSONResponse(body, status_code=307, headers={"Location": url})


@router.get("/records/{record_id}/originals", response_model=RecordOriginals,
            responses=errors(400, 404), openapi_extra={"parameters": [PURPOSE_PARAM]})
def record_originals(record_id: str, request: Request, key: Files,
                     purpose: Why) -> dict[str, Any]:
    """The original scans the record was read from (each file once, in page order), each
    with a presigned URL valid for a few minutes and the pages of the record it holds."""
    entry = readable_entry(request, key, record_id)
    record = Record.from_json(request.app.state.store.get_record(record_id,
                                                                 entry.version_id))
    store = request.app.state.store
    ttl = _ttl(request)
    files: dict[str, dict[str, Any]] = {}
    for p in record.pages:
        f = files.get(p.original_sha256)
        if f is None:
            info = store.original_info(p.original_sha256)
            f = files[p.original_sha256] = {
                "sha256": p.original_sha256, "filename": info.filename,
                "content_type": info.content_type, "size": info.size, "pages": []}
        f["pages"].append({"record_page": p.index, "file_page": p.source_page})
    log_access(request, key, purpose, AccessAction.original, [entry])
    expires = (utcnow() + ttl).isoformat()
    for f in files.values():
        f["url"] = store.presigned_original_url(f["sha256"], ttl,
                                                filename=f["filename"] or None)
        f["expires_at"] = expires
    return {"record_id": record_id, "originals": list(files.values())}
