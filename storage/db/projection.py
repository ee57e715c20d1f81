"""The projection: what ``dossier reindex`` rebuilds from the object store. A row per record
(``records``), the citizen ids each names (``record_citizens``), the audit events
(``audit_events``); the values people verified (:mod:`storage.db.verified_rows`) and the
search rows (:mod:`storage.db.search_rows`) are written and cleared with the records' rows.

:class:`storage.records.RecordStore` is its only writer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.records import AuditAction, AuditEvent, IndexEntry, RecordStatus
from storage.db.engine import Database
from storage.db.schema import Base, PortableJSON, UTCDateTime
from storage.db.search_rows import clear_search, write_search
from storage.db.verified_rows import clear_verified, write_verified
from storage.events import append_events, record_event

__all__ = ["Projection", "RecordRow", "RecordCitizenRow", "AuditRow", "entries"]


class RecordRow(Base):
    __tablename__ = "records"

    record_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    dossier_id: Mapped[str] = mapped_column(String(200), index=True)
    batch_id: Mapped[str] = mapped_column(String(200), index=True)
    doctype: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    s3_key: Mapped[str] = mapped_column(String(1024))
    version_id: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    station: Mapped[str | None] = mapped_column(String(200), index=True)
    operator: Mapped[str | None] = mapped_column(String(200))
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    settled: Mapped[bool] = mapped_column(Boolean, default=False)
    search_text: Mapped[str] = mapped_column(Text, default="")
    lease_user: Mapped[str | None] = mapped_column(String(200))
    lease_expires: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditRow(Base):
    __tablename__ = "audit_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    field: Mapped[str | None] = mapped_column(String(100))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    record_version: Mapped[int | None] = mapped_column(Integer)
    doctype: Mapped[str | None] = mapped_column(String(100))


class RecordCitizenRow(Base):
    __tablename__ = "record_citizens"

    record_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("records.record_id", ondelete="CASCADE"), primary_key=True
    )
    citizen_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


def entries(s: Session, rows: Sequence[RecordRow]) -> list[IndexEntry]:
    """The index entries of record rows, with the citizen ids each names, in one query."""
    ids = [r.record_id for r in rows]
    citizens: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        found = s.execute(
            select(RecordCitizenRow.record_id, RecordCitizenRow.citizen_id)
            .where(RecordCitizenRow.record_id.in_(ids))
            .order_by(RecordCitizenRow.citizen_id)
        )
        for record_id, citizen_id in found:
            citizens[record_id].append(citizen_id)
    return [
        IndexEntry(
            record_id=r.record_id,
            dossier_id=r.dossier_id,
            batch_id=r.batch_id,
            doctype=r.doctype,
            status=RecordStatus(r.status),
            confidence=r.confidence,
            s3_key=r.s3_key,
            version_id=r.version_id,
            citizen_ids=citizens[r.record_id],
            summary=dict(r.summary or {}),
            created_at=r.created_at,
            updated_at=r.updated_at,
            revision=r.revision or 1,
            station=r.station,
            operator=r.operator,
            reviewed_by=r.reviewed_by,
            reviewed_at=r.reviewed_at,
            settled=bool(r.settled),
            search_text=r.search_text or "",
            lease_user=r.lease_user,
            lease_expires=r.lease_expires,
        )
        for r in rows
    ]


class Projection(Database):
    """Records, the citizens they name, and their audit events."""

    # -- records -----------------------------------------------------------------------------

    def upsert_record(self, entry: IndexEntry) -> None:
        """Insert or replace a record's row and its citizen ids (idempotent)."""
        self.upsert_records([entry])

    def upsert_records(self, batch: Sequence[IndexEntry]) -> None:
        """Insert or replace many records' rows in one transaction, each as
        :meth:`upsert_record` would (a reindex, a bulk load)."""
        if batch:
            with self.transaction(f"index {len(batch)} record(s)", write=True) as s:
                self._upsert_in(s, batch)

    def write_record(self, record_id: str,
                     write: Callable[[IndexEntry | None],
                                     tuple[IndexEntry, Sequence[AuditEvent]]]) -> IndexEntry:
        """One write transaction holding the record's row, when it has one: ``write`` gets the
        indexed entry (None for a record not indexed yet), stores what it decides in the
        object store, and returns the entry to index with the audit events to index beside
        it. The event announcing the change (``storage.events``) is written in the same
        transaction. A failing ``write`` leaves the index as it was, with no event.
        (``storage.records`` is the only caller: the record store's front door.)"""
        with self.transaction(f"write record {record_id}", write=True) as s:
            row = s.get(RecordRow, record_id, with_for_update=True)
            current = entries(s, [row])[0] if row is not None else None
            entry, events = write(current)
            self._upsert_in(s, [entry])
            self._audit_in(s, events, entry.doctype)
            append_events(s, self.backend, [record_event(current, entry, events)])
        return entry

    @staticmethod
    def _row(entry: IndexEntry) -> dict[str, Any]:
        return {
            "record_id": entry.record_id,
            "dossier_id": entry.dossier_id,
            "batch_id": entry.batch_id,
            "doctype": entry.doctype,
            "status": str(entry.status),
            "confidence": entry.confidence,
            "s3_key": entry.s3_key,
            "version_id": entry.version_id,
            "summary": dict(entry.summary),
            "created_at": entry.created_at,
            "updated_at": entry.updated_at,
            "revision": entry.revision,
            "station": entry.station,
            "operator": entry.operator,
            "reviewed_by": entry.reviewed_by,
            "reviewed_at": entry.reviewed_at,
            "settled": entry.settled,
            "search_text": entry.search_text,
        }

    def _upsert_in(self, s: Session, batch: Sequence[IndexEntry]) -> None:
        rows = [self._row(e) for e in batch]
        stmt = self.insert(RecordRow)
        # A reviewer's lease is the index's own state (not in the row): an update keeps it.
        s.execute(stmt.on_conflict_do_update(
            index_elements=[RecordRow.record_id],
            set_={k: stmt.excluded[k] for k in rows[0] if k != "record_id"}), rows)
        ids = [e.record_id for e in batch]
        s.execute(delete(RecordCitizenRow).where(RecordCitizenRow.record_id.in_(ids)))
        citizens = [{"record_id": e.record_id, "citizen_id": c}
                    for e in batch for c in sorted(set(e.citizen_ids))]
        if citizens:
            s.execute(self.insert(RecordCitizenRow), citizens)
        write_verified(s, batch)
        write_search(s, self.backend, batch)

    def get_record(self, record_id: str) -> IndexEntry | None:
        with self.transaction(f"read record {record_id}") as s:
            row = s.get(RecordRow, record_id)
            return entries(s, [row])[0] if row is not None else None

    def records_for_citizen(
        self, citizen_id: str, *, status: RecordStatus | str | None = None
    ) -> list[IndexEntry]:
        """Records that name this citizen id, oldest first, optionally of one status."""
        stmt = (
            select(RecordRow)
            .join(RecordCitizenRow, RecordCitizenRow.record_id == RecordRow.record_id)
            .where(RecordCitizenRow.citizen_id == citizen_id)
            .order_by(RecordRow.created_at, RecordRow.record_id)
        )
        if status is not None:
            stmt = stmt.where(RecordRow.status == str(status))
        with self.transaction(f"look up citizen {citizen_id}") as s:
            return entries(s, s.scalars(stmt).all())

    def list_records(
        self,
        limit: int = 100,
        status: RecordStatus | str | None = None,
        doctype: str | None = None,
        *,
        offset: int = 0,
    ) -> list[IndexEntry]:
        """Records, most recently updated first."""
        stmt = select(RecordRow).order_by(RecordRow.updated_at.desc(), RecordRow.record_id)
        if status is not None:
            stmt = stmt.where(RecordRow.status == str(status))
        if doctype is not None:
            stmt = stmt.where(RecordRow.doctype == doctype)
        stmt = stmt.limit(limit).offset(offset)
        with self.transaction("list records") as s:
            return entries(s, s.scalars(stmt).all())

    def count_records(self, status: RecordStatus | str | None = None) -> int:
        stmt = select(func.count()).select_from(RecordRow)
        if status is not None:
            stmt = stmt.where(RecordRow.status == str(status))
        with self.transaction("count records") as s:
            return int(s.scalar(stmt) or 0)

    def clear_records(self) -> int:
        """Remove every record row (before a reindex); returns how many there were.
        Leases go with them: a reindex returns every held document to the queue."""
        with self.transaction("clear records", write=True) as s:
            clear_search(s)
            s.execute(delete(RecordCitizenRow))
            clear_verified(s)
            result = s.execute(delete(RecordRow))
            return int(getattr(result, "rowcount", 0) or 0)

    def list_settled_records(self, limit: int = 100) -> list[IndexEntry]:
        stmt = (select(RecordRow).where(RecordRow.settled.is_(True))
                .order_by(RecordRow.updated_at.desc()).limit(limit))
        with self.transaction("list settled records") as s:
            return entries(s, s.scalars(stmt).all())

    # -- audit events ------------------------------------------------------------------------

    def add_audit_events(self, events: Sequence[AuditEvent], doctype: str | None = None) -> None:
        """Index audit events (idempotent: an event already indexed is skipped)."""
        if not events:
            return
        with self.transaction("index audit events", write=True) as s:
            self._audit_in(s, events, doctype)

    def _audit_in(self, s: Session, events: Sequence[AuditEvent], doctype: str | None) -> None:
        if not events:
            return
        rows = [{"event_id": e.event_id, "record_id": e.record_id, "action": str(e.action),
                 "actor": e.actor, "at": e.at, "field": e.field, "old_value": e.old_value,
                 "new_value": e.new_value, "reason": e.reason,
                 "record_version": e.record_version, "doctype": doctype} for e in events]
        s.execute(self.insert(AuditRow).values(rows)
                  .on_conflict_do_nothing(index_elements=[AuditRow.event_id]))

    @staticmethod
    def _event(r: AuditRow) -> AuditEvent:
        return AuditEvent(event_id=r.event_id, record_id=r.record_id,
                          action=AuditAction(r.action), actor=r.actor, at=r.at, field=r.field,
                          old_value=r.old_value, new_value=r.new_value, reason=r.reason,
                          record_version=r.record_version)

    def audit_events(self, record_id: str) -> list[AuditEvent]:
        stmt = (select(AuditRow).where(AuditRow.record_id == record_id)
                .order_by(AuditRow.at, AuditRow.event_id))
        with self.transaction(f"read the audit of {record_id}") as s:
            return [self._event(r) for r in s.scalars(stmt)]

    def audit_events_since(self, since: datetime) -> list[tuple[AuditEvent, str | None]]:
        """Every event since ``since`` with its record's document type, oldest first."""
        stmt = select(AuditRow).where(AuditRow.at >= since).order_by(AuditRow.at,
                                                                     AuditRow.event_id)
        with self.transaction("read audit events") as s:
            return [(self._event(r), r.doctype) for r in s.scalars(stmt)]

    def iter_audit_events(self, actions: Sequence[str] | None = None,
                          batch: int = 1000) -> Iterator[tuple[AuditEvent, str | None]]:
        stmt = select(AuditRow).order_by(AuditRow.at, AuditRow.event_id)
        if actions:
            stmt = stmt.where(AuditRow.action.in_(list(actions)))
        with self.transaction("read audit events") as s:
            for r in s.scalars(stmt.execution_options(yield_per=batch)):
                yield self._event(r), r.doctype

    def clear_audit(self) -> int:
        with self.transaction("clear audit events", write=True) as s:
            result = s.execute(delete(AuditRow))
            return int(getattr(result, "rowcount", 0) or 0)
