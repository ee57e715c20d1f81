"""The record store's front door: the only writer of record versions, audit events and the
index's projection of them.

The object store holds the truth (every record version, every audit event); the index is a
projection of it that :meth:`RecordStore.reindex` rebuilds. Every write goes through here,
inside one index transaction that holds the record's row while the object store is written:

- a machine extraction (:meth:`put_machine`) never replaces a version a person touched, and a
  run resumed after a crash does not store the same extraction twice; that rule is checked
  under the row lock, so a reviewer's save and a machine run cannot cross;
- a person's change (:meth:`change`) is made against the revision they saw, or refused;
- what is served (:meth:`served`) is what is settled, unless asked otherwise.

Object keys are the object store's (``storage.objects``); nothing else builds them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from models.errors import ConflictError, NotFoundError
from models.records import (
    AuditAction,
    AuditEvent,
    IndexEntry,
    Record,
    RecordStatus,
    utcnow,
)
from storage.index import RecordIndex
from storage.objects import ObjectStore

__all__ = ["RecordStore", "Stored", "SERVED_BY_DEFAULT"]

# What other systems get unless they ask for more: records every field of which is settled.
SERVED_BY_DEFAULT = frozenset({RecordStatus.extracted, RecordStatus.verified})

# What makes two machine extractions the same: a resumed run's record is not stored twice.
_SAME = {"doctype", "fields", "pages", "citizen_ids", "status", "pdf_key"}


@dataclass
class Stored:
    """The record that stands after a write, and whether this write stored it."""

    record: Record
    written: bool


class RecordStore:
    def __init__(self, store: ObjectStore, index: RecordIndex) -> None:
        self.store = store
        self.index = index

    # -- reading -----------------------------------------------------------------------------

    def load(self, record_id: str, version_id: str | None = None) -> Record:
        return Record.from_json(self.store.get_record(record_id, version_id))

    def _latest(self, record_id: str) -> tuple[Record, str | None] | None:
        try:
            versions = self.store.record_versions(record_id)
        except NotFoundError:
            return None
        if not versions:
            return None
        return self.load(record_id, versions[0].version_id), versions[0].version_id

    def _entry(self, record: Record, version: str | None, *,
               with_pages: bool = False) -> IndexEntry:
        entry = IndexEntry.from_record(record, self.store.record_location(record.record_id),
                                       version)
        if with_pages:
            entry.pages_text = self.pages_text(record)
        return entry

    def pages_text(self, record: Record) -> str:
        """The OCR text of the record's pages (for full-text search), up to what the search
        keeps; read from the pages' stored OCR, words only (no boxes are parsed)."""
        import json

        from storage.search import MAX_PAGES_TEXT

        parts: list[str] = []
        size = 0
        for p in record.pages:
            if not p.ocr_key or size >= MAX_PAGES_TEXT:
                continue
            try:
                page = json.loads(self.store.get_derived(p.ocr_key))
            except (NotFoundError, ValueError):
                continue  # an OCR result gone or unreadable: the values are still indexed
            for line in page.get("lines", []):
                words = " ".join(str(w.get("text", "")) for w in line.get("words", []))
                parts.append(words)
                size += len(words) + 1
        return "\n".join(parts)[:MAX_PAGES_TEXT]

    def _put(self, record: Record, events: Sequence[AuditEvent]) -> str | None:
        for e in events:
            self.store.put_audit_event(e)
        return self.store.put_record(record.record_id, record.to_json(),
                                     tags={"doctype": record.doctype,
                                           "status": record.status.value})

    # -- writing -----------------------------------------------------------------------------

    def put_machine(self, record: Record) -> Stored:
        """Store a machine extraction as the record's next version, unless the stored one
        stands: one a person touched (a machine run never overwrites a person), or one
        holding this very extraction (a run resumed after a crash). Either way the index
        describes the record that stands."""
        out: dict[str, Stored] = {}

        def write(_current: IndexEntry | None) -> tuple[IndexEntry, list[AuditEvent]]:
            latest = self._latest(record.record_id)
            if latest is not None:
                old, version = latest
                if old.touched_by_person or \
                        old.model_dump(include=_SAME) == record.model_dump(include=_SAME):
                    out["r"] = Stored(old, False)
                    return self._entry(old, version), []
                record.revision = old.revision + 1
            event = AuditEvent(event_id=uuid.uuid4().hex, record_id=record.record_id,
                               action=AuditAction.extracted, actor="machine", at=utcnow(),
                               record_version=record.revision)
            version = self._put(record, [event])
            out["r"] = Stored(record, True)
            return self._entry(record, version, with_pages=True), [event]

        self.index.write_record(record.record_id, write)
        return out["r"]

    def change(self, record_id: str, base_revision: int,
               fn: Callable[[Record], tuple[Record, list[AuditEvent]]]) -> tuple[Record,
                                                                                list[AuditEvent]]:
        """A person's change, made against ``base_revision``: ``fn`` turns the stored record
        into the new one and its audit events; refused with :class:`ConflictError` when the
        record moved on since, and nothing is written."""
        out: dict[str, tuple[Record, list[AuditEvent]]] = {}

        def write(current: IndexEntry | None) -> tuple[IndexEntry, list[AuditEvent]]:
            if current is None:
                raise NotFoundError(f"no record {record_id}")
            # The object store is the truth: an index row left behind by a write whose
            # commit failed is healed by this write, not a reason to refuse it.
            stored = self.load(record_id)
            if stored.revision != base_revision:
                raise ConflictError(
                    f"record {record_id} was changed by someone else (revision "
                    f"{stored.revision}, this edit started from {base_revision})",
                    hint="reload the record and make the change again")
            new, events = fn(stored)
            version = self._put(new, events)
            out["r"] = (new, events)
            return self._entry(new, version), events

        self.index.write_record(record_id, write)
        return out["r"]

    def log(self, doctype: str | None, events: Sequence[AuditEvent]) -> None:
        """Audit events that change no record (a lease taken or given back)."""
        for e in events:
            self.store.put_audit_event(e)
        self.index.add_audit_events(events, doctype)

    # -- the projection ----------------------------------------------------------------------

    def reindex(self) -> tuple[int, int, int]:
        """Rebuild the index's projection from the object store: every record's latest
        version and every audit event. Returns (records, records indexed before, events)."""
        removed = self.index.clear_records()
        self.index.clear_audit()
        doctypes: dict[str, str] = {}

        def described() -> Iterator[IndexEntry]:
            for record_id, data, version in self.store.iter_records():
                record = Record.from_json(data)
                doctypes[record_id] = record.doctype
                yield self._entry(record, version, with_pages=True)

        records = self.project(described())
        events = 0
        for event in self.store.iter_audit_events():
            self.index.add_audit_events([event], doctypes.get(event.record_id))
            events += 1
        from storage.access import AccessLog

        AccessLog(self.index, self.store).restore()  # reads the index lacks, from the store
        return records, removed, events

    def project(self, described: Iterable[IndexEntry], *, chunk: int = 500) -> int:
        """Index records in bulk, ``chunk`` to a transaction, as a reindex does: entries of
        records stored as they describe (their ``s3_key`` from
        :meth:`storage.objects.ObjectStore.record_location`), or a tool's index of records
        described elsewhere (``bench.reuse``'s million). No event is announced: the records
        are indexed, not changed. Returns how many were indexed."""
        done = 0
        batch: list[IndexEntry] = []
        for entry in described:
            batch.append(entry)
            if len(batch) >= chunk:
                self.index.upsert_records(batch)
                done += len(batch)
                batch.clear()
        self.index.upsert_records(batch)
        return done + len(batch)

    @staticmethod
    def served(entry: IndexEntry) -> bool:
        """Whether other systems get this record when they ask for nothing else: every field
        settled, and neither waiting for a person nor rejected."""
        return entry.settled and entry.status in SERVED_BY_DEFAULT
