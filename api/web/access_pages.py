"""The staff page of the access log: enter a citizen ID, see who read that citizen's data
through ``/v1`` (when, agency, key, what, records, purpose), and hand the citizen the CSV."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.web.common import render, require_user
from models.access import AccessEntry
from models.accounts import Role, UserInfo
from storage.access import AccessLog, export_csv

__all__ = ["router"]

router = APIRouter(prefix="/access-log")
Staff = Annotated[UserInfo, Depends(require_user(Role.reviewer))]


def _valid(citizen_id: str) -> bool:
    return citizen_id.isdigit() and len(citizen_id) == 12


@router.get("", include_in_schema=False)
def access_log_page(request: Request, user: Staff, citizen_id: str = "",
                    before: int | None = None) -> Response:
    citizen_id = "".join(citizen_id.split())
    entries: list[AccessEntry] = []
    nxt: int | None = None
    invalid = False
    if citizen_id:
        if _valid(citizen_id):
            entries, nxt = AccessLog(request.app.state.index).for_citizen(
                citizen_id, limit=100, before=before)
        else:
            invalid = True
    return render(request, "access_log.html", {"citizen_id": citizen_id, "entries": entries,
                                               "next": nxt, "invalid": invalid})


@router.get("/export.csv", include_in_schema=False)
def access_log_csv(request: Request, user: Staff, citizen_id: str) -> Response:
    citizen_id = "".join(citizen_id.split())
    if not _valid(citizen_id):
        from api.errors import PlainHTTPError

        raise PlainHTTPError(422, "A citizen ID is 12 digits.", kind="InvalidInput")
    text = export_csv(list(AccessLog(request.app.state.index).all_for_citizen(citizen_id)))
    return Response(text.encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="access-log-{citizen_id}.csv"'})
