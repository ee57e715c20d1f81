"""Review decisions as plain functions: what each does to a record and which audit events
it produces."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest

from models.errors import ReviewError
from models.records import (
    AuditAction,
    ExtractedField,
    FieldSource,
    FieldStatus,
    Record,
    RecordStatus,
)
from review.lifecycle import FieldAction, FieldDecision, apply_decisions, approve, reject
from review.validation import check_value

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
KINDS = {"citizen_id": "citizen_id", "full_name": "person_name", "date_of_birth": "date",
         "place": "text"}


def record() -> Record:
    return Record(
        record_id="D1-01", dossier_id="D1", batch_id="B1", doctype="cccd_front",
        status=RecordStatus.needs_review, citizen_ids=["079085001234"],
        fields=[
            ExtractedField(name="citizen_id", value="079085001234", confidence=0.97,
                           status=FieldStatus.accepted),
            ExtractedField(name="full_name", value="NGUYEN VAN AN", raw="NGUYEN VAN AN",
                           confidence=0.61, status=FieldStatus.review),
            ExtractedField(name="date_of_birth", value="1985-03-02", confidence=0.9,
                           status=FieldStatus.accepted),
            ExtractedField(name="place", status=FieldStatus.missing),
        ])


def test_correction_keeps_machine_value_and_is_audited() -> None:
    """
    GIVEN a field the machine read without diacritics
    WHEN a reviewer corrects it, typing the name with combining marks
    THEN the value is stored NFC, the machine value is kept, and one event says old and new
    """
    typed = unicodedata.normalize("NFD", "NGUYỄN VĂN AN")
    new, events = apply_decisions(record(), [FieldDecision(
        field="full_name", action=FieldAction.correct, value=typed)], "binh", AT, KINDS)
    f = new.field("full_name")
    assert f is not None
    assert f.value == unicodedata.normalize("NFC", "NGUYỄN VĂN AN") != typed
    assert (f.status, f.source, f.machine_value, f.reviewed_by) == (
        FieldStatus.corrected, FieldSource.person, "NGUYEN VAN AN", "binh")
    assert new.revision == 2
    [e] = events
    assert (e.action, e.field, e.old_value, e.new_value, e.actor, e.record_version) == (
        AuditAction.corrected, "full_name", "NGUYEN VAN AN", f.value, "binh", 2)


def test_same_value_is_a_confirmation() -> None:
    """
    GIVEN a field under review
    WHEN the reviewer "corrects" it to the value it already has (date in dd/mm/yyyy)
    THEN it is recorded as confirmed, not corrected
    """
    new, events = apply_decisions(record(), [FieldDecision(
        field="date_of_birth", action=FieldAction.correct, value="02/03/1985")], "binh", AT,
        KINDS)
    f = new.field("date_of_birth")
    assert f is not None and f.status == FieldStatus.confirmed and f.value == "1985-03-02"
    assert events[0].action == AuditAction.confirmed


def test_invalid_values_are_refused_with_the_reason() -> None:
    """
    GIVEN a record
    WHEN a reviewer types an 11-digit ID, a non-date, a one-word name, or an ID whose year
         disagrees with the date of birth
    THEN each is refused with a message and nothing changes
    """
    rec = record()
    for name, value, words in [("citizen_id", "07908500123", "12 digits"),
                               ("date_of_birth", "31/02/1985", "calendar"),
                               ("full_name", "An", "two words"),
                               ("citizen_id", "079095001234", "date of birth")]:
        with pytest.raises(ReviewError, match=words):
            apply_decisions(rec, [FieldDecision(field=name, action=FieldAction.correct,
                                                value=value)], "binh", AT, KINDS)
    assert rec.revision == 1 and rec.field("citizen_id").value == "079085001234"


def test_approve_needs_every_field_settled_then_verifies() -> None:
    """
    GIVEN a record with a field under review and a missing one
    WHEN it is approved too early, then after the name is confirmed and the place marked
         not on the document
    THEN the first approval is refused naming the fields, the second verifies the record
    """
    with pytest.raises(ReviewError, match="full_name, place"):
        approve(record(), "binh", AT)
    rec, _ = apply_decisions(record(), [
        FieldDecision(field="full_name", action=FieldAction.confirm),
        FieldDecision(field="place", action=FieldAction.not_on_document)], "binh", AT, KINDS)
    assert rec.settled
    done, events = approve(rec, "binh", AT)
    assert done.status == RecordStatus.verified and done.reviewed_by == "binh"
    assert events[0].action == AuditAction.verified and done.revision == rec.revision + 1


def test_reject_needs_a_reason() -> None:
    """
    GIVEN a record
    WHEN it is rejected without a reason, then with one
    THEN the first is refused; the second returns it to the counter with the reason
    """
    with pytest.raises(ReviewError, match="reason"):
        reject(record(), "binh", AT, "  ")
    rec, [e] = reject(record(), "binh", AT, "page 2 missing")
    assert rec.status == RecordStatus.rejected and rec.reject_reason == "page 2 missing"
    assert not rec.settled and e.reason == "page 2 missing"


def test_corrected_citizen_id_replaces_the_wrong_one_in_the_lookup_list() -> None:
    """
    GIVEN a record found by a misread citizen ID
    WHEN the reviewer corrects the ID
    THEN the record is found by the corrected ID and no longer by the misread one
    """
    new, _ = apply_decisions(record(), [FieldDecision(
        field="citizen_id", action=FieldAction.correct, value="079085001235")], "binh", AT,
        KINDS)
    assert new.citizen_ids == ["079085001235"]


def test_check_value_normalizes_what_people_type() -> None:
    assert check_value("citizen_id", "0790 8500 1234", birth_date="1985-03-02") == (
        "079085001234", [])
    assert check_value("date", "2/3/1985") == ("1985-03-02", [])
    assert check_value("person_name", "  Trần   Thị Bé ") == ("Trần Thị Bé", [])
    assert check_value("text", "")[1]


def test_schema_1_records_read_as_confirmed() -> None:
    """
    GIVEN a record JSON of schema version 1 with a field a reviewer "verified"
    WHEN it is read
    THEN the field is "confirmed" and the record is written back as the current schema
    """
    old = record().model_dump(mode="json")
    old["schema_version"] = 1
    old["fields"][0]["status"] = "verified"
    rec = Record.from_json(old)
    assert rec.fields[0].status == FieldStatus.confirmed and rec.schema_version == 2
