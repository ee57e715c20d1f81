"""What ``/v1`` answers, as its OpenAPI document says it: the answers' models, the error body
every refusal carries (as :mod:`api.errors` makes it), the status codes each kind of
operation can answer, the ``X-Purpose`` header reads of citizen data need, and the multipart
bodies of the uploads (read as a stream by the handlers, so declared here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from models.access import AccessEntry
from models.batches import BatchSummary
from models.errors import InvalidParameterError
from models.events import DeliveryAttempt, Event, WebhookInfo
from models.records import AuditEvent, Record, RecordStatus

__all__ = ["ErrorBody", "errors", "PURPOSE_PARAM", "BATCH_UPLOAD", "FILE_UPLOAD",
           "ServedRecord", "CitizenRecords", "SearchHit", "SearchPage", "RecordVersion",
           "RecordVersions", "RecordAudit", "ReviewStats", "FileReceipt", "BatchReceipt",
           "BatchList", "ReplaceReceipt", "PresignedUrl", "OriginalFile", "RecordOriginals",
           "EventPage", "WebhookList", "DeliveryPage", "AccessLogPage", "Health",
           "CITIZEN_ID", "CURSOR", "STATUS_RE", "INSTANT_RE", "instant", "StatusValue", "FieldValue",
           "RangeValue"]

CITIZEN_ID = r"^[0-9]{12}$"
CURSOR = r"^[0-9]{1,18}$"


class ErrorBody(BaseModel):
    """Every refusal and failure: what went wrong, what to do, the kind of error and the
    request id (also in the ``X-Request-ID`` header) the log lines carry."""

    detail: str
    hint: str | None = None
    kind: str
    request_id: str


_WHY = {
    400: "The request is malformed: a parameter, field or body the handler refuses, or a "
         "read of citizen data without a purpose (kind PurposeRequired)",
    401: "No API key, or not a valid one (send Authorization: Bearer KEY)",
    403: "The key lacks the scope, or may not read this document type",
    404: "Nothing by that id (for this key)",
    405: "The method is not allowed here",
    409: "The request conflicts with the current state",
    413: "The upload is over DOSSIER_MAX_UPLOAD_BYTES",
    415: "The body is not multipart/form-data",
    422: "A parameter or field is not valid",
    500: "Something failed on the server (the detail is in the log under the request id)",
    503: "Storage cannot be reached right now (Retry-After)",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of an operation for these status codes (401, 403, 422, 500 and 503,
    which every ``/v1`` operation can answer, always), each with the error body."""
    every = {401, 403, 422, 500, 503}
    return {c: {"model": ErrorBody, "description": _WHY[c]} for c in sorted(every | set(codes))}


PURPOSE_PARAM: dict[str, Any] = {
    "name": "X-Purpose", "in": "header", "required": True,
    "description": "Why citizen data is read: PROCEDURE-CODE or PROCEDURE-CODE; words (words "
                   "may be percent-encoded UTF-8), e.g. `1.004227; Đăng ký thường trú`. A client "
                   "that cannot send headers may give the same as the `purpose` query "
                   "parameter. Without either: 400.",
    "schema": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}(;[ -~]*)?$"},
}

_TEXT_FIELD = {"type": "string", "maxLength": 200}
BATCH_UPLOAD: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {
        "schema": {"type": "object", "required": ["files"], "properties": {
            "files": {"type": "array", "minItems": 1,
                      "items": {"type": "string", "format": "binary"},
                      "description": "the scans, one part each; a file name folder/page.png "
                                     "puts it in dossier folder"},
            "station": {**_TEXT_FIELD, "description": "the station the batch comes from"},
            "operator": {**_TEXT_FIELD, "description": "who scanned it (default: the key's "
                                                       "name)"}}},
        "encoding": {"files": {"contentType": "application/octet-stream"}}}}}}
FILE_UPLOAD: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {
        "schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "the scan that replaces the file"}}},
        "encoding": {"file": {"contentType": "application/octet-stream"}}}}}}


class ServedRecord(Record):
    """A record as stored, with whether it is settled (every field accepted by the machine
    under the calibrated rule, or decided by a person)."""

    served_settled: bool = Field(alias="settled")


class CitizenRecords(BaseModel):
    citizen_id: str
    statuses: list[str]
    count: int
    records: list[ServedRecord]


class SearchHit(BaseModel):
    """The index's projection of a record: its key values, ids, type and status."""

    record_id: str
    doctype: str
    status: str
    settled: bool
    citizen_ids: list[str]
    values: dict[str, str | None]
    dossier_id: str
    batch_id: str
    station: str | None
    created_at: datetime
    updated_at: datetime
    revision: int
    version_id: str | None
    href: str


class SearchPage(BaseModel):
    count: int
    next: str | None = Field(description="the cursor of the next page (`after`), null at the "
                                         "end")
    records: list[SearchHit]


class RecordVersion(BaseModel):
    version_id: str | None
    is_latest: bool
    last_modified: datetime | None


class RecordVersions(BaseModel):
    record_id: str
    versions: list[RecordVersion]


class RecordAudit(BaseModel):
    record_id: str
    events: list[AuditEvent]


class ReviewStats(BaseModel):
    since: datetime
    reviewers: list[dict[str, Any]]
    doctypes: list[dict[str, Any]]
    backlog: list[dict[str, Any]]


class FileReceipt(BaseModel):
    file_no: int
    dossier: str
    name: str
    sha256: str | None
    size: int
    accepted: bool
    error: str | None
    error_kind: str | None


class BatchReceipt(BaseModel):
    batch_id: str
    status_url: str
    files: list[FileReceipt]


class BatchList(BaseModel):
    batches: list[BatchSummary]


class ReplaceReceipt(BaseModel):
    batch_id: str
    file_no: int
    replaces: int
    status_url: str


class PresignedUrl(BaseModel):
    record_id: str
    url: str
    expires_at: datetime


class OriginalPage(BaseModel):
    record_page: int
    file_page: int


class OriginalFile(BaseModel):
    sha256: str
    filename: str | None
    content_type: str | None
    size: int | None
    pages: list[OriginalPage]
    url: str
    expires_at: datetime


class RecordOriginals(BaseModel):
    record_id: str
    originals: list[OriginalFile]


class EventPage(BaseModel):
    events: list[Event]
    next: str
    has_more: bool


class WebhookList(BaseModel):
    webhooks: list[WebhookInfo]


class DeliveryPage(BaseModel):
    webhook_id: str
    deliveries: list[DeliveryAttempt]
    next: str | None


class AccessLogPage(BaseModel):
    citizen_id: str
    count: int
    next: str | None
    entries: list[AccessEntry]


class Health(BaseModel):
    status: str
    parts: dict[str, str]
    workers_online: int
    down: list[str] | None = None


# Query and path values, enforced as declared (FastAPI refuses what does not match with 422).
_STATUS = "settled|all|" + "|".join(s.value for s in RecordStatus)
STATUS_RE = rf"^( *({_STATUS})? *,)* *({_STATUS})? *$"
_VISIBLE = r"[^:\x00-\x20\x7f-\xa0\s]"
FIELD_RE = rf"^[^:]*{_VISIBLE}[^:]*:.*[^\x00-\x20\x7f-\xa0\s].*$"
_DAY = (r"([1-9][0-9]{3}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)"
        r"|(0[13578]|1[02])-31)|([1-9][0-9](0[48]|[2468][048]|[13579][26])"
        r"|([2468][048]|[13579][26])00)-02-29)")
RANGE_RE = rf"^[^:]*{_VISIBLE}[^:]*: *({_DAY})? *\.\. *({_DAY})? *$"
INSTANT_RE = (rf"^{_DAY}([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{{1,6}})?)?"
              r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$")


def instant(raw: str | None, what: str) -> datetime | None:
    """A time parameter (``INSTANT_RE``) as a time, UTC when it names no zone; None when not
    given; a plain 422 naming the parameter when it is not a date or time."""
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidParameterError(f"{what}: {raw!r} is not a date or time (ISO 8601)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
StatusValue = Annotated[str, StringConstraints(pattern=STATUS_RE)]
FieldValue = Annotated[str, StringConstraints(pattern=FIELD_RE)]
RangeValue = Annotated[str, StringConstraints(pattern=RANGE_RE)]
