"""The outbox: every record lifecycle change and batch state change, as an event written in
the same index transaction as the change (migration 0006), so a crash neither loses nor
invents one. Other systems read it in order (``GET /v1/events``) and webhooks are delivered
from it (:mod:`storage.webhooks`).

Order is the ``seq`` column, which readers use as their cursor. A sequence alone is not
enough: on PostgreSQL a transaction may take number 7, then commit after number 8 did, and a
reader that saw 8 would skip 7 for ever. So event writers are serialized from the moment
they take a number until they commit (a transaction-level advisory lock, taken as the last
step of the transaction); SQLite serializes writers anyway. A rolled-back transaction leaves
a gap, never a late arrival.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, func, insert, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.errors import InvalidInputError
from models.events import Event, EventType
from models.records import AuditEvent, IndexEntry, RecordStatus, utcnow
from storage.db import Base, Database, PortableJSON, UTCDateTime

__all__ = ["EventRow", "EventFeed", "record_event", "batch_event", "append_events",
           "parse_cursor", "SEQ"]

# Any constant (distinct from the migration lock): serializes event writers on PostgreSQL.
_PG_EVENTS_LOCK = 0x64657674
# BIGSERIAL on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the rowid (and AUTOINCREMENT
# keeps a number from ever being used twice).
SEQ = BigInteger().with_variant(Integer(), "sqlite")


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    record_id: Mapped[str | None] = mapped_column(String(200), index=True)
    dossier_id: Mapped[str | None] = mapped_column(String(200))
    batch_id: Mapped[str | None] = mapped_column(String(200), index=True)
    doctype: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(PortableJSON)


_STATUS_EVENTS = {
    RecordStatus.extracted: EventType.record_extracted,
    RecordStatus.needs_review: EventType.record_needs_review,
    RecordStatus.verified: EventType.record_verified,
    RecordStatus.rejected: EventType.record_rejected,
}


def record_event(old: IndexEntry | None, new: IndexEntry,
                 audit: Sequence[AuditEvent] = ()) -> dict[str, Any] | None:
    """The event announcing that the index now describes ``new`` instead of ``old``; None
    when nothing changed (a machine run that found its extraction already stored).

    Its type follows from the statuses: a new status is announced as such; a new revision
    with the same status (a person's field change) is ``record.changed``."""
    if old is not None and (old.version_id, old.revision, old.status) == \
            (new.version_id, new.revision, new.status):
        return None
    if old is None or old.status != new.status:
        kind = _STATUS_EVENTS.get(new.status, EventType.record_changed)
    else:
        kind = EventType.record_changed
    data: dict[str, Any] = {"status": new.status.value, "revision": new.revision,
                            "settled": new.settled}
    if old is not None:
        data["previous_status"] = old.status.value
    fields = sorted({e.field for e in audit if e.field})
    if fields:
        data["fields"] = fields
    return {"type": kind.value, "record_id": new.record_id, "dossier_id": new.dossier_id,
            "batch_id": new.batch_id, "doctype": new.doctype, "data": data}


def batch_event(kind: EventType, batch_id: str, **data: Any) -> dict[str, Any]:
    """A batch state change; ``data`` says the state's details (attempt, counts)."""
    state = kind.value.split(".", 1)[1]
    return {"type": kind.value, "batch_id": batch_id, "data": {"state": state, **data}}


def append_events(s: Session, backend: str, events: Sequence[dict[str, Any] | None]) -> None:
    """Write events in the caller's transaction; call it last, just before the commit (on
    PostgreSQL it holds the writers' lock from here to the commit)."""
    rows = [dict(e, event_id=uuid.uuid4().hex, at=utcnow()) for e in events if e is not None]
    if not rows:
        return
    if backend == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_EVENTS_LOCK})
    s.execute(insert(EventRow), rows)


def parse_cursor(value: str | None) -> int:
    """A cursor from a client: empty is the start; anything else is a whole number."""
    if value is None or value.strip() == "":
        return 0
    value = value.strip()
    if not value.isdigit() or len(value) > 18:
        raise InvalidInputError(
            f"the cursor {value[:40]!r} is not one this feed gave out",
            hint="send the 'next' value of the previous answer, or 0 to start from the first "
                 "event")
    return int(value)


def to_event(r: EventRow) -> Event:
    return Event(id=r.event_id, cursor=str(r.seq), type=EventType(r.type), at=r.at,
                 record_id=r.record_id, dossier_id=r.dossier_id, batch_id=r.batch_id,
                 doctype=r.doctype, data=dict(r.data or {}))


class EventFeed:
    """Reading the outbox in order."""

    def __init__(self, index: Database) -> None:
        self.index = index

    def after(self, cursor: int, limit: int = 100,
              types: Sequence[str] | None = None) -> list[Event]:
        """Up to ``limit`` events after ``cursor``, oldest first."""
        stmt = select(EventRow).where(EventRow.seq > cursor)
        if types:
            stmt = stmt.where(EventRow.type.in_(list(types)))
        stmt = stmt.order_by(EventRow.seq).limit(limit)
        with self.index.transaction("read events") as s:
            return [to_event(r) for r in s.scalars(stmt)]

    def head(self) -> int:
        """The cursor of the newest event (0 when there is none)."""
        with self.index.transaction("read the newest event") as s:
            return int(s.scalar(select(func.max(EventRow.seq))) or 0)
