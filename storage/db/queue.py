"""The review queue: records waiting for a person, and the leases that keep two reviewers off
one record. A lease is the index's own state, kept on the record's row: a projection update
keeps it, a reindex returns every held record to the queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from models.errors import ConflictError, NotFoundError
from models.records import IndexEntry, RecordStatus, utcnow
from storage.db.engine import Database
from storage.db.projection import RecordRow, entries

__all__ = ["ReviewQueue", "QueueFilter", "QueueCounts"]


@dataclass(frozen=True)
class QueueFilter:
    """What the review queue shows: records needing review, optionally narrowed."""

    batch_id: str | None = None
    doctype: str | None = None
    station: str | None = None
    older_than: timedelta | None = None  # only records waiting at least this long
    order: str = "confidence"  # lowest confidence first; or "age" (oldest first)


@dataclass(frozen=True)
class QueueCounts:
    waiting: int
    in_review: int
    verified_today: int


class ReviewQueue(Database):
    """The records waiting for review, and their leases."""

    # -- the queue and leases ----------------------------------------------------------------

    def _queue_stmt(self, f: QueueFilter, now: datetime) -> Any:
        stmt = select(RecordRow).where(RecordRow.status == str(RecordStatus.needs_review))
        if f.batch_id:
            stmt = stmt.where(RecordRow.batch_id == f.batch_id)
        if f.doctype:
            stmt = stmt.where(RecordRow.doctype == f.doctype)
        if f.station:
            stmt = stmt.where(RecordRow.station == f.station)
        if f.older_than is not None:
            stmt = stmt.where(RecordRow.created_at <= now - f.older_than)
        if f.order == "age":
            return stmt.order_by(RecordRow.created_at, RecordRow.record_id)
        return stmt.order_by(RecordRow.confidence, RecordRow.created_at, RecordRow.record_id)

    def review_queue(self, f: QueueFilter | None = None, *, limit: int = 50,
                     offset: int = 0) -> list[IndexEntry]:
        """Records needing review (held ones included, marked by their lease)."""
        stmt = self._queue_stmt(f or QueueFilter(), utcnow()).limit(limit).offset(offset)
        with self.transaction("list the review queue") as s:
            return entries(s, s.scalars(stmt).all())

    def queue_counts(self, f: QueueFilter | None = None, *, day_start: datetime) -> QueueCounts:
        now = utcnow()
        base = self._queue_stmt(f or QueueFilter(), now).order_by(None).subquery()
        held = (base.c.lease_expires.is_not(None)) & (base.c.lease_expires > now)
        with self.transaction("count the review queue") as s:
            total = int(s.scalar(select(func.count()).select_from(base)) or 0)
            in_review = int(s.scalar(select(func.count()).select_from(base).where(held)) or 0)
            verified = int(s.scalar(
                select(func.count()).select_from(RecordRow)
                .where(RecordRow.status == str(RecordStatus.verified),
                       RecordRow.reviewed_at >= day_start)) or 0)
        return QueueCounts(waiting=total - in_review, in_review=in_review,
                           verified_today=verified)

    def claim_next(self, user: str, ttl: timedelta, f: QueueFilter | None = None,
                   *, exclude: Sequence[str] = ()) -> str | None:
        """Lease the first free record of the queue to ``user``; its id, or None if none.

        Two reviewers asking at the same moment never get the same record: PostgreSQL skips
        rows another transaction holds (``FOR UPDATE SKIP LOCKED``); SQLite serializes
        writers (the transaction begins IMMEDIATE).
        """
        now = utcnow()
        stmt = self._queue_stmt(f or QueueFilter(), now).where(
            (RecordRow.lease_expires.is_(None)) | (RecordRow.lease_expires <= now)
            | (RecordRow.lease_user == user))
        if exclude:
            stmt = stmt.where(RecordRow.record_id.not_in(list(exclude)))
        stmt = stmt.limit(1)
        if self.backend == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        with self.transaction("claim the next record", write=True) as s:
            row = s.scalars(stmt).first()
            if row is None:
                return None
            row.lease_user, row.lease_expires = user, now + ttl
            return row.record_id

    def claim(self, record_id: str, user: str, ttl: timedelta) -> IndexEntry:
        """Lease one record to ``user`` (or renew their lease).

        Raises :class:`ConflictError` naming the holder if another reviewer holds it.
        """
        now = utcnow()
        with self.transaction(f"claim record {record_id}", write=True) as s:
            row = s.get(RecordRow, record_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no record {record_id}")
            if row.lease_user not in (None, user) and row.lease_expires is not None \
                    and row.lease_expires > now:
                raise ConflictError(
                    f"record {record_id} is being reviewed by {row.lease_user} "
                    f"until {row.lease_expires:%H:%M:%S} UTC",
                    hint="take another document; this one returns to the queue if its lease "
                    "expires")
            row.lease_user, row.lease_expires = user, now + ttl
            s.flush()
            return entries(s, [row])[0]

    def release(self, record_id: str, user: str) -> bool:
        """Give a lease back (skip, approve, reject); False if ``user`` did not hold it."""
        with self.transaction(f"release record {record_id}", write=True) as s:
            row = s.get(RecordRow, record_id, with_for_update=True)
            if row is None or row.lease_user != user:
                return False
            row.lease_user, row.lease_expires = None, None
            return True

    def backlog(self) -> list[tuple[str, int, datetime | None]]:
        """Per document type: records waiting for review and the oldest one's creation time."""
        stmt = (select(RecordRow.doctype, func.count(), func.min(RecordRow.created_at))
                .where(RecordRow.status == str(RecordStatus.needs_review))
                .group_by(RecordRow.doctype).order_by(RecordRow.doctype))
        with self.transaction("measure the backlog") as s:
            out: list[tuple[str, int, datetime | None]] = []
            for doctype, n, oldest in s.execute(stmt):
                if oldest is not None and oldest.tzinfo is None:
                    oldest = oldest.replace(tzinfo=UTC)
                out.append((doctype, int(n), oldest))
            return out

