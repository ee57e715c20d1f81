"""``/v1`` for other systems: records by citizen ID (settled ones by default), one record,
its versions and its audit trail, and review metrics. Every field in a response carries its
status (accepted by the machine, confirmed or corrected by a person, ...) and provenance."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from api.auth import require_scope
from models.records import ApiKeyInfo, Record, RecordStatus, utcnow
from storage.records import RecordStore

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["records"])
Read = Annotated[ApiKeyInfo, Depends(require_scope("records:read"))]
_STATUSES = {s.value for s in RecordStatus} | {"settled", "all"}


def _record_json(record: Record) -> dict[str, Any]:
    out = record.model_dump(mode="json")
    out["settled"] = record.settled
    return out


@router.get("/citizens/{citizen_id}/records")
def citizen_records(citizen_id: str, request: Request, _key: Read,
                    status: Annotated[list[str] | None, Query(
                        description="record statuses to include (repeat or comma-separate): "
                        "settled (default), extracted, needs_review, in_review, verified, "
                        "rejected, all")] = None) -> dict[str, Any]:
    """Records naming this citizen ID, oldest first.

    By default only settled records: every field accepted by the machine under the
    calibrated rule, or decided by a person. Others only when ``status`` asks for them.
    """
    if not (citizen_id.isdigit() and len(citizen_id) == 12):
        raise HTTPException(422, "a citizen ID is 12 digits")
    wanted = {s.strip() for v in (status or ["settled"]) for s in v.split(",") if s.strip()}
    unknown = wanted - _STATUSES
    if unknown:
        raise HTTPException(422, f"unknown status {', '.join(sorted(unknown))}; use one of "
                                 f"{', '.join(sorted(_STATUSES))}")
    entries = request.app.state.index.records_for_citizen(citizen_id)
    if "all" not in wanted:
        entries = [e for e in entries
                   if ("settled" in wanted and RecordStore.served(e))
                   or e.queue_status.value in wanted]
    out = [_record_json(Record.from_json(request.app.state.store.get_record(e.record_id)))
           for e in entries]
    return {"citizen_id": citizen_id, "statuses": sorted(wanted), "count": len(out),
            "records": out}


@router.get("/records/{record_id}")
def get_record(record_id: str, request: Request, _key: Read,
               version: str | None = None) -> dict[str, Any]:
    if request.app.state.index.get_record(record_id) is None:
        raise HTTPException(404, f"no record {record_id}")
    data = request.app.state.store.get_record(record_id, version)
    return _record_json(Record.from_json(data))


@router.get("/records/{record_id}/versions")
def record_versions(record_id: str, request: Request, _key: Read) -> dict[str, Any]:
    if request.app.state.index.get_record(record_id) is None:
        raise HTTPException(404, f"no record {record_id}")
    versions = request.app.state.store.record_versions(record_id)
    return {"record_id": record_id,
            "versions": [{"version_id": v.version_id, "is_latest": v.is_latest,
                          "last_modified": v.last_modified.isoformat()
                          if v.last_modified else None} for v in versions]}


@router.get("/records/{record_id}/audit")
def record_audit(record_id: str, request: Request, _key: Read) -> dict[str, Any]:
    """Every audit event of the record, oldest first: who, when, field, old and new value."""
    if request.app.state.index.get_record(record_id) is None:
        raise HTTPException(404, f"no record {record_id}")
    events = request.app.state.index.audit_events(record_id)
    return {"record_id": record_id, "events": [e.model_dump(mode="json") for e in events]}


@router.get("/review/stats")
def review_stats(request: Request, _key: Read,
                 days: Annotated[int, Query(ge=1, le=366)] = 7) -> dict[str, Any]:
    """Per reviewer and per document type: documents per hour, active seconds per document,
    share of fields corrected; the backlog per document type with its age."""
    from review.metrics import review_stats as compute

    return compute(request.app.state.index, since=utcnow() - timedelta(days=days)).export()
