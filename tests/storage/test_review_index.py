"""Review state in the index (leases, queue, search, users, sessions, audit), on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from models.accounts import Role
from models.errors import ConflictError
from models.records import AuditAction, AuditEvent, IndexEntry, RecordStatus, fold
from storage.index import QueueFilter, RecordIndex

LEASE = timedelta(minutes=10)


def waiting(record_id: str, confidence: float, *, station: str = "s1",
            name: str = "Nguyễn Văn An") -> IndexEntry:
    at = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    return IndexEntry(record_id=record_id, dossier_id=f"D-{record_id}", batch_id="b1",
                      doctype="cccd_front", status=RecordStatus.needs_review,
                      confidence=confidence, s3_key="k", station=station,
                      search_text=" | ".join(map(fold, [record_id, f"D-{record_id}", name, "079085001234"])),
                      created_at=at, updated_at=at)


def test_concurrent_next_calls_never_get_the_same_record(index: RecordIndex) -> None:
    """
    GIVEN six records waiting for review
    WHEN six reviewers ask for the next one at the same moment
    THEN each gets a different record, lowest confidence first overall
    """
    for i in range(6):
        index.upsert_record(waiting(f"r{i}", 0.5 + i / 100))
    got: list[str | None] = []
    barrier = threading.Barrier(6)

    def ask(user: str) -> None:
        barrier.wait()
        got.append(index.claim_next(user, LEASE))

    threads = [threading.Thread(target=ask, args=(f"u{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(x for x in got if x) == [f"r{i}" for i in range(6)]
    assert index.claim_next("late", LEASE) is None
    assert index.queue_counts(day_start=datetime(2026, 1, 1, tzinfo=UTC)).in_review == 6


def test_a_held_record_is_refused_then_claimable_after_expiry(index: RecordIndex) -> None:
    """
    GIVEN a record leased to one reviewer
    WHEN another claims it, then the lease expires
    THEN the claim is refused naming the holder, then succeeds
    """
    index.upsert_record(waiting("r1", 0.4))
    index.claim("r1", "an", LEASE)
    with pytest.raises(ConflictError, match="an"):
        index.claim("r1", "binh", LEASE)
    index.claim("r1", "an", timedelta(microseconds=1))  # renewal by the holder: near expiry
    entry = index.claim("r1", "binh", LEASE)
    assert entry.lease_user == "binh"
    assert index.release("r1", "an") is False
    assert index.release("r1", "binh") is True
    assert index.claim_next("chi", LEASE) == "r1"


def test_queue_filters_and_reindex_keeps_lease(index: RecordIndex) -> None:
    """
    GIVEN records from two stations, one leased
    WHEN the queue is filtered by station and the leased record is re-indexed
    THEN only that station's records show and the lease survives the projection update
    """
    index.upsert_record(waiting("a", 0.9, station="s1"))
    index.upsert_record(waiting("b", 0.2, station="s2"))
    index.upsert_record(waiting("c", 0.3, station="s1"))
    assert [e.record_id for e in index.review_queue()] == ["b", "c", "a"]
    assert [e.record_id for e in index.review_queue(QueueFilter(station="s1"))] == ["c", "a"]
    index.claim("c", "an", LEASE)
    index.upsert_record(waiting("c", 0.3, station="s1"))
    got = index.get_record("c")
    assert got is not None and got.lease_user == "an"
    assert got.queue_status == RecordStatus.in_review


def test_search_by_name_without_diacritics_and_by_id(index: RecordIndex) -> None:
    """
    GIVEN a record of Nguyễn Văn An
    WHEN searched as "nguyen van an", "Nguyễn An", the citizen ID, or a name not there
    THEN the first three find it and the last does not
    """
    index.upsert_record(waiting("r1", 0.5))
    for q in ("nguyen van an", "Nguyễn An", "079085001234", "D-r1"):
        assert [e.record_id for e in index.search_records(q)] == ["r1"], q
    assert index.search_records("tran thi") == []
    assert index.search_records("100%_") == []


def test_users_sessions_and_login_failures(index: RecordIndex) -> None:
    """
    GIVEN a user with a session
    WHEN the user is disabled
    THEN the session stops working; failures are counted per key and cleared
    """
    index.create_user("an", "hash", Role.reviewer)
    with pytest.raises(ConflictError):
        index.create_user("an", "hash", Role.admin)
    token = index.create_session("an", timedelta(hours=8))
    user = index.session_user(token)
    assert user is not None and user.role == Role.reviewer and user.lang == "vi"
    assert index.session_user("forged") is None
    index.update_user("an", disabled=True)
    assert index.session_user(token) is None
    assert index.password_hash("an") is None
    index.note_login_failure(["user:an", "ip:1.2.3.4"])
    index.note_login_failure(["user:an"])
    assert sorted((k, n) for k, n, _ in index.login_failures(["user:an", "ip:1.2.3.4"])) == [
        ("ip:1.2.3.4", 1), ("user:an", 2)]
    index.clear_login_failures(["user:an"])
    assert index.login_failures(["user:an"]) == []


def test_audit_events_are_indexed_once(index: RecordIndex) -> None:
    """
    GIVEN an audit event
    WHEN it is indexed twice (a reindex after a crash)
    THEN it is there once, with its exact values
    """
    e = AuditEvent(event_id="e1", record_id="r1", action=AuditAction.corrected, actor="an",
                   field="full_name", old_value="NGUYEN VAN AN", new_value="NGUYỄN VĂN AN",
                   record_version=2)
    index.add_audit_events([e], "cccd_front")
    index.add_audit_events([e], "cccd_front")
    [got] = index.audit_events("r1")
    assert got == e
