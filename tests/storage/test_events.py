"""The outbox on SQLite and PostgreSQL over the real S3 server: every record lifecycle change
and batch state change is one event written with the change, none for a write that did not
happen, and a reader following the cursor never misses one, however writers interleave."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from models.batches import BatchDossier, BatchFile, BatchPlan, Stage
from models.errors import StorageError
from models.events import EventType
from models.records import ExtractedField, FieldStatus, IndexEntry, Record, RecordStatus
from review.lifecycle import FieldAction, FieldDecision
from review.service import ReviewService
from storage.batches import BatchLedger
from storage.embedded import S3Endpoint
from storage.events import EventFeed
from storage.index import RecordIndex
from storage.objects import ObjectStore
from storage.records import RecordStore

KINDS = {"cccd_front": {"citizen_id": "citizen_id", "full_name": "person_name"}}


def machine_record(record_id: str, *, settled: bool = False) -> Record:
    name = FieldStatus.accepted if settled else FieldStatus.review
    return Record(record_id=record_id, dossier_id="D1", batch_id="B1", doctype="cccd_front",
                  status=RecordStatus.extracted if settled else RecordStatus.needs_review,
                  citizen_ids=["079085001234"],
                  fields=[ExtractedField(name="citizen_id", value="079085001234",
                                         confidence=0.99, status=FieldStatus.accepted),
                          ExtractedField(name="full_name", value="NGUYEN VAN AN",
                                         confidence=0.6, status=name)])


def plan(batch_id: str) -> BatchPlan:
    return BatchPlan(batch_id=batch_id, station="S1", operator="op", dossiers=[
        BatchDossier(name="d", dossier_id=f"D-{batch_id}", files=[
            BatchFile(file_no=1, dossier="d", name="d/a.png", sha256="a" * 64, size=3)])])


@pytest.fixture
def svc(index: RecordIndex, s3_endpoint: S3Endpoint) -> Iterator[ReviewService]:
    store = ObjectStore(s3_endpoint, bucket_prefix=f"e{uuid.uuid4().hex[:10]}-")
    yield ReviewService(store, index, KINDS)


def kinds(index: RecordIndex, after: int = 0) -> list[tuple[str, str | None]]:
    return [(e.type.value, e.record_id or e.batch_id) for e in EventFeed(index).after(after,
                                                                                      1000)]


def test_each_lifecycle_change_is_one_event_of_its_type_in_order(svc: ReviewService) -> None:
    """
    GIVEN records stored by the machine and changed by a reviewer, and a batch run
    WHEN each change is written
    THEN each is exactly one event, typed by the old and new status, in order, with ids,
         document type, status and revision, and no citizen data; a machine run that finds
         its extraction already stored, and a lease taken, write none
    """
    records = RecordStore(svc.store, svc.index)
    assert records.put_machine(machine_record("R-1")).written
    assert not records.put_machine(machine_record("R-1")).written  # a resumed run
    records.put_machine(machine_record("R-2", settled=True))
    svc.claim("R-1", "lan")
    svc.decide("R-1", "lan", 1, [FieldDecision(field="full_name", action=FieldAction.correct,
                                               value="Nguyễn Văn An")])
    svc.approve("R-1", "lan", 2)
    records.put_machine(machine_record("R-3"))
    svc.claim("R-3", "lan")
    svc.reject("R-3", "lan", 1, "the page is cut off")
    ledger = BatchLedger(svc.index)
    ledger.create(plan("B9"))
    assert ledger.claim("B9", "run-1", stale=timedelta(seconds=30))
    ledger.set_file("B9", 1, Stage.done)
    ledger.finish("B9", "run-1")

    assert kinds(svc.index) == [
        ("record.needs_review", "R-1"), ("record.extracted", "R-2"),
        ("record.changed", "R-1"), ("record.verified", "R-1"),
        ("record.needs_review", "R-3"), ("record.rejected", "R-3"),
        ("batch.queued", "B9"), ("batch.running", "B9"), ("batch.finished", "B9")]
    events = EventFeed(svc.index).after(0, 100)
    assert len({e.id for e in events}) == len(events)
    assert [int(e.cursor) for e in events] == sorted(int(e.cursor) for e in events)
    changed, verified = events[2], events[3]
    assert changed.doctype == "cccd_front" and changed.dossier_id == "D1"
    assert changed.data == {"status": "needs_review", "previous_status": "needs_review",
                            "revision": 2, "settled": True, "fields": ["full_name"]}
    assert verified.data["status"] == "verified" and verified.data["revision"] == 3
    assert events[-1].data == {"state": "finished", "attempts": 1, "files": {"done": 1}}
    dumped = " ".join(e.model_dump_json() for e in events)
    assert "079085001234" not in dumped and "Nguy" not in dumped  # ids and statuses only
    # Paging from a cursor gives the rest, in order.
    assert kinds(svc.index, int(events[4].cursor)) == kinds(svc.index)[5:]


def _refuse_events(index: RecordIndex) -> None:
    """A fault in the database itself: inserting an event fails."""
    with index.engine.begin() as conn:
        if index.backend == "sqlite":
            conn.execute(text("CREATE TRIGGER refuse_events BEFORE INSERT ON events "
                              "BEGIN SELECT RAISE(ABORT, 'events refused'); END"))
        else:
            conn.execute(text("CREATE FUNCTION refuse_events() RETURNS trigger AS $$ BEGIN "
                              "RAISE EXCEPTION 'events refused'; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER refuse_events BEFORE INSERT ON events "
                              "FOR EACH ROW EXECUTE FUNCTION refuse_events()"))


def _accept_events(index: RecordIndex) -> None:
    with index.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_events" if index.backend == "sqlite"
                          else "DROP TRIGGER refuse_events ON events"))


def test_a_failing_write_leaves_neither_the_change_nor_its_event(svc: ReviewService) -> None:
    """
    GIVEN a record needing review
    WHEN the event of a reviewer's change cannot be written, and then a change fails while
         its new version is being stored
    THEN the change is refused whole: the index still describes the old revision, with no
         event and no audit row; once events can be written, the same change is one event
    """
    records = RecordStore(svc.store, svc.index)
    records.put_machine(machine_record("R-1"))
    before = kinds(svc.index)
    decision = [FieldDecision(field="full_name", action=FieldAction.confirm)]
    _refuse_events(svc.index)
    with pytest.raises(StorageError):
        svc.decide("R-1", "lan", 1, decision)
    entry = svc.index.get_record("R-1")
    assert entry is not None and entry.revision == 1 and entry.status == RecordStatus.needs_review
    assert kinds(svc.index) == before
    assert [e.action for e in svc.index.audit_events("R-1")] == ["extracted"]
    _accept_events(svc.index)

    # The object store refuses the new version: no change, no event.
    real_put = svc.store.put_record

    def refusing_put(*args: object, **kw: object) -> str | None:
        raise StorageError("the object store refused the record version")

    svc.store.put_record = refusing_put  # type: ignore[method-assign]
    try:
        with pytest.raises(StorageError):
            records.put_machine(machine_record("R-9"))
    finally:
        svc.store.put_record = real_put  # type: ignore[method-assign]
    assert svc.index.get_record("R-9") is None and kinds(svc.index) == before


def test_a_run_resumed_after_a_crash_announces_the_version_it_left(svc: ReviewService) -> None:
    """
    GIVEN a machine run that stored a record version in S3 and died before its index
          transaction committed (so neither the index row nor the event exist)
    WHEN the run is resumed
    THEN the stored version is indexed and announced once, and a further resume adds nothing
    """
    records = RecordStore(svc.store, svc.index)
    _refuse_events(svc.index)  # the commit fails after the S3 write, as in a crash
    with pytest.raises(StorageError):
        records.put_machine(machine_record("R-5"))
    _accept_events(svc.index)
    assert svc.index.get_record("R-5") is None and kinds(svc.index) == []
    assert len(svc.store.record_versions("R-5")) == 1
    assert not records.put_machine(machine_record("R-5")).written
    records.put_machine(machine_record("R-5"))
    assert kinds(svc.index) == [("record.needs_review", "R-5")]


def test_a_reader_following_the_cursor_never_misses_an_event(index: RecordIndex) -> None:
    """
    GIVEN four writers creating batches at once (each an event in its own transaction)
    WHEN a reader follows the feed from its cursor the whole time
    THEN it reads every event exactly once and in cursor order, as one who reads after all
         writers finished: no event ever commits behind a cursor already given out
    """
    feed = EventFeed(index)
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            ledger = BatchLedger(index)
            for i in range(25):
                ledger.create(plan(f"W{w}-{i}"))
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            errors.append(e)

    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in writers:
        t.start()
    seen: list[str] = []
    cursor = 0
    while True:
        finished = all(not t.is_alive() for t in writers)
        page = feed.after(cursor, 7)
        seen += [e.id for e in page]
        cursor = int(page[-1].cursor) if page else cursor
        if finished and not page:
            break
    assert errors == []
    everything = feed.after(0, 1000)
    assert len(everything) == 100
    assert seen == [e.id for e in everything]
    assert [e.type for e in everything] == [EventType.batch_queued] * 100


def test_the_index_projection_alone_writes_no_event(svc: ReviewService) -> None:
    """
    GIVEN stored records with their events
    WHEN the index is rebuilt from the object store (reindex)
    THEN no event is written: reindex rebuilds a projection, it changes nothing
    """
    records = RecordStore(svc.store, svc.index)
    records.put_machine(machine_record("R-1"))
    records.put_machine(machine_record("R-2", settled=True))
    before = kinds(svc.index)
    records.reindex()
    assert kinds(svc.index) == before
    entry = svc.index.get_record("R-2")
    assert isinstance(entry, IndexEntry) and entry.status == RecordStatus.extracted


def test_an_event_committing_late_is_not_overtaken_by_a_later_one(
        index: RecordIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    GIVEN a writer that has written its event and is slow to commit
    WHEN another writer writes an event meanwhile and a reader reads the feed
    THEN the reader sees neither until the first commits, then both in commit order: the
         second writer waits for the first instead of committing a later cursor before it
    """
    import storage.batches as batches_module

    real = batches_module.append_events
    inserted, go_on = threading.Event(), threading.Event()

    def slow(s: object, backend: str, events: list) -> None:
        real(s, backend, events)  # type: ignore[arg-type]
        if threading.current_thread().name == "slow-writer":
            inserted.set()
            go_on.wait(30)

    monkeypatch.setattr(batches_module, "append_events", slow)
    ledger = BatchLedger(index)
    first = threading.Thread(target=ledger.create, args=(plan("SLOW"),), name="slow-writer")
    first.start()
    assert inserted.wait(30)
    second = threading.Thread(target=ledger.create, args=(plan("FAST"),))
    second.start()
    second.join(timeout=1.0)  # the time it would need to commit ahead, were it not held
    seen_meanwhile = EventFeed(index).after(0, 10)
    go_on.set()
    first.join(30)
    second.join(30)
    assert seen_meanwhile == []
    assert [e.batch_id for e in EventFeed(index).after(0, 10)] == ["SLOW", "FAST"]
