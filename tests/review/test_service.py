"""Review actions against the real S3 server and a SQLite index: each change is a new record
version plus audit events in the object store, the index follows, a stale save is refused,
reindex restores the audit trail, and a machine run never overwrites a person's work."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.errors import ConflictError, ReviewError
from models.records import (
    AuditAction,
    ExtractedField,
    FieldStatus,
    IndexEntry,
    Record,
    RecordStatus,
)
from review.lifecycle import FieldAction, FieldDecision
from review.service import ReviewService
from storage.embedded import S3Endpoint
from storage.index import RecordIndex
from storage.objects import ObjectStore

KINDS = {"cccd_front": {"citizen_id": "citizen_id", "full_name": "person_name",
                        "date_of_birth": "date"}}


def machine_record(record_id: str) -> Record:
    return Record(record_id=record_id, dossier_id="D1", batch_id="B1", doctype="cccd_front",
                  status=RecordStatus.needs_review, citizen_ids=["079085001234"],
                  fields=[ExtractedField(name="citizen_id", value="079085001234",
                                         confidence=0.99, status=FieldStatus.accepted),
                          ExtractedField(name="full_name", value="NGUYEN VAN AN",
                                         confidence=0.6, status=FieldStatus.review),
                          ExtractedField(name="date_of_birth", value="1985-03-02",
                                         confidence=0.99, status=FieldStatus.accepted)])


@pytest.fixture
def svc(index_url: str, s3_endpoint: S3Endpoint) -> Iterator[ReviewService]:
    """A review service over a fresh bucket set and an index on SQLite, then PostgreSQL."""
    store = ObjectStore(s3_endpoint, bucket_prefix=f"v{uuid.uuid4().hex[:10]}-")
    index = RecordIndex(index_url)
    for rid in ("R-01", "R-02"):
        rec = machine_record(rid)
        version = store.put_record(rid, rec.to_json())
        index.upsert_record(IndexEntry.from_record(rec, store.record_location(rid), version))
    try:
        yield ReviewService(store, index, KINDS)
    finally:
        index.close()


def test_each_decision_is_a_version_with_audit_in_store_and_index(svc: ReviewService) -> None:
    """
    GIVEN a record needing review
    WHEN a reviewer corrects the name and approves
    THEN S3 holds three versions, the audit events are in S3 and the index alike, the index
         row says verified and settled, and the default reuse listing would now serve it
    """
    svc.claim("R-01", "an")
    rec = svc.decide("R-01", "an", 1, [FieldDecision(field="full_name",
                                                     action=FieldAction.correct,
                                                     value="Nguyễn Văn An")])
    assert rec.revision == 2
    done = svc.approve("R-01", "an", 2)
    assert done.status == RecordStatus.verified
    assert len(svc.store.record_versions("R-01")) == 3
    in_s3 = svc.store.audit_events("R-01")
    assert [e.action for e in in_s3] == [AuditAction.claimed, AuditAction.corrected,
                                         AuditAction.verified]
    assert svc.index.audit_events("R-01") == in_s3
    entry = svc.index.get_record("R-01")
    assert entry is not None and entry.status == RecordStatus.verified and entry.settled
    assert entry.revision == 3 and entry.lease_user is None
    assert entry.summary["full_name"] == "Nguyễn Văn An"
    assert "nguyen van an" in entry.search_text


def test_a_stale_save_is_refused_and_changes_nothing(svc: ReviewService) -> None:
    """
    GIVEN a record two people loaded at revision 1
    WHEN the first saves, then the second saves against revision 1
    THEN the second gets a ConflictError and the store and index keep the first change
    """
    svc.decide("R-02", "an", 1, [FieldDecision(field="full_name", action=FieldAction.confirm)])
    with pytest.raises(ConflictError):
        svc.decide("R-02", "an", 1, [FieldDecision(field="full_name",
                                                   action=FieldAction.correct,
                                                   value="Trần Văn Bình")])
    assert svc.load("R-02").field("full_name").status == FieldStatus.confirmed
    assert svc.index.get_record("R-02").revision == 2
    assert len(svc.store.record_versions("R-02")) == 2


def test_another_reviewers_lease_blocks_saves(svc: ReviewService) -> None:
    svc.claim("R-01", "an")
    with pytest.raises(ConflictError, match="an"):
        svc.decide("R-01", "binh", 1, [FieldDecision(field="full_name",
                                                     action=FieldAction.confirm)])
    with pytest.raises(ReviewError, match="unresolved"):
        svc.approve("R-01", "an", 1)


def test_reindex_restores_records_and_audit_and_machine_runs_keep_person_work(
        svc: ReviewService, tmp_path: Path, s3_endpoint: S3Endpoint) -> None:
    """
    GIVEN a record a person corrected
    WHEN the index is rebuilt from the object store, and a machine run extracts the same
         record again with its own values
    THEN the audit trail and the corrected values come back; the machine run keeps the
         stored record and its index row keeps the person's values
    """
    from storage.records import RecordStore

    records = RecordStore(svc.store, svc.index)
    svc.decide("R-01", "an", 1, [FieldDecision(field="full_name", action=FieldAction.correct,
                                               value="Nguyễn Văn An")])
    events = svc.store.audit_events("R-01")
    assert records.reindex() == (2, 2, len(svc.store.audit_events("R-01"))
                                 + len(svc.store.audit_events("R-02")))
    assert svc.index.audit_events("R-01") == events
    assert svc.index.get_record("R-01").summary["full_name"] == "Nguyễn Văn An"

    kept = records.put_machine(machine_record("R-01"))
    assert not kept.written and kept.record.field("full_name").value == "Nguyễn Văn An"
    assert svc.index.get_record("R-01").summary["full_name"] == "Nguyễn Văn An"
    assert len(svc.store.record_versions("R-01")) == 2
    again = records.put_machine(machine_record("R-02"))  # the same extraction, resumed
    assert not again.written and len(svc.store.record_versions("R-02")) == 1
    fresh = machine_record("R-02")
    fresh.fields[1].value = "NGUYEN VAN AM"
    got = records.put_machine(fresh)
    assert got.written and got.record.revision == 2
    assert svc.index.get_record("R-02").summary["full_name"] == "NGUYEN VAN AM"
    assert [e.action for e in svc.index.audit_events("R-02")][-1] == AuditAction.extracted


def test_corrections_export_carries_crop_ocr_machine_and_final_values(
        svc: ReviewService) -> None:
    """
    GIVEN a record on a stored cleaned page, with one field corrected and one confirmed
    WHEN corrections are exported
    THEN each line names the crop (a PNG of the box in the derived bucket), the OCR text, the
         machine value, the final value and the document type; untouched fields are left out
    """
    import io
    import json

    import cv2
    import numpy as np

    from models.records import PageRef

    page = np.full((400, 600), 255, np.uint8)
    cv2.putText(page, "NGUYEN VAN AN", (20, 100), cv2.FONT_HERSHEY_SIMPLEX, 1, 0, 2)
    ok, png = cv2.imencode(".png", page)
    assert ok
    svc.store.put_derived("cleaned/test/0000.png", png.tobytes(), "image/png")
    rec = machine_record("R-03")
    rec.pages = [PageRef(index=0, original_sha256="0" * 64, source_page=0,
                         cleaned_key="cleaned/test/0000.png")]
    for f in rec.fields:
        f.page, f.bbox = 0, (20, 70, 260, 110)
    version = svc.store.put_record("R-03", rec.to_json())
    svc.index.upsert_record(IndexEntry.from_record(rec, svc.store.record_location("R-03"),
                                                   version))
    svc.decide("R-03", "an", 1, [
        FieldDecision(field="full_name", action=FieldAction.correct, value="Nguyễn Văn An"),
        FieldDecision(field="date_of_birth", action=FieldAction.confirm)])

    from review.corrections import export_corrections

    out = io.StringIO()
    assert export_corrections(svc.store, svc.index, out) == 2
    lines = {x["field"]: x for x in map(json.loads, out.getvalue().splitlines())}
    name = lines["full_name"]
    assert (name["action"], name["machine_value"], name["final_value"], name["doctype"]) == (
        "corrected", "NGUYEN VAN AN", "Nguyễn Văn An", "cccd_front")
    crop = cv2.imdecode(np.frombuffer(svc.store.get_derived(name["crop_key"]), np.uint8),
                        cv2.IMREAD_UNCHANGED)
    assert crop.shape == (40 + 12, 240 + 12)
    assert lines["date_of_birth"]["action"] == "confirmed"
    assert "citizen_id" not in lines


def test_a_clerks_save_waits_for_a_machine_write_in_flight_and_is_then_refused(
        svc: ReviewService) -> None:
    """
    GIVEN a machine run storing a new extraction of a record, paused while it writes the
    object store
    WHEN a clerk saves a decision on the revision they saw
    THEN the save waits for the machine's write (the record's row is held), then is refused
    as stale; nothing of either is lost, and the clerk's retry on the new revision lands
    """
    import threading

    from storage.records import RecordStore

    records = RecordStore(svc.store, svc.index)
    inside, go = threading.Event(), threading.Event()
    real_put = svc.store.put_record

    def paused_put(record_id, data, **kw):  # the fault: a slow object store, held by the test
        if threading.current_thread().name == "machine":
            inside.set()
            assert go.wait(30)
        return real_put(record_id, data, **kw)

    svc.store.put_record = paused_put  # type: ignore[method-assign]
    fresh = machine_record("R-01")
    fresh.fields[1].value = "NGUYEN VAN AM"
    machine = threading.Thread(target=records.put_machine, args=(fresh,), name="machine")
    machine.start()
    assert inside.wait(30)
    outcome: dict[str, object] = {}

    def clerk() -> None:
        try:
            svc.decide("R-01", "an", 1, [FieldDecision(field="full_name",
                                                       action=FieldAction.correct,
                                                       value="Nguyễn Văn An")])
            outcome["saved"] = True
        except ConflictError as e:
            outcome["refused"] = e

    person = threading.Thread(target=clerk, name="clerk")
    person.start()
    person.join(timeout=1.5)
    assert person.is_alive(), "the clerk's save went through while the machine was writing"
    go.set()
    machine.join(30)
    person.join(30)
    assert "refused" in outcome and "changed by someone else" in str(outcome["refused"])
    assert svc.load("R-01").revision == 2 and svc.load("R-01").field("full_name").value == \
        "NGUYEN VAN AM"
    rec = svc.decide("R-01", "an", 2, [FieldDecision(field="full_name",
                                                     action=FieldAction.correct,
                                                     value="Nguyễn Văn An")])
    assert rec.revision == 3 and svc.index.get_record("R-01").revision == 3
    again = records.put_machine(machine_record("R-01"))
    assert not again.written and again.record.field("full_name").value == "Nguyễn Văn An"


def test_a_save_whose_index_commit_failed_does_not_block_the_next_one(
        svc: ReviewService) -> None:
    """
    GIVEN a clerk's save stored in the object store whose index commit then failed
    WHEN the clerk reloads (the object store's revision) and saves again
    THEN the save lands and the index describes it again
    """
    from models.errors import StorageError

    real = svc.index._upsert_in
    calls = {"n": 0}

    def failing_once(*a, **kw):  # the fault: the database goes away at commit time
        calls["n"] += 1
        if calls["n"] == 1:
            raise StorageError("the index went away")
        return real(*a, **kw)

    svc.index._upsert_in = failing_once  # type: ignore[method-assign]
    with pytest.raises(StorageError):
        svc.decide("R-01", "an", 1, [FieldDecision(field="full_name",
                                                   action=FieldAction.correct,
                                                   value="Nguyễn Văn An")])
    assert svc.load("R-01").revision == 2 and svc.index.get_record("R-01").revision == 1
    rec = svc.decide("R-01", "an", svc.load("R-01").revision,
                     [FieldDecision(field="full_name", action=FieldAction.confirm)])
    assert rec.revision == 3 and svc.index.get_record("R-01").revision == 3
    assert svc.index.get_record("R-01").summary["full_name"] == "Nguyễn Văn An"
