"""What people verified is kept in the index for extraction to learn from, on SQLite and
PostgreSQL, with the real S3 server: written with the record's row, gone when the record is
rejected, rebuilt by reindex."""

from __future__ import annotations

import uuid

from extraction.known import norm
from models.records import ExtractedField, FieldStatus, IndexEntry, Record, RecordStatus
from review.lifecycle import FieldAction, FieldDecision
from review.service import ReviewService
from storage.objects import ObjectStore
from storage.verified import IndexKnown

CID = "079085001234"
KINDS = {"cccd_front": {"citizen_id": "citizen_id", "full_name": "person_name",
                        "place_of_residence": "address"}}


def machine_record(record_id: str) -> Record:
    return Record(record_id=record_id, dossier_id="D1", batch_id="B1", doctype="cccd_front",
                  status=RecordStatus.needs_review, citizen_ids=[CID],
                  fields=[ExtractedField(name="citizen_id", value=CID, confidence=0.99,
                                         status=FieldStatus.accepted),
                          ExtractedField(name="full_name", value="NGUYEN VAN AN",
                                         confidence=0.6, status=FieldStatus.review),
                          ExtractedField(name="place_of_residence", confidence=0.6,
                                         value="Thôn Đông, Xã Nguyễn Huệ, Tỉnh Cao Bằng",
                                         status=FieldStatus.review)])


def test_confirmed_and_corrected_values_are_known_for_the_citizen_and_as_vocabulary(
        index, s3_endpoint):
    """GIVEN two machine records of one citizen
    WHEN a clerk corrects the name and confirms the residence of the first and approves it,
    and rejects the second after confirming its residence
    THEN the first's person-decided values are known for that citizen and as vocabulary of
    their fields, the rejected one teaches nothing, and a reindex keeps it so."""
    store = ObjectStore(s3_endpoint, bucket_prefix=f"k{uuid.uuid4().hex[:10]}-")
    for rid in ("R-01", "R-02"):
        rec = machine_record(rid)
        index.upsert_record(IndexEntry.from_record(rec, store.record_location(rid),
                                                   store.put_record(rid, rec.to_json())))
    svc = ReviewService(store, index, KINDS)
    known = IndexKnown(index)
    residence = "Thôn Đông, Xã Nguyễn Huệ, Tỉnh Cao Bằng"
    asked = {("cccd_front", "full_name", norm("Nguyễn Văn An")),
             ("cccd_front", "place_of_residence", norm(residence)),
             ("cccd_front", "full_name", norm("NGUYEN VAN AN"))}
    assert known.known_values({CID}, asked).by_citizen == {}  # the machine's values teach nothing

    svc.claim("R-01", "an")
    svc.decide("R-01", "an", 1, [
        FieldDecision(field="full_name", action=FieldAction.correct, value="Nguyễn Văn An"),
        FieldDecision(field="place_of_residence", action=FieldAction.confirm)])
    svc.approve("R-01", "an", 2)
    svc.claim("R-02", "an")
    svc.decide("R-02", "an", 1, [FieldDecision(field="full_name", action=FieldAction.correct,
                                               value="Trần Thị Bé")])
    svc.reject("R-02", "an", 2, "not this citizen's card")

    def check() -> None:
        got = known.known_values({CID, "001099000001"}, asked)
        assert got.by_citizen == {(CID, "full_name", "nguyễn văn an"): "R-01",
                                  (CID, "place_of_residence", norm(residence)): "R-01"}
        assert got.vocabulary == {("cccd_front", "full_name", "nguyễn văn an"),
                                  ("cccd_front", "place_of_residence", norm(residence))}
        assert known.known_values({"001099000001"}, set()).by_citizen == {}

    check()
    assert index.clear_records() == 2
    assert known.known_values({CID}, asked).vocabulary == set()
    for rid, data, version in store.iter_records():  # what `dossier reindex` does
        index.upsert_record(IndexEntry.from_record(Record.from_json(data),
                                                   store.record_location(rid), version))
    check()
