"""One decision per document: a clerk's field decisions stored with the approval as one
version; a document read again as the type the clerk chose, keeping what people decided; and
values people verified offered for a field in review, found with bounded work."""

from __future__ import annotations

import json
import sqlite3
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from models.errors import ConflictError, ReviewError
from models.records import (
    AuditAction,
    ExtractedField,
    FieldSource,
    FieldStatus,
    IndexEntry,
    PageRef,
    Record,
    RecordStatus,
)
from review.lifecycle import (
    FieldAction,
    FieldDecision,
    ValueRefused,
    apply_decisions,
    decide,
    retype,
)
from review.service import ReviewService
from storage.embedded import S3Endpoint
from storage.index import RecordIndex
from storage.objects import ObjectStore
from storage.verified import closest_verified
from tests.pages import placed_page

AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
MARRIAGE = {"wife_name": "person_name", "wife_date_of_birth": "date", "wife_id": "citizen_id",
            "residence": "address"}


def marriage(record_id: str = "M-01") -> Record:
    return Record(record_id=record_id, dossier_id=record_id, batch_id="B1",
                  doctype="marriage_registration", status=RecordStatus.needs_review,
                  fields=[
                      ExtractedField(name="wife_name", value="Le Thi Nhi", confidence=0.6,
                                     status=FieldStatus.review),
                      ExtractedField(name="wife_date_of_birth", value="2004-03-23",
                                     confidence=0.7, status=FieldStatus.review),
                      ExtractedField(name="wife_id", value="064304761044", confidence=0.7,
                                     status=FieldStatus.review),
                      ExtractedField(name="residence", value="Số 85 ngõ 159", confidence=0.5,
                                     status=FieldStatus.review),
                  ])


def test_a_documents_decisions_and_its_approval_are_one_version() -> None:
    """GIVEN a marriage form with four fields to decide
    WHEN the clerk's decisions on all four come with the approval
    THEN the record moves one revision, verified, with one audit event per field and one for
         the approval, all naming that revision"""
    rec = marriage()
    new, events = decide(rec, [
        FieldDecision(field="wife_name", action=FieldAction.correct, value="Lê Thị Nhi"),
        FieldDecision(field="wife_date_of_birth", action=FieldAction.confirm),
        FieldDecision(field="wife_id", action=FieldAction.confirm),
        FieldDecision(field="residence", action=FieldAction.not_on_document),
    ], "an", AT, MARRIAGE, finish=True)
    assert new.revision == rec.revision + 1 and new.status == RecordStatus.verified
    assert [(e.action, e.field) for e in events] == [
        (AuditAction.corrected, "wife_name"), (AuditAction.confirmed, "wife_date_of_birth"),
        (AuditAction.confirmed, "wife_id"), (AuditAction.not_on_document, "residence"),
        (AuditAction.verified, None)]
    assert {e.record_version for e in events} == {new.revision}


def test_each_field_keeps_the_time_it_was_decided_and_the_metrics_the_time_spent() -> None:
    """GIVEN a clerk who claimed a marriage form, decided its fields 60, 120, 150 and 170
    seconds later and approved it at 200 seconds, the page sending the decisions together
    WHEN the decision is stored and the review metrics computed
    THEN each field's event and reviewed_at say when it was decided, the approval when it was
         sent, and the clerk's active time on the document is the 200 seconds (no gap over
         the idle limit)"""
    from datetime import timedelta

    from review.lifecycle import new_event
    from review.metrics import compute_stats

    rec = marriage()
    sent = AT + timedelta(seconds=200)
    claimed = new_event(rec, AuditAction.claimed, "an", AT, record_version=1)
    new, events = decide(rec, [
        FieldDecision(field="wife_name", action=FieldAction.confirm, decided_ms_ago=140_000),
        FieldDecision(field="wife_date_of_birth", action=FieldAction.confirm,
                      decided_ms_ago=80_000),
        FieldDecision(field="wife_id", action=FieldAction.confirm, decided_ms_ago=50_000),
        FieldDecision(field="residence", action=FieldAction.not_on_document,
                      decided_ms_ago=30_000),
    ], "an", sent, MARRIAGE, finish=True)
    assert [round((e.at - AT).total_seconds()) for e in events] == [60, 120, 150, 170, 200]
    assert new.field("wife_name").reviewed_at == events[0].at
    [clerk], _ = compute_stats([(claimed, "marriage_registration")] +
                               [(e, "marriage_registration") for e in events])
    assert clerk.documents == 1 and round(clerk.active_seconds) == 200
    with pytest.raises(ValueError):
        FieldDecision(field="wife_name", action=FieldAction.confirm,
                      decided_ms_ago=13 * 3600 * 1000)


def test_one_refused_value_refuses_the_whole_decision() -> None:
    """GIVEN decisions of which the third gives the wife an ID whose year contradicts her
    birth date confirmed before it in the same decision
    WHEN they come with the approval THEN the value is refused, naming the field, and nothing
    is approved"""
    rec = marriage()
    with pytest.raises(ValueRefused) as refused:
        decide(rec, [
            FieldDecision(field="wife_name", action=FieldAction.confirm),
            FieldDecision(field="wife_date_of_birth", action=FieldAction.confirm),
            FieldDecision(field="wife_id", action=FieldAction.correct, value="064390761044"),
            FieldDecision(field="residence", action=FieldAction.not_on_document),
        ], "an", AT, MARRIAGE, finish=True)
    assert refused.value.field == "wife_id" and refused.value.as_printed
    assert rec.revision == 1 and rec.field("wife_id").status == FieldStatus.review


def test_approval_with_fields_left_unresolved_is_refused() -> None:
    """GIVEN a decision on one field of four WHEN it comes with the approval THEN it is
    refused as unresolved"""
    with pytest.raises(ReviewError, match="unresolved"):
        decide(marriage(), [FieldDecision(field="wife_name", action=FieldAction.confirm)],
               "an", AT, MARRIAGE, finish=True)


def _generic() -> Record:
    """A form the classifier could not tell, read for its identity fields; a person already
    confirmed the name, corrected the ID and said there is no residence."""
    rec = Record(record_id="U-01", dossier_id="U-01", batch_id="B1", doctype="unknown",
                 status=RecordStatus.needs_review, citizen_ids=["036090012349"],
                 fields=[ExtractedField(name="full_name", value="Lê Văn Tám", confidence=0.6,
                                        status=FieldStatus.review),
                         ExtractedField(name="date_of_birth", value="1985-03-02",
                                        confidence=0.6, status=FieldStatus.review),
                         ExtractedField(name="citizen_id", value="036090012349",
                                        confidence=0.6, status=FieldStatus.review),
                         ExtractedField(name="residence", value="Xóm Mới", confidence=0.4,
                                        status=FieldStatus.review)])
    rec, _ = apply_decisions(rec, [
        FieldDecision(field="full_name", action=FieldAction.confirm),
        FieldDecision(field="citizen_id", action=FieldAction.correct, value="036085012345"),
        FieldDecision(field="residence", action=FieldAction.not_on_document)],
        "an", AT, {"citizen_id": "citizen_id", "full_name": "person_name",
                   "date_of_birth": "date"})
    return rec


def test_a_new_type_keeps_what_people_decided_of_the_same_name() -> None:
    """GIVEN an unknown form whose name, ID and residence a person decided
    WHEN it is read again as an application letter, with one more decision on the page
    THEN the letter's fields stand, except the ID (a field of both) which keeps the person's
         value and status; the pending decision is applied first; one revision, the audit
         says the old and new type; the record waits for approval and counts as a person's"""
    rec = _generic()
    fields = [ExtractedField(name="applicant_name", value="Lê Văn Tám", confidence=0.9,
                             status=FieldStatus.accepted),
              ExtractedField(name="date_of_birth", value="1985-03-02", confidence=0.5,
                             status=FieldStatus.review),
              ExtractedField(name="citizen_id", value="036090012349", confidence=0.5,
                             status=FieldStatus.review),
              ExtractedField(name="address", value=None, status=FieldStatus.missing)]
    new, events = retype(rec, [FieldDecision(field="date_of_birth",
                                             action=FieldAction.confirm)],
                         "application_letter", "Đơn đề nghị", fields, ["036090012349"], "binh",
                         AT, {"date_of_birth": "date"})
    assert (new.doctype, new.title, new.revision) == ("application_letter", "Đơn đề nghị",
                                                      rec.revision + 1)
    assert [f.name for f in new.fields] == ["applicant_name", "date_of_birth", "citizen_id",
                                            "address"]
    cid = new.field("citizen_id")
    assert (cid.value, cid.status, cid.source, cid.reviewed_by) == (
        "036085012345", FieldStatus.corrected, FieldSource.person, "an")
    dob = new.field("date_of_birth")  # decided on the page just before: kept too
    assert (dob.status, dob.reviewed_by) == (FieldStatus.confirmed, "binh")
    assert new.field("applicant_name").status == FieldStatus.accepted
    assert new.citizen_ids == ["036085012345"]
    assert new.status == RecordStatus.needs_review and new.touched_by_person
    assert [(e.action, e.field, e.old_value, e.new_value) for e in events] == [
        (AuditAction.confirmed, "date_of_birth", "1985-03-02", "1985-03-02"),
        (AuditAction.retyped, None, "unknown", "application_letter")]
    assert {e.record_version for e in events} == {new.revision}
    with pytest.raises(ReviewError):
        retype(new, [], "application_letter", "Đơn đề nghị", fields, [], "binh", AT)


# -- against the object store and the index --------------------------------------------------

LETTER = [[(100, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")],
          [(500, "ĐƠN ĐỀ NGHỊ")],
          [(100, "Về việc: cấp lại giấy xác nhận cư trú")],
          [(100, "Tôi tên là: Lê Văn Bình")],
          [(100, "Sinh ngày: 02/03/1985")],
          [(100, "Số định danh cá nhân: 036085012345")],
          [(100, "Địa chỉ: Xóm Mới, Xã Hải Minh, Huyện Hải Hậu, Tỉnh Nam Định")],
          [(100, "Kính đề nghị Ủy ban xem xét, giải quyết.")],
          [(700, "Người làm đơn")]]


@pytest.fixture
def svc(index_url: str, s3_endpoint: S3Endpoint) -> Iterator[ReviewService]:
    """A review service over a fresh bucket set, an index on SQLite then PostgreSQL, and the
    generic form above stored with the OCR of its page."""
    from api.app import _field_kinds

    store = ObjectStore(s3_endpoint, bucket_prefix=f"d{uuid.uuid4().hex[:10]}-")
    index = RecordIndex(index_url)
    page = placed_page(LETTER)
    key = store.put_derived("ocr/test/0.json", json.dumps(page.export()).encode(),
                            "application/json")
    rec = _generic()
    rec.pages = [PageRef(index=3, original_sha256="0" * 64, source_page=0, ocr_key=key)]
    for r in (rec, marriage()):
        version = store.put_record(r.record_id, r.to_json())
        index.upsert_record(IndexEntry.from_record(r, store.record_location(r.record_id),
                                                   version))
    try:
        yield ReviewService(store, index, _field_kinds())
    finally:
        index.close()


def test_a_document_read_again_as_the_type_the_clerk_chose(svc: ReviewService) -> None:
    """GIVEN an unknown form whose page's OCR is stored, with a person's decisions
    WHEN the clerk chooses "application letter"
    THEN it is read again from that OCR as a letter (one stored version), the ID a person
         corrected stays theirs, the boxes point at the record's page, and a change made
         against the old revision is refused"""
    before = svc.load("U-01")
    new = svc.retype("U-01", "binh", before.revision, "application_letter")
    assert new.doctype == "application_letter" and new.revision == before.revision + 1
    assert new.field("applicant_name").value == "Lê Văn Bình"
    assert new.field("subject").value == "cấp lại giấy xác nhận cư trú"
    assert new.field("citizen_id").status == FieldStatus.corrected
    assert {f.page for f in new.fields if f.value and f.reviewed_by is None} == {3}
    assert len(svc.store.record_versions("U-01")) == 2
    [ev] = [e for e in svc.index.audit_events("U-01") if e.action == AuditAction.retyped]
    assert (ev.old_value, ev.new_value, ev.actor) == ("unknown", "application_letter", "binh")
    assert svc.index.get_record("U-01").doctype == "application_letter"
    with pytest.raises(ConflictError):
        svc.decide("U-01", "binh", before.revision,
                   [FieldDecision(field="citizen_id", action=FieldAction.confirm)])
    with pytest.raises(ReviewError, match="no document type"):
        svc.retype("U-01", "binh", new.revision, "no_such_type")


def test_approving_with_the_decisions_stores_one_version(svc: ReviewService) -> None:
    """GIVEN a marriage form at its machine version
    WHEN the clerk approves it with their four decisions
    THEN the store holds two versions (the machine's and the clerk's) and the index follows"""
    svc.claim("M-01", "an")
    svc.approve("M-01", "an", 1, [
        FieldDecision(field="wife_name", action=FieldAction.correct, value="Lê Thị Nhi"),
        FieldDecision(field="wife_date_of_birth", action=FieldAction.confirm),
        FieldDecision(field="wife_id", action=FieldAction.confirm),
        FieldDecision(field="residence", action=FieldAction.correct,
                      value="Số 85, ngõ 159 đường Trần Hưng Đạo")])
    assert len(svc.store.record_versions("M-01")) == 2
    entry = svc.index.get_record("M-01")
    assert entry.revision == 2 and entry.status == RecordStatus.verified
    assert entry.lease_user is None


# -- suggestions -------------------------------------------------------------------------------

def _verified(record_id: str, doctype: str, values: dict[str, str]) -> Record:
    return Record(record_id=record_id, dossier_id=record_id, batch_id="B0", doctype=doctype,
                  status=RecordStatus.verified, reviewed_by="an",
                  fields=[ExtractedField(name=n, value=v, status=FieldStatus.confirmed,
                                         reviewed_by="an") for n, v in values.items()])


def test_the_closest_verified_value_of_the_same_type_and_field_is_offered(
        svc: ReviewService) -> None:
    """GIVEN residences people verified on marriage forms, and one on another type
    WHEN a marriage form's residence in review reads one of them with two OCR errors, and
         another reads nothing like any
    THEN the first is offered the verified value; the second, and a reading that is a
         verified value itself, nothing; a value of another type is never offered"""
    street = "Số 85, ngõ 159 đường Trần Hưng Đạo, Phường Duy Tân, Thị xã Kinh Môn"
    for i, (doctype, value) in enumerate([
            ("marriage_registration", street),
            ("marriage_registration", "Thôn Đông, Xã Hải Minh, Huyện Hải Hậu"),
            ("birth_registration", "Số 85, ngõ 159 đường Trần Hưng Đạo, Phường Duy Tân")]):
        r = _verified(f"V-{i}", doctype, {"residence": value})
        version = svc.store.put_record(r.record_id, r.to_json())
        svc.index.upsert_record(IndexEntry.from_record(
            r, svc.store.record_location(r.record_id), version))
    misread = "Số 85, ngõ 159 đường Trần Hưng Dạo, Phường Duy Tản, Thị xã Kinh Môn"
    assert closest_verified(svc.index, "marriage_registration", {"residence": misread}) == {
        "residence": street}
    assert closest_verified(svc.index, "marriage_registration",
                            {"residence": "Tổ 4, Phường Quang Trung, TP Thái Nguyên"}) == {}
    assert closest_verified(svc.index, "marriage_registration", {"residence": street}) == {}
    assert closest_verified(svc.index, "power_of_attorney", {"residence": misread}) == {}
    rec = marriage("M-02")
    rec.field("residence").value = misread
    assert svc.suggestions(rec) == {"residence": street}  # a name or an ID: never offered


STREETS = ["Trần Hưng Đạo", "Lê Lợi", "Nguyễn Huệ", "Hai Bà Trưng", "Lý Thường Kiệt",
           "Phan Chu Trinh", "Quang Trung", "Lê Thánh Tông", "Điện Biên Phủ", "Bạch Đằng"]


def test_suggestions_stay_quick_with_a_hundred_thousand_verified_values(tmp_path) -> None:
    """GIVEN 100,000 verified values (a fifth of them one field's 20,000 addresses, all alike
    but for their numbers; the rest spread over 80 fields of 10 types)
    WHEN a document's three fields in review are offered their closest values
    THEN the closest one is found, in bounded time (the page asks for them once it is shown:
         it never waits for them)"""
    import random

    from extraction.known import norm

    url = f"sqlite:///{tmp_path / 'index.sqlite3'}"
    index = RecordIndex(url)
    rng = random.Random(3)

    def address() -> str:
        return (f"Số {rng.randint(1, 400)} đường {rng.choice(STREETS)}, Phường "
                f"{rng.randint(1, 30)}, Quận {rng.randint(1, 12)}, TP Hồ Chí Minh")

    rows = []
    for i in range(100_000):
        if i % 5 == 0:
            doctype, name, value = "cccd_front", "place_of_residence", address()
        else:
            doctype, name = f"type{rng.randint(0, 9)}", f"f{rng.randint(0, 7)}"
            value = address() if rng.random() < 0.5 else f"Thôn {rng.randint(1, 900)}"
        rows.append((f"R{i}", name, doctype, norm(value), value))
    # The rows straight into the table (the records they belong to do not matter here).
    with sqlite3.connect(tmp_path / "index.sqlite3") as con:
        con.executemany("INSERT INTO verified_values (record_id, field, doctype, norm, value) "
                        "VALUES (?, ?, ?, ?, ?)", rows)
    target = rows[5][4]  # a cccd_front residence
    misread = target.replace("Phường", "Phuờng").replace("Chí", "Chi")
    readings = {"place_of_residence": misread, "place_of_origin": "Xã Hải Minh, Hải Hậu",
                "full_name": "Nguyễn Văn An"}
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        got = closest_verified(index, "cccd_front", readings)
        times.append(time.perf_counter() - t0)
    index.close()
    assert norm(got["place_of_residence"]) == norm(target) or \
        norm(got["place_of_residence"]).startswith(norm(target)[:20])
    median = statistics.median(times)
    print(f"suggestions for 3 fields over 100,000 verified values: {median * 1000:.1f} ms")
    assert median < 0.3
