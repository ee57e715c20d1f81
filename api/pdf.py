"""``GET /v1/records/{record_id}/pdf``: the document's searchable PDF (page images with the
recognized text as an invisible layer), from the derived bucket of the object store."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from api.auth import require_scope
from models.records import ApiKeyInfo, Record

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/records/{record_id}/pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def record_pdf(record_id: str, request: Request, version: str | None = None,
               _key: ApiKeyInfo = Depends(require_scope("records:read"))) -> Response:
    """The searchable PDF of one record's document (of its latest version, or ``version``)."""
    if request.app.state.index.get_record(record_id) is None:
        raise HTTPException(404, f"no record {record_id}")
    record = Record.from_json(request.app.state.store.get_record(record_id, version))
    if not record.pdf_key:
        raise HTTPException(404, f"record {record_id} has no searchable PDF "
                                 "(digitized before PDFs were made: ingest it again)")
    data = request.app.state.store.get_derived(record.pdf_key)
    return Response(content=data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{record_id}.pdf"'})
