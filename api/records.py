"""``/v1`` for other systems: records by citizen ID (settled ones by default), search, one
record, its versions and its audit trail, and review metrics. Every field in a response
carries its status (accepted by the machine, confirmed or corrected by a person, ...) and
provenance.

Every read of citizen data needs a purpose (``X-Purpose`` or ``purpose``) and leaves an entry
in the access log (:mod:`storage.access`) before it is answered; a key limited to document
types reads only those. Record JSON is kept in each web process by version id (a version
never changes), so a record read again costs no S3 GET."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.auth import require_scope, required_purpose
from api.errors import PlainHTTPError
from api.middleware import request_id
from api.schema import (
    CITIZEN_ID,
    CURSOR,
    INSTANT_RE,
    PURPOSE_PARAM,
    CitizenRecords,
    FieldValue,
    RangeValue,
    RecordAudit,
    RecordVersions,
    ReviewStats,
    SearchPage,
    ServedRecord,
    StatusValue,
    errors,
    instant,
)
from models.access import AccessAction, AccessEntry, Purpose
from models.errors import InvalidParameterError, NotFoundError
from models.records import (
    RECORD_SCHEMA_VERSION,
    SETTLED_FIELD_STATUSES,
    ApiKeyInfo,
    IndexEntry,
    Record,
    RecordStatus,
    utcnow,
)
from storage.access import AccessLog, AccessWriter, new_access_id
from storage.search import LookupRow

__all__ = ["router", "RecordCache", "log_access", "log_access_async", "readable_entry"]

router = APIRouter(prefix="/v1", tags=["records"])
Read = Annotated[ApiKeyInfo, Depends(require_scope("records:read"))]
Why = Annotated[Purpose, Depends(required_purpose)]
_STATUSES = {s.value for s in RecordStatus} | {"settled", "all"}
_SETTLED = {s.value for s in SETTLED_FIELD_STATUSES}
MAX_SEARCH_LIMIT = 200


class RecordCache:
    """Served record JSON by (record id, version id), least recently used out first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def get(self, record_id: str, version_id: str | None) -> bytes | None:
        if version_id is None or self.size <= 0:
            return None
        with self._lock:
            found = self._items.get((record_id, version_id))
            if found is not None:
                self._items.move_to_end((record_id, version_id))
            return found

    def put(self, record_id: str, version_id: str | None, data: bytes) -> None:
        if version_id is None or self.size <= 0:
            return
        with self._lock:
            self._items[(record_id, version_id)] = data
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_FETCHER: ThreadPoolExecutor | None = None
_FETCHER_LOCK = threading.Lock()


def _fetcher() -> ThreadPoolExecutor:
    """Threads that read several records from the object store at once (per process)."""
    global _FETCHER
    with _FETCHER_LOCK:
        if _FETCHER is None:
            _FETCHER = ThreadPoolExecutor(16, thread_name_prefix="record-get")
        return _FETCHER


def _record_json(record: Record) -> dict[str, Any]:
    out = record.model_dump(mode="json")
    out["settled"] = record.settled
    return out


def _served_bytes(request: Request, record_id: str, version_id: str | None) -> bytes:
    """The served JSON of one stored version (the latest when ``version_id`` is None)."""
    cache: RecordCache | None = getattr(request.app.state, "record_cache", None)
    if cache is not None:
        found = cache.get(record_id, version_id)
        if found is not None:
            return found
    data = request.app.state.store.get_record(record_id, version_id)
    obj = json.loads(data)
    if obj.get("schema_version") == RECORD_SCHEMA_VERSION:
        # Written by this version: served as stored, with whether it is settled (the same
        # rule as Record.settled), without validating it all again.
        obj["settled"] = obj.get("status") != RecordStatus.rejected.value and all(
            f.get("status") in _SETTLED for f in obj.get("fields", []))
    else:
        obj = _record_json(Record.from_json(obj))
    out = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if cache is not None:
        cache.put(record_id, version_id, out)
    return out


def _access_entry(request: Request, key: ApiKeyInfo, purpose: Purpose, action: AccessAction,
                  entries: Sequence[IndexEntry | LookupRow],
                  citizen_ids: Sequence[str]) -> AccessEntry:
    citizens = sorted({c for e in entries for c in e.citizen_ids} | set(citizen_ids))
    return AccessEntry(
        access_id=new_access_id(), at=utcnow(), key_id=key.key_id, key_name=key.name,
        agency=key.agency, action=action, purpose=purpose,
        record_ids=[e.record_id for e in entries], citizen_ids=citizens,
        request_id=request_id(request.scope))


def log_access(request: Request, key: ApiKeyInfo, purpose: Purpose, action: AccessAction,
               entries: Sequence[IndexEntry | LookupRow],
               citizen_ids: Sequence[str] = ()) -> None:
    """Write the access record of a read before its data is answered."""
    entry = _access_entry(request, key, purpose, action, entries, citizen_ids)
    writer: AccessWriter | None = getattr(request.app.state, "access_writer", None)
    if writer is not None:
        writer.record(entry)
    else:
        AccessLog(request.app.state.index).record(entry)


async def log_access_async(request: Request, key: ApiKeyInfo, purpose: Purpose,
                           action: AccessAction, entries: Sequence[IndexEntry | LookupRow],
                           citizen_ids: Sequence[str] = ()) -> None:
    """:func:`log_access` from the event loop: the request waits, without a thread, until
    the transaction holding its entry has committed (and fails if it did not)."""
    entry = _access_entry(request, key, purpose, action, entries, citizen_ids)
    writer: AccessWriter | None = getattr(request.app.state, "access_writer", None)
    if writer is not None:
        await asyncio.wrap_future(writer.submit(entry))
    else:
        await run_in_threadpool(AccessLog(request.app.state.index).record, entry)


def readable_entry(request: Request, key: ApiKeyInfo, record_id: str) -> IndexEntry:
    """The record's index entry, if it exists and this key may read its document type."""
    entry = request.app.state.index.get_record(record_id)
    if entry is None:
        raise NotFoundError(f"no record {record_id}")
    if not key.may_read(entry.doctype):
        raise PlainHTTPError(403, "this key may not read {doctype} records",
                             "ask for a key that covers this document type",
                             kind="Forbidden", doctype=entry.doctype)
    return entry


def _statuses(status: list[str] | None, default: str = "settled") -> set[str]:
    wanted = {s.strip() for v in (status or [default]) for s in v.split(",") if s.strip()}
    unknown = wanted - _STATUSES
    if unknown:
        raise InvalidParameterError(f"unknown status {', '.join(sorted(unknown))}; use one of "
                                    f"{', '.join(sorted(_STATUSES))}")
    return wanted


def _json(parts: dict[str, Any], records: Sequence[bytes]) -> Response:
    """A JSON object whose ``records`` are already-serialized record JSON."""
    head = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))[:-1]
    body = (head.encode("utf-8") + b',"records":[' + b",".join(records) + b"]}")
    return Response(body, media_type="application/json")


StatusQuery = Annotated[list[StatusValue] | None, Query(
    description="record statuses to include (repeat or comma-separate): settled (default), "
                "extracted, needs_review, in_review, verified, rejected, all")]


# Reads of citizen data: the purpose header, and 400 without it.
_PURPOSE: dict[str, Any] = {"parameters": [PURPOSE_PARAM]}


async def _served_all(request: Request, rows: Sequence[LookupRow]) -> list[bytes]:
    """The served JSON of each row's version: from the cache, the others read from the
    object store at once (threads of the fetcher; the event loop waits for them)."""
    cache: RecordCache | None = getattr(request.app.state, "record_cache", None)
    out: list[bytes | None] = [cache.get(r.record_id, r.version_id) if cache is not None
                               else None for r in rows]
    missing = [i for i, b in enumerate(out) if b is None]
    if missing:
        loop = asyncio.get_running_loop()
        read = await asyncio.gather(*(
            loop.run_in_executor(_fetcher(), _served_bytes, request, rows[i].record_id,
                                 rows[i].version_id) for i in missing))
        for i, data in zip(missing, read, strict=True):
            out[i] = data
    return [b for b in out if b is not None]


@router.get("/citizens/{citizen_id}/records",
            responses={200: {"model": CitizenRecords}, **errors(400)}, openapi_extra=_PURPOSE)
async def citizen_records(citizen_id: Annotated[str, Path(pattern=CITIZEN_ID)],
                          request: Request, key: Read, purpose: Why,
                          status: StatusQuery = None) -> Response:
    """Records naming this citizen ID, oldest first.

    By default only settled records: every field accepted by the machine under the
    calibrated rule, or decided by a person. Others only when ``status`` asks for them.
    Needs a purpose; the read is recorded in the citizen's access log.
    """
    # Served on the event loop (the lookup other systems call most): the index's one
    # statement runs in the thread pool; the access record's commit and the object store's
    # reads are awaited together, so a request holds no thread while it waits.
    if not (citizen_id.isdigit() and len(citizen_id) == 12):
        raise InvalidParameterError("a citizen ID is 12 digits")
    from storage.search import citizen_lookup

    wanted = _statuses(status)
    rows = await run_in_threadpool(citizen_lookup, request.app.state.index, citizen_id)
    if "all" not in wanted:
        rows = [r for r in rows
                if ("settled" in wanted and r.served) or r.queue_status in wanted]
    rows = [r for r in rows if key.may_read(r.doctype)]
    # The access record is committed while the records not kept here are read from the
    # object store; the answer goes only once both are done (a read whose entry cannot be
    # written is refused, whatever was read).
    logged, out = await asyncio.gather(
        log_access_async(request, key, purpose, AccessAction.citizen_lookup, rows,
                         [citizen_id]),
        _served_all(request, rows), return_exceptions=True)
    if isinstance(logged, BaseException):
        raise logged
    if isinstance(out, BaseException):
        raise out
    return _json({"citizen_id": citizen_id, "statuses": sorted(wanted), "count": len(out)},
                 out)


def _hit(e: IndexEntry) -> dict[str, Any]:
    """A search hit: the index's projection of the record (its key values, not every field's
    provenance; ``GET /v1/records/{id}`` has the whole record)."""
    return {"record_id": e.record_id, "doctype": e.doctype, "status": e.queue_status.value,
            "settled": e.settled, "citizen_ids": e.citizen_ids, "values": e.summary,
            "dossier_id": e.dossier_id, "batch_id": e.batch_id, "station": e.station,
            "created_at": e.created_at.isoformat(), "updated_at": e.updated_at.isoformat(),
            "revision": e.revision, "version_id": e.version_id,
            "href": f"/v1/records/{e.record_id}"}


def _pair(raw: str, what: str) -> tuple[str, str]:
    name, sep, value = raw.partition(":")
    if not sep or not name.strip() or not value.strip():
        raise InvalidParameterError(f"{what} is FIELD:VALUE, e.g. {what}=place_of_birth:Hà Nội")
    return name.strip(), value.strip()


def _day(raw: str, what: str) -> str:
    try:
        return date.fromisoformat(raw.strip()).isoformat()
    except ValueError:
        raise InvalidParameterError(f"{what}: {raw!r} is not a date (YYYY-MM-DD)") from None


def _range(raw: str) -> tuple[str, str | None, str | None]:
    name, value = _pair(raw, "date")
    lo, sep, hi = value.partition("..")
    if not sep:
        raise InvalidParameterError("date is FIELD:FROM..TO (either end may be left out), e.g. "
                                    "date=date_of_birth:1985-01-01..1985-12-31")
    return (name, _day(lo, "date") if lo.strip() else None,
            _day(hi, "date") if hi.strip() else None)




@router.get("/records", response_model=SearchPage, responses=errors(400),
            openapi_extra=_PURPOSE)
def search_records(
        request: Request, key: Read, purpose: Why,
        citizen_id: Annotated[str | None, Query(description="a 12-digit citizen ID",
                                                pattern=CITIZEN_ID)] = None,
        name: Annotated[str | None, Query(
            description="a person's name (whole words, in order), with or without "
                        "diacritics")] = None,
        q: Annotated[str | None, Query(
            description="whole words anywhere: ids, values, the pages' text")]
        = None,
        doctype: Annotated[list[str] | None, Query(description="document types")] = None,
        status: StatusQuery = None,
        station: str | None = None,
        batch: str | None = None,
        dossier: Annotated[str | None, Query(description="the dossier code")] = None,
        field: Annotated[list[FieldValue] | None, Query(
            description="FIELD:VALUE, the field reads so (case and diacritics aside); repeat "
                        "for several")] = None,
        date: Annotated[list[RangeValue] | None, Query(  # noqa: A002 - the parameter's name
            description="FIELD:FROM..TO, a date field in that range (YYYY-MM-DD, either end "
                        "may be left out)")] = None,
        created_from: Annotated[str | None, Query(
            description="digitized at or after (ISO date or time)", pattern=INSTANT_RE)]
        = None,
        created_to: Annotated[str | None, Query(description="digitized before",
                                                pattern=INSTANT_RE)] = None,
        after: Annotated[str | None, Query(
            description="the `next` of the previous page", pattern=CURSOR)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_SEARCH_LIMIT)] = 50) -> dict[str, Any]:
    """Search records; newest first, a page at a time (``next`` is the cursor of the next
    page, null at the end). Every given parameter must hold (none: every record). Settled
    records only unless ``status`` says otherwise. Each hit is the index's projection of the
    record: its key values, ids, type and status (the whole record is
    ``GET /v1/records/{id}``). Needs a purpose; the hits are recorded in the access log of
    every citizen they name."""
    from storage.search import SearchQuery, search

    if citizen_id is not None and not (citizen_id.isdigit() and len(citizen_id) == 12):
        raise InvalidParameterError("a citizen ID is 12 digits")
    if after is not None and not after.strip().isdigit():
        raise InvalidParameterError("after must be the `next` of a previous answer")
    query = SearchQuery(
        citizen_id=citizen_id, name=name, q=q,
        doctypes=[d.strip() for v in doctype or [] for d in v.split(",") if d.strip()],
        statuses=sorted(_statuses(status)), station=station, batch_id=batch,
        dossier_id=dossier, values=[_pair(f, "field") for f in field or []],
        ranges=[_range(d) for d in date or []],
        created_from=instant(created_from, "created_from"),
        created_to=instant(created_to, "created_to"),
        allowed_doctypes=key.doctypes, after=int(after) if after else None, limit=limit)
    page = search(request.app.state.index, query)
    if page.entries:
        log_access(request, key, purpose, AccessAction.search, page.entries)
    return {"count": len(page.entries), "next": page.next,
            "records": [_hit(e) for e in page.entries]}


@router.get("/records/{record_id}",
            responses={200: {"model": ServedRecord}, **errors(400, 404)}, openapi_extra=_PURPOSE)
def get_record(record_id: str, request: Request, key: Read, purpose: Why,
               version: str | None = None) -> Response:
    """One record (its latest version, or ``version``). Needs a purpose; recorded."""
    entry = readable_entry(request, key, record_id)
    log_access(request, key, purpose, AccessAction.record, [entry])
    return Response(_served_bytes(request, record_id, version or entry.version_id),
                    media_type="application/json")


@router.get("/records/{record_id}/versions", response_model=RecordVersions,
            responses=errors(404))
def record_versions(record_id: str, request: Request, key: Read) -> dict[str, Any]:
    readable_entry(request, key, record_id)
    versions = request.app.state.store.record_versions(record_id)
    return {"record_id": record_id,
            "versions": [{"version_id": v.version_id, "is_latest": v.is_latest,
                          "last_modified": v.last_modified.isoformat()
                          if v.last_modified else None} for v in versions]}


@router.get("/records/{record_id}/audit", response_model=RecordAudit,
            responses=errors(400, 404), openapi_extra=_PURPOSE)
def record_audit(record_id: str, request: Request, key: Read,
                 purpose: Why) -> dict[str, Any]:
    """Every audit event of the record, oldest first: who, when, field, old and new value.
    The values are citizen data: needs a purpose; recorded."""
    entry = readable_entry(request, key, record_id)
    log_access(request, key, purpose, AccessAction.record, [entry])
    events = request.app.state.index.audit_events(record_id)
    return {"record_id": record_id, "events": [e.model_dump(mode="json") for e in events]}


@router.get("/review/stats", response_model=ReviewStats, responses=errors())
def review_stats(request: Request, _key: Read,
                 days: Annotated[int, Query(ge=1, le=366)] = 7) -> dict[str, Any]:
    """Per reviewer and per document type: documents per hour, active seconds per document,
    share of fields corrected; the backlog per document type with its age."""
    from review.metrics import review_stats as compute

    return compute(request.app.state.index, since=utcnow() - timedelta(days=days)).export()
