"""``GET /v1/citizens/{id}/access-log`` (scope ``access-log:read``): who read a citizen's
data through ``/v1``, when, with which key and agency, which records and why; newest first,
as JSON or as CSV a citizen can be handed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from api.auth import require_scope
from api.schema import CITIZEN_ID, CURSOR, AccessLogPage, errors
from models.errors import InvalidParameterError
from models.records import ApiKeyInfo
from storage.access import AccessLog, export_csv

__all__ = ["router", "ACCESS_LOG_READ"]

ACCESS_LOG_READ = "access-log:read"
router = APIRouter(prefix="/v1", tags=["access log"])
Auditor = Annotated[ApiKeyInfo, Depends(require_scope(ACCESS_LOG_READ))]


def check_citizen_id(citizen_id: str) -> None:
    if not (citizen_id.isdigit() and len(citizen_id) == 12):
        raise InvalidParameterError("a citizen ID is 12 digits")


@router.get("/citizens/{citizen_id}/access-log",
            responses={200: {"model": AccessLogPage,
                             "content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "JSON, or CSV with format=csv"}, **errors()})
def access_log(citizen_id: Annotated[str, Path(pattern=CITIZEN_ID)], request: Request,
               _key: Auditor,
               before: Annotated[str | None, Query(
                   description="the `next` of the previous page", pattern=CURSOR)] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               format: Annotated[Literal["json", "csv"], Query(  # noqa: A002 - its name
                   description="json (default) or csv (every read, for the citizen)")] = "json",
               ) -> Any:
    """Every read of this citizen's data through ``/v1``: time, agency, key, what was read
    (citizen lookup, record, PDF, original, search hit), the records and the purpose."""
    check_citizen_id(citizen_id)
    if before is not None and not before.isdigit():
        raise InvalidParameterError("before must be the `next` of a previous answer")
    log = AccessLog(request.app.state.index)
    if format == "csv":
        text = export_csv(list(log.all_for_citizen(citizen_id)))
        return Response(text.encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="access-log-{citizen_id}.csv"'})
    if format != "json":
        raise InvalidParameterError("format is json or csv")
    entries, nxt = log.for_citizen(citizen_id, limit=limit,
                                   before=int(before) if before else None)
    return {"citizen_id": citizen_id, "count": len(entries),
            "next": str(nxt) if nxt is not None else None,
            "entries": [e.model_dump(mode="json") for e in entries]}
