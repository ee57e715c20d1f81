"""Review decisions as plain functions: a record and a decision in, the new record and its
audit events out. Nothing here touches storage; :mod:`review.service` stores the results.

Lifecycle: ``extracted`` / ``needs_review`` -> (a lease: ``in_review``) -> ``verified`` or
``rejected``. A person's decision on a field keeps the machine's value beside it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from extraction.classify import UNKNOWN as UNKNOWN_DOCTYPE
from models.errors import ReviewError
from models.records import (
    AuditAction,
    AuditEvent,
    Correction,
    ExtractedField,
    FieldSource,
    FieldStatus,
    Record,
    RecordStatus,
)
from review.validation import MESSAGES, Problem, birth_pairs, check

__all__ = ["UNKNOWN_DOCTYPE", "FieldAction", "FieldDecision", "ValueRefused", "apply_decisions",
           "decide", "approve", "reject", "retype", "machine_status", "unresolved_fields",
           "new_event", "AS_PRINTED", "MAX_DECIDED_AGO_MS"]

# The longest a page may hold a decision before sending it: a working day.
MAX_DECIDED_AGO_MS = 12 * 3600 * 1000

# The audit's words for a value kept against a check because the document says so.
AS_PRINTED = "the document says so: {problem}"


class FieldAction(StrEnum):
    confirm = "confirm"  # keep the value shown (the machine's, or an earlier correction)
    correct = "correct"  # replace the value
    not_on_document = "not_on_document"


class FieldDecision(BaseModel):
    field: str
    action: FieldAction
    value: str | None = None  # for ``correct``
    # The person read the document again: it says so, though the value disagrees with
    # another field of the same person (the ID's birth year against the birth date). Only
    # that check can be overridden, and the audit keeps it.
    as_printed: bool = False
    # How long before it was sent the person made this decision (a page sends its decisions
    # together): the audit's time for it, so that the time spent on each field is known.
    decided_ms_ago: int | None = Field(default=None, ge=0, le=MAX_DECIDED_AGO_MS)


class ValueRefused(ReviewError):
    """A value a person confirmed or typed fails a check; ``problems`` say which, and
    ``as_printed`` whether the person may keep it by saying the document says so."""

    def __init__(self, field: str, label: str, problems: list[Problem]):
        self.field = field
        self.problems = problems
        self.as_printed = problems == [Problem.id_birth]
        words = "; ".join(MESSAGES[p] for p in problems)
        super().__init__(f"{label}: {words}",
                         hint="keep it with as_printed if the document says so"
                         if self.as_printed else None)


def new_event(record: Record, action: AuditAction, actor: str, at: datetime,
              **kw: str | int | None) -> AuditEvent:
    return AuditEvent(event_id=uuid.uuid4().hex, record_id=record.record_id, action=action,
                      actor=actor, at=at, **kw)


def machine_status(record: Record) -> RecordStatus:
    """What the machine alone would call this record: straight through if every field is
    settled, else it needs a person."""
    return RecordStatus.extracted if record.settled else RecordStatus.needs_review


def unresolved_fields(record: Record) -> list[str]:
    return [f.name for f in record.fields if not f.settled]


def apply_decisions(record: Record, decisions: list[FieldDecision], actor: str, at: datetime,
                    kinds: dict[str, str] | None = None) -> tuple[Record, list[AuditEvent]]:
    """Apply a person's field decisions; returns the new record (next revision) and events.

    A value confirmed or typed is checked as the page checks it (:mod:`review.validation`),
    an ID against the same person's birth date and the other way round. Raises
    :class:`ValueRefused` for a value that fails, :class:`ReviewError` for an unknown field;
    nothing is applied then.
    """
    new = _next(record, at)
    return new, _in_order(_decide(new, decisions, actor, at, kinds or {}))


def decide(record: Record, decisions: list[FieldDecision], actor: str, at: datetime,
           kinds: dict[str, str] | None = None, *,
           finish: bool = False) -> tuple[Record, list[AuditEvent]]:
    """A person's decision on a document: their field decisions and, with ``finish``, the
    approval, as one new version (one revision) with an audit event per field and one for
    the approval. Refused as a whole (:class:`ValueRefused`, :class:`ReviewError`)."""
    new = _next(record, at)
    events = _decide(new, decisions, actor, at, kinds or {})
    if finish:
        events += _approve(new, actor, at)
    return new, _in_order(events)


def _in_order(events: list[AuditEvent]) -> list[AuditEvent]:
    """The events of one decision a microsecond apart, so that every reader of the audit
    (ordered by time) lists them in the order they were made."""
    for i, e in enumerate(events):
        e.at = e.at + timedelta(microseconds=i)
    return events


def _next(record: Record, at: datetime) -> Record:
    """The record's next version: a copy, one revision on."""
    if record.status == RecordStatus.rejected:
        raise ReviewError(f"record {record.record_id} was returned to the counter",
                          hint="it comes back when the dossier is scanned again")
    new = record.model_copy(deep=True)
    new.revision = record.revision + 1
    new.updated_at = at
    return new


def _decide(new: Record, decisions: list[FieldDecision], actor: str, at: datetime,
            kinds: dict[str, str]) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    pairs = birth_pairs({f.name: kinds.get(f.name, "text") for f in new.fields})
    when = at - timedelta(milliseconds=MAX_DECIDED_AGO_MS)
    for d in decisions:
        f = new.field(d.field)
        if f is None:
            raise ReviewError(f"record {new.record_id} has no field {d.field!r}")
        # When the person made it; never before the decision sent ahead of it.
        when = max(when, at - timedelta(milliseconds=d.decided_ms_ago or 0))
        old = f.value
        if f.machine_value is None and f.reviewed_by is None:
            f.machine_value = f.value
        kind = kinds.get(f.name, "text")
        reason = None
        if d.action in (FieldAction.correct, FieldAction.confirm):
            if d.action == FieldAction.confirm and old is None:
                raise ReviewError(f"{f.label or f.name} has no value to confirm",
                                  hint="type the value, or mark it as not on the document")
            # A value typed exactly as it is stored is that value, whatever the checks'
            # normalizing would make of it: never a correction.
            typed = d.value if d.action == FieldAction.correct and d.value != old else old
            checked = check(kind, typed or "", **_partner(new, pairs, f.name, kind))
            problems = checked.problems
            if problems == [Problem.id_birth] and d.as_printed:
                problems = []
                reason = AS_PRINTED.format(problem=MESSAGES[Problem.id_birth])
            if problems:
                raise ValueRefused(f.name, f.label or f.name, problems)
            if d.action == FieldAction.correct and checked.value != old:
                f.value, f.status, f.source = checked.value, FieldStatus.corrected, \
                    FieldSource.person
                f.problems = []
                new.corrections.append(Correction(field=f.name, old=old, new=checked.value,
                                                  by=actor, at=when))
                action = AuditAction.corrected
            else:
                if f.status != FieldStatus.corrected:
                    f.status = FieldStatus.confirmed
                f.problems = []
                action = AuditAction.confirmed
        else:  # not on the document
            f.value, f.status, f.problems = None, FieldStatus.not_on_document, []
            action = AuditAction.not_on_document
        f.reviewed_by, f.reviewed_at = actor, when
        events.append(new_event(new, action, actor, when, field=f.name, old_value=old,
                                new_value=f.value, reason=reason,
                                record_version=new.revision))
    if new.status in (RecordStatus.extracted, RecordStatus.verified) and not new.settled:
        new.status = RecordStatus.needs_review
    new.citizen_ids = _citizen_ids(new)
    return events


def _partner(record: Record, pairs: dict[str, str], name: str,
             kind: str) -> dict[str, str | None]:
    """The same person's other value for the ID-against-birth-date check: taken once it is
    settled (accepted, confirmed or corrected), so whichever of the two is decided second is
    checked against the first, and a misread partner still waiting for review does not hold
    up the right one."""
    other = record.field(pairs.get(name, ""))
    if other is None or not other.settled or not other.value:
        return {}
    return {"birth_date": other.value} if kind == "citizen_id" else {"citizen_id": other.value}


def _citizen_ids(record: Record) -> list[str]:
    """Citizen IDs a corrected record names: the machine's list with corrections applied."""
    ids = set(record.citizen_ids)
    for f in record.fields:
        if f.machine_value and f.machine_value in ids and f.value != f.machine_value:
            ids.discard(f.machine_value)
            if f.value and f.value.isdigit() and len(f.value) == 12:
                ids.add(f.value)
    return sorted(ids)


def approve(record: Record, actor: str, at: datetime) -> tuple[Record, list[AuditEvent]]:
    """The whole record verified by a person; every field must be settled first."""
    new = _next(record, at)
    return new, _approve(new, actor, at)


def _approve(new: Record, actor: str, at: datetime) -> list[AuditEvent]:
    if new.doctype == UNKNOWN_DOCTYPE:
        raise ReviewError(f"record {new.record_id}: the document type was not recognized",
                          hint="choose its type, or reject it with a reason so the counter "
                               "rescans or sorts it")
    missing = unresolved_fields(new)
    if missing:
        raise ReviewError(f"record {new.record_id} still has unresolved fields: "
                          f"{', '.join(missing)}",
                          hint="confirm, correct or mark each as not on the document")
    new.status, new.reviewed_by, new.reviewed_at = RecordStatus.verified, actor, at
    return [new_event(new, AuditAction.verified, actor, at, record_version=new.revision)]


def retype(record: Record, decisions: list[FieldDecision], doctype: str, title: str,
           fields: list[ExtractedField], citizen_ids: list[str], actor: str, at: datetime,
           kinds: dict[str, str] | None = None) -> tuple[Record, list[AuditEvent]]:
    """A person changed the document's type: ``fields`` are the document read again as
    ``doctype``. What a person decided stays: the pending ``decisions`` are applied first
    (``kinds`` are the old type's), then every field of the same name a person confirmed,
    corrected or marked not on the document keeps its value and status. One new version;
    one audit event with the old type and the new beside the field events. The document
    waits for a person's approval again."""
    if doctype == record.doctype:
        raise ReviewError(f"record {record.record_id} is already a {doctype}")
    new = _next(record, at)
    events = _decide(new, decisions, actor, at, kinds or {})
    decided = {f.name: f for f in new.fields if f.reviewed_by is not None and f.status in (
        FieldStatus.confirmed, FieldStatus.corrected, FieldStatus.not_on_document)}
    out = []
    for f in fields:
        kept = decided.get(f.name)
        if kept is not None:
            kept = kept.model_copy(deep=True)
            kept.label = f.label or kept.label
        out.append(kept or f.model_copy(deep=True))
    old = new.doctype
    new.doctype, new.title, new.fields = doctype, title, out
    new.classification_confidence = 1.0  # a person said so
    new.citizen_ids = citizen_ids
    new.citizen_ids = _citizen_ids(new)
    # A machine run must never take the person's choice back (Record.touched_by_person).
    new.status, new.reviewed_by, new.reviewed_at = RecordStatus.needs_review, actor, at
    events.append(new_event(new, AuditAction.retyped, actor, at, old_value=old,
                            new_value=doctype, record_version=new.revision))
    return new, _in_order(events)


def reject(record: Record, actor: str, at: datetime,
           reason: str) -> tuple[Record, list[AuditEvent]]:
    """Return the document to the scanning counter; a reason is required."""
    reason = " ".join((reason or "").split())
    if len(reason) < 3:
        raise ReviewError("a rejection needs a reason the counter can act on")
    new = record.model_copy(deep=True)
    new.revision, new.updated_at = record.revision + 1, at
    new.status, new.reject_reason = RecordStatus.rejected, reason
    new.reviewed_by, new.reviewed_at = actor, at
    return new, [new_event(new, AuditAction.rejected, actor, at, reason=reason,
                           record_version=new.revision)]
