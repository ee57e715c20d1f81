"""Events other systems follow: what changed in the record store and the batch ledger, in
order, and the webhook subscriptions that push them.

An event names what changed (ids, document type) and a small payload (status, revision): no
citizen data beyond ids. Its ``id`` is unique (a receiver deduplicates by it); its ``cursor``
orders it among all events.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["EventType", "Event", "WebhookInfo", "WebhookCreated", "DeliveryAttempt",
           "DeliveryOutcome", "EVENT_TYPES"]


class EventType(StrEnum):
    record_extracted = "record.extracted"  # stored by the machine, every field settled
    record_needs_review = "record.needs_review"  # stored (or reopened) with fields to review
    record_verified = "record.verified"  # a person approved it
    record_rejected = "record.rejected"  # back to the scanning counter
    record_changed = "record.changed"  # a new revision, same status (a person's field change)
    batch_queued = "batch.queued"  # accepted (or queued again: a replaced file, a takeover)
    batch_running = "batch.running"  # a worker started (or resumed) it
    batch_finished = "batch.finished"  # every file has its outcome


EVENT_TYPES = frozenset(t.value for t in EventType)


class Event(BaseModel):
    """One entry of the events feed, and the body of a webhook delivery."""

    id: str
    cursor: str  # the feed's position of this event: ask for events after it
    type: EventType
    at: datetime
    record_id: str | None = None
    dossier_id: str | None = None
    batch_id: str | None = None
    doctype: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class WebhookInfo(BaseModel):
    """A subscription of an API key; its secret is shown only when it is created."""

    id: str
    url: str
    types: list[str]
    created_at: datetime
    cursor: str  # the last event handled (delivered, skipped or given up)
    failing_since: datetime | None = None  # the next event has been failing since then
    next_attempt_at: datetime | None = None
    attempts: int = 0  # failed attempts of the next event


class WebhookCreated(WebhookInfo):
    secret: str  # signs every delivery (HMAC-SHA256); shown once


class DeliveryOutcome(StrEnum):
    delivered = "delivered"  # the receiver answered 2xx
    failed = "failed"  # refused, unreachable or not 2xx: retried later
    gave_up = "gave_up"  # failing for longer than the retry window: the event is skipped


class DeliveryAttempt(BaseModel):
    """One row of a subscription's delivery log: one POST of one event."""

    id: str  # the log row's, for paging
    event_id: str
    cursor: str
    type: str
    attempt: int
    at: datetime
    outcome: DeliveryOutcome
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
