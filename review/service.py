"""Review actions against the object store and the index, each one all-or-nothing.

Every change is made against the revision the reviewer saw: the index row is held while the
new record version and its audit events go to the object store, so a stale save is refused
(:class:`ConflictError`) and never overwrites anyone's work, and the index always describes
the latest stored version.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from extraction.doctypes import DoctypeDef
from models.errors import ConflictError, NotFoundError, ReviewError
from models.ocr import PageOCR
from models.records import AuditAction, AuditEvent, FieldStatus, IndexEntry, Record, utcnow
from review import lifecycle
from review.lifecycle import FieldDecision
from storage.index import QueueFilter, RecordIndex
from storage.objects import ObjectStore
from storage.records import RecordStore

__all__ = ["ReviewService", "DEFAULT_LEASE", "SUGGESTED_KINDS"]

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=10)

# Fields whose verified values make a vocabulary worth offering (streets, hamlets, offices,
# procedures). A name, a number or a date close to another person's is another person's.
SUGGESTED_KINDS = frozenset({"text", "address"})


class ReviewService:
    def __init__(self, store: ObjectStore, index: RecordIndex, kinds: dict[str, dict[str, str]],
                 *, lease: timedelta = DEFAULT_LEASE, doctypes: list[DoctypeDef] | None = None,
                 calibration: Path | None = None,
                 review_threshold: float | None = None) -> None:
        self.store = store
        self.index = index
        self.records = RecordStore(store, index)
        self.kinds = kinds  # doctype -> field name -> field type
        self.lease = lease
        # What a document is read again with when a person changes its type.
        self._doctypes = doctypes
        self.calibration = calibration
        self.review_threshold = review_threshold

    @property
    def doctypes(self) -> list[DoctypeDef]:
        """The document types a person may choose: those the pipeline reads with."""
        if self._doctypes is None:
            from extraction import load_doctypes

            self._doctypes = load_doctypes()
        return self._doctypes

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

    def approve(self, record_id: str, user: str, base_revision: int,
                decisions: Sequence[FieldDecision] = ()) -> Record:
        """The document approved with the field decisions made on it: one version."""
        def fn(rec: Record) -> tuple[Record, list[AuditEvent]]:
            return lifecycle.decide(rec, list(decisions), user, utcnow(),
                                    self.kinds.get(rec.doctype, {}), finish=True)
        rec = self._change(record_id, user, base_revision, fn)
        self.index.release(record_id, user)
        return rec

    def retype(self, record_id: str, user: str, base_revision: int, doctype: str,
               decisions: Sequence[FieldDecision] = ()) -> Record:
        """The document read again as ``doctype`` from its pages' stored OCR, keeping what
        people decided (:func:`review.lifecycle.retype`): one version."""
        from extraction import citizen_ids_of
        from review.retype import read_as
        from storage.verified import IndexKnown

        d = next((t for t in self.doctypes if t.id == doctype), None)
        if d is None:
            raise ReviewError(f"no document type {doctype!r}",
                              hint="choose one of the types the page lists")
        record = self.load(record_id)
        pages = self._pages(record)
        # Read outside the record's lock (it takes a second); the pages never change between
        # revisions, and the change below is refused if the record moved on.
        doc = read_as(pages, d, calibration=self.calibration,
                      review_threshold=self.review_threshold, known=IndexKnown(self.index))
        ids = citizen_ids_of(doc, d, pages)
        for f in doc.fields:  # positions in the record's pages -> the dossier's page indexes
            if f.page is not None and 0 <= f.page < len(record.pages):
                f.page = record.pages[f.page].index

        def fn(rec: Record) -> tuple[Record, list[AuditEvent]]:
            return lifecycle.retype(rec, list(decisions), d.id, d.title, doc.fields, ids, user,
                                    utcnow(), self.kinds.get(rec.doctype, {}))
        return self._change(record_id, user, base_revision, fn)

    def _pages(self, record: Record) -> list[PageOCR]:
        pages = []
        for i, ref in enumerate(record.pages):
            if ref.ocr_key is None:
                raise ReviewError(f"record {record.record_id}: page {ref.index} has no stored "
                                  "OCR to read again", hint="reject it so it is scanned again")
            try:
                page = PageOCR.from_dict(json.loads(self.store.get_derived(ref.ocr_key)))
            except NotFoundError as e:
                raise ReviewError(f"record {record.record_id}: the OCR of page {ref.index} "
                                  "is gone", hint="reject it so it is scanned again") from e
            page.index = i
            pages.append(page)
        return pages

    def suggestions(self, record: Record) -> dict[str, str]:
        """Per field waiting for a person, the closest value people verified for the same
        field of the same document type (``storage.verified.closest_verified``)."""
        from storage.verified import closest_verified

        kinds = self.kinds.get(record.doctype, {})
        readings = {f.name: f.value for f in record.fields
                    if f.value and f.status in (FieldStatus.review, FieldStatus.missing)
                    and kinds.get(f.name, "text") in SUGGESTED_KINDS}
        return closest_verified(self.index, record.doctype, readings) if readings else {}

    def reject(self, record_id: str, user: str, base_revision: int, reason: str) -> Record:
        rec = self._change(record_id, user, base_revision,
                           lambda r: lifecycle.reject(r, user, utcnow(), reason))
        self.index.release(record_id, user)
        return rec
