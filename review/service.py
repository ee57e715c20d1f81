"""Review actions against the object store and the index, each one all-or-nothing.

Every change is made against the revision the reviewer saw: the index row is held while the
new record version and its audit events go to the object store, so a stale save is refused
(:class:`ConflictError`) and never overwrites anyone's work, and the index always describes
the latest stored version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from models.errors import ConflictError
from models.records import AuditAction, AuditEvent, IndexEntry, Record, utcnow
from review import lifecycle
from review.lifecycle import FieldDecision
from storage.index import QueueFilter, RecordIndex
from storage.objects import ObjectStore
from storage.records import RecordStore

__all__ = ["ReviewService", "DEFAULT_LEASE"]

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=10)


class ReviewService:
    def __init__(self, store: ObjectStore, index: RecordIndex, kinds: dict[str, dict[str, str]],
                 *, lease: timedelta = DEFAULT_LEASE) -> None:
        self.store = store
        self.index = index
        self.records = RecordStore(store, index)
        self.kinds = kinds  # doctype -> field name -> field type
        self.lease = lease

    def load(self, record_id: str, version_id: str | None = None) -> Record:
        return self.records.load(record_id, version_id)

    def _log(self, record: Record | IndexEntry, events: Sequence[AuditEvent]) -> None:
        self.records.log(record.doctype, events)

    # -- leases ------------------------------------------------------------------------------

    def claim_next(self, user: str, f: QueueFilter | None = None,
                   exclude: Sequence[str] = ()) -> str | None:
        record_id = self.index.claim_next(user, self.lease, f, exclude=exclude)
        if record_id is not None:
            entry = self.index.get_record(record_id)
            assert entry is not None
            self._log(entry, [lifecycle.new_event(self._stub(entry), AuditAction.claimed, user,
                                                  utcnow(), record_version=entry.revision)])
        return record_id

    def claim(self, record_id: str, user: str) -> IndexEntry:
        """Take (or keep) the lease on a record; ConflictError if another reviewer has it."""
        before = self.index.get_record(record_id)
        entry = self.index.claim(record_id, user, self.lease)
        if before is None or before.lease_user != user or not before.leased():
            self._log(entry, [lifecycle.new_event(self._stub(entry), AuditAction.claimed, user,
                                                  utcnow(), record_version=entry.revision)])
        return entry

    def release(self, record_id: str, user: str) -> bool:
        """Skip: give the lease back so the document returns to the queue."""
        released = self.index.release(record_id, user)
        if released:
            entry = self.index.get_record(record_id)
            assert entry is not None
            self._log(entry, [lifecycle.new_event(self._stub(entry), AuditAction.released,
                                                  user, utcnow(),
                                                  record_version=entry.revision)])
        return released

    @staticmethod
    def _stub(entry: IndexEntry) -> Record:
        return Record(record_id=entry.record_id, dossier_id=entry.dossier_id,
                      batch_id=entry.batch_id, doctype=entry.doctype)

    # -- changes -----------------------------------------------------------------------------

    def _change(self, record_id: str, user: str, base_revision: int,
                fn: Callable[[Record], tuple[Record, list[AuditEvent]]]) -> Record:
        entry = self.index.get_record(record_id)
        if entry is not None and entry.lease_user not in (None, user) and entry.leased():
            raise ConflictError(f"record {record_id} is being reviewed by {entry.lease_user}",
                                hint="take another document")
        new, _events = self.records.change(record_id, base_revision, fn)
        return new

    def decide(self, record_id: str, user: str, base_revision: int,
               decisions: list[FieldDecision]) -> Record:
        """Confirm, correct or mark fields; a new record version when it is stored."""
        def fn(rec: Record) -> tuple[Record, list[AuditEvent]]:
            return lifecycle.apply_decisions(rec, decisions, user, utcnow(),
                                             self.kinds.get(rec.doctype, {}))
        return self._change(record_id, user, base_revision, fn)

    def approve(self, record_id: str, user: str, base_revision: int) -> Record:
        rec = self._change(record_id, user, base_revision,
                           lambda r: lifecycle.approve(r, user, utcnow()))
        self.index.release(record_id, user)
        return rec

    def reject(self, record_id: str, user: str, base_revision: int, reason: str) -> Record:
        rec = self._change(record_id, user, base_revision,
                           lambda r: lifecycle.reject(r, user, utcnow(), reason))
        self.index.release(record_id, user)
        return rec
