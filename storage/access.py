"""The access log: who read which citizen's data, when and why.

Every read of citizen data through ``/v1`` is one :class:`models.access.AccessEntry`, written
to the index (tables ``access_log`` and ``access_citizens``, migration 0009) before the data
is answered: a read whose entry cannot be written is refused. An archiver in every web
process moves the new entries to the object store as append-only segments (JSON lines, one
object each, never rewritten) about every second, taking them under a lock (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, the write lock on SQLite) so two replicas never write the same
entries; an entry archived twice (a crash between the upload and the mark) is one entry,
by its ``access_id``. :meth:`AccessLog.restore` rebuilds the index's rows from the segments.

Why the index first and not an object per read, as the audit does: a lookup is a read, and
one more S3 PUT per read would halve how many lookups a server answers; one segment per
second keeps the object store's copy append-only and seconds behind.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Text,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from models.access import AccessEntry, Purpose
from models.errors import DossierError
from models.records import utcnow
from storage.index import Base, RecordIndex, UTCDateTime
from storage.objects import ObjectStore

__all__ = ["AccessRow", "AccessCitizenRow", "AccessLog", "AccessArchiver"]

log = logging.getLogger(__name__)

_SEQ = BigInteger().with_variant(Integer(), "sqlite")
_JSON = JSON().with_variant(postgresql.JSONB(), "postgresql")
SEGMENT_MAX = 5000


class AccessRow(Base):
    __tablename__ = "access_log"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=True)
    access_id: Mapped[str] = mapped_column(String(64), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    key_name: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    purpose_code: Mapped[str] = mapped_column(String(64))
    purpose_text: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    record_ids: Mapped[list[str]] = mapped_column(_JSON)
    citizen_ids: Mapped[list[str]] = mapped_column(_JSON)
    archived_key: Mapped[str | None] = mapped_column(String(300))


class AccessCitizenRow(Base):
    __tablename__ = "access_citizens"

    citizen_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(
        _SEQ, ForeignKey("access_log.seq", ondelete="CASCADE"), primary_key=True)


def _entry(r: AccessRow) -> AccessEntry:
    return AccessEntry(access_id=r.access_id, at=r.at, key_id=r.key_id, key_name=r.key_name,
                       agency=r.agency, action=r.action,  # type: ignore[arg-type]
                       purpose=Purpose(code=r.purpose_code, text=r.purpose_text),
                       record_ids=list(r.record_ids or []),
                       citizen_ids=list(r.citizen_ids or []), request_id=r.request_id)


def new_access_id() -> str:
    return uuid.uuid4().hex


class AccessLog:
    def __init__(self, index: RecordIndex, store: ObjectStore | None = None) -> None:
        self.index = index
        self.store = store

    def record(self, entry: AccessEntry) -> None:
        """Write one read to the log (raises :class:`StorageError` if the index refuses)."""
        self._insert([entry])

    def _insert(self, entries: Sequence[AccessEntry], archived_key: str | None = None) -> int:
        if not entries:
            return 0
        insert = self.index._insert()
        written = 0
        with self.index._session("write the access log", write=True) as s:
            for e in entries:
                result = s.execute(
                    insert(AccessRow).values(
                        access_id=e.access_id, at=e.at, key_id=e.key_id, key_name=e.key_name,
                        agency=e.agency, action=str(e.action), purpose_code=e.purpose.code,
                        purpose_text=e.purpose.text, request_id=e.request_id,
                        record_ids=list(e.record_ids), citizen_ids=sorted(set(e.citizen_ids)),
                        archived_key=archived_key)
                    .on_conflict_do_nothing(index_elements=[AccessRow.access_id])
                    .returning(AccessRow.seq))
                seq = result.scalar()
                if seq is None:
                    continue  # already there (a segment read twice)
                written += 1
                citizens = sorted(set(e.citizen_ids))
                if citizens:
                    s.execute(AccessCitizenRow.__table__.insert(),
                              [{"citizen_id": c, "seq": seq} for c in citizens])
        return written

    def for_citizen(self, citizen_id: str, *, limit: int = 100,
                    before: int | None = None) -> tuple[list[AccessEntry], int | None]:
        """Reads of this citizen's data, newest first, and the cursor for older ones."""
        stmt = (select(AccessRow).join(AccessCitizenRow, AccessCitizenRow.seq == AccessRow.seq)
                .where(AccessCitizenRow.citizen_id == citizen_id))
        if before is not None:
            stmt = stmt.where(AccessRow.seq < before)
        stmt = stmt.order_by(AccessRow.seq.desc()).limit(limit + 1)
        with self.index._session(f"read the access log of citizen {citizen_id}") as s:
            rows = list(s.scalars(stmt))
        more = len(rows) > limit
        rows = rows[:limit]
        return [_entry(r) for r in rows], (rows[-1].seq if more and rows else None)

    def all_for_citizen(self, citizen_id: str) -> Iterator[AccessEntry]:
        before = None
        while True:
            page, before = self.for_citizen(citizen_id, limit=500, before=before)
            yield from page
            if before is None:
                return

    def archive_pending(self, limit: int = SEGMENT_MAX) -> int:
        """Move entries not yet in the object store there as one segment; how many."""
        if self.store is None:
            return 0
        stmt = (select(AccessRow).where(AccessRow.archived_key.is_(None))
                .order_by(AccessRow.seq).limit(limit))
        if self.index.backend == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        with self.index._session("archive the access log", write=True) as s:
            rows = list(s.scalars(stmt))
            if not rows:
                return 0
            data = "".join(_entry(r).model_dump_json() + "\n" for r in rows).encode("utf-8")
            key = self.store.put_access_segment(utcnow(), f"{rows[0].seq}-{uuid.uuid4().hex[:8]}",
                                                data)
            s.execute(update(AccessRow).where(AccessRow.seq.in_([r.seq for r in rows]))
                      .values(archived_key=key))
            return len(rows)

    def restore(self) -> int:
        """Index every entry of the object store's segments that the index lacks."""
        if self.store is None:
            return 0
        restored = 0
        for key, data in self.store.iter_access_segments():
            entries = [AccessEntry.model_validate_json(line)
                       for line in data.decode("utf-8").splitlines() if line.strip()]
            restored += self._insert(entries, archived_key=key)
        return restored


class AccessArchiver:
    """A thread that archives the access log every ``interval`` seconds until stopped."""

    def __init__(self, log_: AccessLog, interval: float) -> None:
        self.log = log_
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="access-archiver", daemon=True)

    def start(self) -> AccessArchiver:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def run_once(self) -> int:
        try:
            n = self.log.archive_pending()
            while n == SEGMENT_MAX and not self._stop.is_set():
                n = self.log.archive_pending()
            return n
        except DossierError as e:  # the store or the index is down: the rows wait
            log.warning("cannot archive the access log yet: %s", e)
            return 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.run_once()  # what was read until now goes to the store before exit


def export_csv(entries: Sequence[AccessEntry]) -> str:
    """The entries as CSV, one read a line (what a citizen can be handed)."""
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["time (UTC)", "agency", "API key", "what", "procedure code", "purpose",
                "records", "request id"])
    for e in entries:
        w.writerow([e.at.strftime("%Y-%m-%d %H:%M:%S"), e.agency or "", e.key_name,
                    str(e.action), e.purpose.code, e.purpose.text or "",
                    " ".join(e.record_ids), e.request_id or ""])
    return out.getvalue()


def dumps(entries: Sequence[AccessEntry]) -> str:
    return json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False)
