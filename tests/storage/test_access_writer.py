"""The access log's group commits on real SQLite and PostgreSQL: a read goes on only once its
entry is committed, a write that fails fails the reads that waited for it (and the next round
starts afresh), and on SQLite the writer leaves checkpoints of the write-ahead log to the
archiver."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from models.access import AccessAction, AccessEntry, Purpose
from models.errors import StorageError
from models.records import utcnow
from storage.access import AccessLog, AccessWriter, new_access_id
from storage.index import RecordIndex


def entry(citizen_id: str, access_id: str | None = None) -> AccessEntry:
    return AccessEntry(access_id=access_id or new_access_id(), at=utcnow(), key_id="k1",
                       key_name="portal", agency="Sở Tư pháp",
                       action=AccessAction.citizen_lookup,
                       purpose=Purpose(code="1.004227", text="Đăng ký thường trú"),
                       record_ids=["r-1"], citizen_ids=[citizen_id], request_id="req-1")


def test_a_read_goes_on_only_once_its_entry_is_committed(index: RecordIndex) -> None:
    """
    GIVEN one writer and 40 reads from 16 threads at once
    WHEN each read hands its entry over and goes on
    THEN another connection already finds that entry, and every entry is there once
    """
    writer = AccessWriter(AccessLog(index))

    def read(i: int) -> bool:
        e = entry(f"0790850{i:05d}")
        writer.record(e)
        found, _ = AccessLog(index).for_citizen(e.citizen_ids[0])
        return [f.access_id for f in found] == [e.access_id]

    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(read, range(40)))


def test_a_read_served_on_the_event_loop_awaits_its_commit(index: RecordIndex) -> None:
    """
    GIVEN reads served on an event loop (no thread of their own)
    WHEN 20 of them hand their entries over at once and await them
    THEN each is committed when its await returns
    """
    writer = AccessWriter(AccessLog(index))
    entries = [entry(f"0011900{i:05d}") for i in range(20)]

    async def reads() -> None:
        await asyncio.gather(*(asyncio.wrap_future(writer.submit(e)) for e in entries))

    asyncio.run(reads())
    for e in entries:
        found, _ = AccessLog(index).for_citizen(e.citizen_ids[0])
        assert [f.access_id for f in found] == [e.access_id]


def test_a_read_that_went_away_is_written_and_the_writer_goes_on(index: RecordIndex) -> None:
    """
    GIVEN a read that hands its entry over and goes away before the writer takes it (its
    future cancelled, as when a client disconnects)
    WHEN the writer takes it, and then another read's entry
    THEN both entries are written and the second read goes on
    """
    writer = AccessWriter(AccessLog(index))
    gone, kept = entry("079085001234"), entry("079085001234")
    with writer._cv:  # the writer cannot take the entry before it is cancelled
        assert writer.submit(gone).cancel()
    writer.record(kept)
    found, _ = AccessLog(index).for_citizen("079085001234")
    assert {f.access_id for f in found} == {gone.access_id, kept.access_id}


def test_a_write_that_fails_fails_its_reads_and_the_next_round_goes_on(
        index: RecordIndex) -> None:
    """
    GIVEN an entry already written
    WHEN a read hands over an entry the index refuses (the same id again), then another read
    THEN the first read fails with the index's error, the second is written
    """
    writer = AccessWriter(AccessLog(index))
    first = entry("079085001234")
    writer.record(first)
    with pytest.raises(StorageError, match="access log"):
        writer.record(entry("079085001234", access_id=first.access_id))
    second = entry("079085001234")
    writer.record(second)
    found, _ = AccessLog(index).for_citizen("079085001234")
    assert [f.access_id for f in found] == [second.access_id, first.access_id]


def _wal_frames(path: Path) -> int:
    """Frames in the write-ahead log not yet copied into the database file."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        _busy, log, done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(log) if log >= 0 else 0
    finally:
        db.close()


def test_on_sqlite_the_writer_leaves_checkpoints_to_the_archiver(tmp_path: Path) -> None:
    """
    GIVEN a SQLite index and the access writer
    WHEN it commits far more than SQLite's automatic checkpoint (1,000 pages) would let grow
    THEN the write-ahead log holds them all (no commit waited for a checkpoint); after the
    archiver's checkpoint a new commit starts the log again
    """
    path = tmp_path / "index.sqlite3"
    index = RecordIndex(f"sqlite:///{path}")
    try:
        writer = AccessWriter(AccessLog(index))
        for i in range(400):
            writer.record(entry(f"0790850{i:05d}"))
        size = path.with_name(path.name + "-wal").stat().st_size
        assert size > 1000 * 4096
        AccessLog(index).checkpoint()
        writer.record(entry("079085999999"))
        assert _wal_frames(path) < 50
        assert len(list(AccessLog(index).all_for_citizen("079085999999"))) == 1
    finally:
        index.close()
