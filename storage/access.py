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

import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from models.access import AccessEntry, Purpose
from models.errors import DossierError, InvalidInputError, StorageError
from models.records import utcnow
from storage.db import Base, PortableJSON, UTCDateTime
from storage.index import RecordIndex
from storage.objects import ObjectStore

__all__ = ["AccessRow", "AccessCitizenRow", "AccessLog", "AccessWriter", "AccessArchiver",
           "export_csv", "new_access_id"]

log = logging.getLogger(__name__)

_SEQ = BigInteger().with_variant(Integer(), "sqlite")
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
    record_ids: Mapped[list[str]] = mapped_column(PortableJSON)
    citizen_ids: Mapped[list[str]] = mapped_column(PortableJSON)
    archived_key: Mapped[str | None] = mapped_column(String(300))


class AccessCitizenRow(Base):
    __tablename__ = "access_citizens"

    citizen_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("access_log.access_id", ondelete="CASCADE"), primary_key=True)


def _entry(r: AccessRow) -> AccessEntry:
    return AccessEntry(access_id=r.access_id, at=r.at, key_id=r.key_id, key_name=r.key_name,
                       agency=r.agency, action=r.action,
                       purpose=Purpose(code=r.purpose_code, text=r.purpose_text),
                       record_ids=list(r.record_ids or []),
                       citizen_ids=list(r.citizen_ids or []), request_id=r.request_id)


def new_access_id() -> str:
    return uuid.uuid4().hex


def _write_rows(conn: Connection, entries: Sequence[AccessEntry],
                archived_key: str | None) -> None:
    # A mapped class's __table__ is typed as any FromClause; here it is its Table.
    conn.execute(cast(Table, AccessRow.__table__).insert(), [
        {"access_id": e.access_id, "at": e.at, "key_id": e.key_id, "key_name": e.key_name,
         "agency": e.agency, "action": str(e.action), "purpose_code": e.purpose.code,
         "purpose_text": e.purpose.text, "request_id": e.request_id,
         "record_ids": list(e.record_ids), "citizen_ids": sorted(set(e.citizen_ids)),
         "archived_key": archived_key}
        for e in entries])
    citizens = [{"citizen_id": c, "access_id": e.access_id}
                for e in entries for c in sorted(set(e.citizen_ids))]
    if citizens:
        conn.execute(cast(Table, AccessCitizenRow.__table__).insert(), citizens)


class AccessLog:
    def __init__(self, index: RecordIndex, store: ObjectStore | None = None) -> None:
        self.index = index
        self.store = store

    def record(self, entry: AccessEntry) -> None:
        """Write one read to the log (raises :class:`StorageError` if the index refuses)."""
        self._insert([entry])

    def record_all(self, entries: Sequence[AccessEntry]) -> int:
        """Write many reads in one transaction (a bulk load); returns how many."""
        return self._insert(entries)

    def _insert(self, entries: Sequence[AccessEntry], archived_key: str | None = None) -> int:
        """Write entries in one transaction (two statements); an entry whose id is already
        there (a segment restored twice) is skipped. Returns how many were written."""
        if not entries:
            return 0
        with self.index.transaction("write the access log", write=True) as s:
            if archived_key is not None:  # a restore: some may be there already
                ids = [e.access_id for e in entries]
                there = set(s.scalars(select(AccessRow.access_id)
                                      .where(AccessRow.access_id.in_(ids))))
                entries = [e for e in entries if e.access_id not in there]
                if not entries:
                    return 0
            _write_rows(s.connection(), entries, archived_key)
        return len(entries)

    def append(self, conn: Connection, entries: Sequence[AccessEntry]) -> None:
        """Write new entries in one transaction on ``conn`` (a connection the caller keeps:
        :class:`AccessWriter`'s), with the index's errors (:class:`StorageError`,
        :class:`InvalidInputError`) as :meth:`RecordIndex.transaction` gives them."""
        try:
            with conn.begin():
                _write_rows(conn, entries, None)
        except DataError as e:
            raise InvalidInputError(f"cannot write the access log: the index refuses a value "
                                    f"({str(e.orig).splitlines()[0]})") from e
        except SQLAlchemyError as e:
            raise StorageError(f"cannot write the access log in the index at "
                               f"{self.index.url}: {e}") from e

    def for_citizen(self, citizen_id: str, *, limit: int = 100,
                    before: int | None = None) -> tuple[list[AccessEntry], int | None]:
        """Reads of this citizen's data, newest first, and the cursor for older ones."""
        stmt = (select(AccessRow)
                .join(AccessCitizenRow, AccessCitizenRow.access_id == AccessRow.access_id)
                .where(AccessCitizenRow.citizen_id == citizen_id))
        if before is not None:
            stmt = stmt.where(AccessRow.seq < before)
        stmt = stmt.order_by(AccessRow.seq.desc()).limit(limit + 1)
        with self.index.transaction(f"read the access log of citizen {citizen_id}") as s:
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
        """Move entries not yet in the object store there as one segment; how many.

        PostgreSQL: the rows are locked (``SKIP LOCKED``) while the segment is written, so
        replicas take different rows. SQLite: the rows are read, the segment written, then
        the rows marked in a short write transaction (the write lock is not held over an S3
        call); two processes racing may both write a row, which is one entry by its id."""
        if self.store is None:
            return 0
        stmt = (select(AccessRow).where(AccessRow.archived_key.is_(None))
                .order_by(AccessRow.seq).limit(limit))
        pg = self.index.backend == "postgresql"
        if pg:
            stmt = stmt.with_for_update(skip_locked=True)
        with self.index.transaction("archive the access log", write=pg) as s:
            rows = list(s.scalars(stmt))
            if not rows:
                return 0
            data = "".join(_entry(r).model_dump_json() + "\n" for r in rows).encode("utf-8")
            key = self.store.put_access_segment(utcnow(), f"{rows[0].seq}-{uuid.uuid4().hex[:8]}",
                                                data)
            seqs = [r.seq for r in rows]
            if pg:
                s.execute(update(AccessRow).where(AccessRow.seq.in_(seqs))
                          .values(archived_key=key))
        if not pg:
            with self.index.transaction("archive the access log", write=True) as s:
                s.execute(update(AccessRow).where(AccessRow.seq.in_(seqs),
                                                  AccessRow.archived_key.is_(None))
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

    def checkpoint(self) -> None:
        """SQLite: copy what the write-ahead log holds into the database file as far as no
        reader needs it (``PASSIVE``: waits for nobody), since the access writer's commits
        leave that out. PostgreSQL: nothing."""
        if self.index.backend != "sqlite":
            return
        try:
            with self.index.engine.connect() as c:
                c.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()
        except SQLAlchemyError as e:
            raise StorageError(f"cannot checkpoint the index at {self.index.url}: {e}") from e


class AccessWriter:
    """Writes access entries in group commits: a request hands its entry over and waits
    until the transaction holding it has committed (or failed: then the request fails too);
    the entries of requests that arrive meanwhile go in the next transaction together. So a
    busy server writes one transaction per round, not one per read (on SQLite every write
    transaction takes the one write lock).

    :meth:`submit` gives the future of an entry's commit, which a request served on the event
    loop awaits (no thread of its own waits); :meth:`record` waits for it in the caller's
    thread."""

    def __init__(self, log_: AccessLog, max_batch: int = 500) -> None:
        self.log = log_
        self.max_batch = max_batch
        self._cv = threading.Condition()
        self._pending: list[tuple[AccessEntry, Future[None]]] = []
        self._thread: threading.Thread | None = None

    def submit(self, entry: AccessEntry) -> Future[None]:
        """Queue ``entry``; the future is done once it is committed, or carries the error."""
        done: Future[None] = Future()
        with self._cv:
            self._pending.append((entry, done))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="access-writer",
                                                daemon=True)
                self._thread.start()
            self._cv.notify()
        return done

    def record(self, entry: AccessEntry) -> None:
        self.submit(entry).result()

    def _run(self) -> None:
        conn: Connection | None = None
        try:
            while True:
                with self._cv:
                    if not self._cv.wait_for(lambda: bool(self._pending), timeout=60):
                        self._thread = None
                        return  # idle: the next submit() starts a thread again
                    batch = self._pending[:self.max_batch]
                    del self._pending[:self.max_batch]
                # A request that went away (its future cancelled) is written all the same:
                # its data may have been read; only nobody waits for it.
                waiting = [done.set_running_or_notify_cancel() for _, done in batch]
                error: BaseException | None = None
                try:
                    if conn is None:
                        conn = self._connect()
                    self.log.append(conn, [e for e, _ in batch])
                except Exception as e:  # noqa: BLE001 - handed to every waiting request
                    error = e
                    self._close(conn)  # the next round starts on a new connection
                    conn = None
                for (_, done), waits in zip(batch, waiting, strict=True):
                    if not waits:
                        continue
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
        finally:
            self._close(conn)

    def _connect(self) -> Connection:
        """The writer's own connection, kept while it has work. On SQLite its commits do not
        checkpoint the write-ahead log (a checkpoint writes the database file and syncs it,
        which would hold up every request waiting for the commit): the archiver checkpoints
        every round instead (:meth:`AccessLog.checkpoint`)."""
        index = self.log.index
        try:
            conn = index.engine.connect().execution_options(sqlite_immediate=True)
            if index.backend == "sqlite":
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
                conn.commit()
        except SQLAlchemyError as e:
            raise StorageError(f"cannot write the access log in the index at {index.url}: "
                               f"{e}") from e
        return conn

    def _close(self, conn: Connection | None) -> None:
        if conn is None:
            return
        try:
            if self.log.index.backend == "sqlite":  # back to the pool as SQLite's default
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint=1000")
                conn.commit()
        except SQLAlchemyError:
            conn.invalidate()  # a broken connection does not go back to the pool
        finally:
            conn.close()


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
            self.log.checkpoint()
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

