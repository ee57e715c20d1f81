"""Domain records: what the pipeline stores and what other systems read back.

The record JSON carries ``schema_version``; :func:`Record.from_json` reads every version
this code knows and :meth:`Record.to_json` always writes the current one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from models.errors import RecordSchemaError
from models.ocr import BBox

__all__ = [
    "RECORD_SCHEMA_VERSION",
    "FieldStatus",
    "FieldSource",
    "SETTLED_FIELD_STATUSES",
    "RecordStatus",
    "AuditAction",
    "AuditEvent",
    "Reading",
    "FileStatus",
    "ExtractedField",
    "ExtractedDocument",
    "PageRef",
    "Record",
    "Correction",
    "IndexEntry",
    "fold",
    "search_text_of",
    "IngestFileResult",
    "IngestReport",
    "ApiKeyInfo",
    "utcnow",
]

RECORD_SCHEMA_VERSION = 2


def utcnow() -> datetime:
    return datetime.now(UTC)


class FieldStatus(StrEnum):
    accepted = "accepted"  # the machine is confident under the calibrated rule
    review = "review"  # low confidence or failed validation: a person must look
    missing = "missing"  # the document type has this field but it was not found
    confirmed = "confirmed"  # a person looked and kept the machine's value
    corrected = "corrected"  # a person changed the value
    not_on_document = "not_on_document"  # a person says the document does not carry it


# A record is settled when every field is in one of these.
SETTLED_FIELD_STATUSES = frozenset({FieldStatus.accepted, FieldStatus.confirmed,
                                    FieldStatus.corrected, FieldStatus.not_on_document})


class FieldSource(StrEnum):
    """Where a value came from."""

    ocr = "ocr"  # OCR of a labelled (or positioned) printed field
    qr = "qr"  # a QR code on the document (e.g. the chip-based ID card)
    mrz = "mrz"  # the machine-readable zone of an ID card
    barcode = "barcode"  # a 1-D barcode (e.g. the dossier code on a receipt)
    text_layer = "text_layer"  # the text layer of a born-digital PDF
    reconciled = "reconciled"  # agreed across several documents of the dossier
    reread = "reread"  # the value's lines read again, each alone (extraction.reread)
    person = "person"  # typed by a reviewer


class RecordStatus(StrEnum):
    extracted = "extracted"  # every field settled by the machine: straight through
    needs_review = "needs_review"  # some field needs a person
    in_review = "in_review"  # a reviewer holds a lease (index only: leases expire)
    verified = "verified"  # a person approved every field
    rejected = "rejected"  # returned to the scanning counter with a reason


class FileStatus(StrEnum):
    accepted = "accepted"  # stored and digitized
    duplicate = "duplicate"  # same content already digitized: nothing new created
    failed = "failed"


class Reading(BaseModel):
    """One independent reading of a field's value (OCR, QR, MRZ, another document)."""

    value: str | None
    source: FieldSource
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    document: str | None = None  # another record of the dossier, for cross-document readings


class ExtractedField(BaseModel):
    name: str
    label: str = ""  # human label, e.g. "Họ và tên"
    value: str | None = None  # normalized value (dates ISO, IDs digits only)
    raw: str = ""  # the OCR text the value came from
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    page: int | None = None  # page index within the dossier
    bbox: BBox | None = None
    status: FieldStatus = FieldStatus.missing
    problems: list[str] = Field(default_factory=list)  # validator messages
    source: FieldSource = FieldSource.ocr
    readings: list[Reading] = Field(default_factory=list)  # other readings, when they differ
    codes: dict[str, str] = Field(default_factory=dict)  # e.g. official administrative codes
    # Provenance of a person's decision; the machine's value is kept when a person changes it.
    machine_value: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    # What extraction knew when it scored the value (OCR confidences, label match, checks,
    # agreement of other readings); the calibrated scorer's input. Not stored.
    _evidence: dict[str, float] = PrivateAttr(default_factory=dict)
    # Where extraction found the value (the label and its occurrence, the position, the
    # pattern), for `dossier extract --explain`. Not stored.
    _origin: str = PrivateAttr(default="")
    # The value's words, one box per printed line: where to read it again. Not stored.
    _line_boxes: list[BBox] = PrivateAttr(default_factory=list)

    @property
    def settled(self) -> bool:
        return self.status in SETTLED_FIELD_STATUSES


class ExtractedDocument(BaseModel):
    doctype: str
    title: str = ""
    pages: list[int]  # page indexes within the dossier
    classification_confidence: float = 0.0
    fields: list[ExtractedField] = Field(default_factory=list)

    def field(self, name: str) -> ExtractedField | None:
        return next((f for f in self.fields if f.name == name), None)

    def values(self) -> dict[str, str | None]:
        return {f.name: f.value for f in self.fields}


class PageRef(BaseModel):
    index: int
    original_sha256: str
    source_page: int  # page number inside the original file
    cleaned_key: str | None = None
    ocr_key: str | None = None
    ocr_confidence: float = 0.0


class Correction(BaseModel):
    field: str
    old: str | None
    new: str | None
    by: str
    at: datetime = Field(default_factory=utcnow)


class AuditAction(StrEnum):
    extracted = "extracted"  # the machine stored the record
    claimed = "claimed"
    released = "released"  # skipped, or the lease given back
    confirmed = "confirmed"  # a field kept as the machine read it
    corrected = "corrected"  # a field changed
    restored = "restored"  # a field put back to the machine's value
    not_on_document = "not_on_document"
    verified = "verified"  # the whole record approved
    rejected = "rejected"
    reopened = "reopened"  # a settled record opened again for correction
    retyped = "retyped"  # a person changed the document type (old and new type in the event)


class AuditEvent(BaseModel):
    """One append-only audit entry; stored as its own object, never rewritten."""

    event_id: str
    record_id: str
    action: AuditAction
    actor: str  # user name, or "machine"
    at: datetime = Field(default_factory=utcnow)
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    reason: str | None = None
    record_version: int | None = None  # the record revision this event produced


class Record(BaseModel):
    """One extracted document of a dossier: the unit other systems reuse."""

    schema_version: int = RECORD_SCHEMA_VERSION
    record_id: str
    dossier_id: str
    batch_id: str
    doctype: str
    title: str = ""
    status: RecordStatus = RecordStatus.extracted
    classification_confidence: float = 0.0
    fields: list[ExtractedField] = Field(default_factory=list)
    pages: list[PageRef] = Field(default_factory=list)
    citizen_ids: list[str] = Field(default_factory=list)
    station: str | None = None
    operator: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    corrections: list[Correction] = Field(default_factory=list)
    # Revision counter: every stored change increments it; a save names the one it edited.
    revision: int = 1
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    reject_reason: str | None = None
    pdf_key: str | None = None  # searchable PDF of the document, in the derived bucket

    @property
    def confidence(self) -> float:
        found = [f.confidence for f in self.fields if f.value is not None]
        return min(found) if found else 0.0

    @property
    def settled(self) -> bool:
        """Every field accepted by the machine or decided by a person."""
        return self.status != RecordStatus.rejected and all(f.settled for f in self.fields)

    @property
    def touched_by_person(self) -> bool:
        """A person decided something here: a machine run must never overwrite it."""
        return bool(self.corrections) or self.reviewed_by is not None or any(
            f.reviewed_by is not None for f in self.fields)

    def field(self, name: str) -> ExtractedField | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str | dict[str, Any]) -> Record:
        obj = json.loads(data) if isinstance(data, bytes | str) else dict(data)
        version = obj.get("schema_version", 1)
        if version > RECORD_SCHEMA_VERSION:
            raise RecordSchemaError(
                f"record schema version {version} is newer than this software "
                f"({RECORD_SCHEMA_VERSION}): upgrade the dossier pipeline"
            )
        if version < 2:
            # Version 1 called a reviewer's confirmation "verified".
            for f in obj.get("fields", []):
                if f.get("status") == "verified":
                    f["status"] = FieldStatus.confirmed.value
        obj["schema_version"] = RECORD_SCHEMA_VERSION
        return cls.model_validate(obj)


class IndexEntry(BaseModel):
    """The SQL index's projection of a record; rebuildable from the object store."""

    record_id: str
    dossier_id: str
    batch_id: str
    doctype: str
    status: RecordStatus
    confidence: float
    s3_key: str
    version_id: str | None = None
    citizen_ids: list[str] = Field(default_factory=list)
    summary: dict[str, str | None] = Field(default_factory=dict)  # key field values
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    revision: int = 1
    station: str | None = None
    operator: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    settled: bool = False
    search_text: str = ""  # folded (no diacritics, lower case) ids, names and values
    # Field -> value, of the fields a person confirmed or corrected (none when rejected):
    # what extraction learns from (storage.verified). Written with the row, not read back.
    verified: dict[str, str] = Field(default_factory=dict)
    # The folded OCR text of the record's pages, for full-text search (storage.search); None
    # keeps what the index holds (a person's change does not touch the pages).
    pages_text: str | None = None
    # A reviewer's lease: operational state of the index only, never in the object store.
    lease_user: str | None = None
    lease_expires: datetime | None = None

    def leased(self, now: datetime | None = None) -> bool:
        return self.lease_expires is not None and self.lease_expires > (now or utcnow())

    @property
    def queue_status(self) -> RecordStatus:
        """The status as the review queue shows it: a held lease means in review."""
        if self.status == RecordStatus.needs_review and self.leased():
            return RecordStatus.in_review
        return self.status

    @classmethod
    def from_record(cls, record: Record, s3_key: str, version_id: str | None) -> IndexEntry:
        return cls(
            record_id=record.record_id,
            dossier_id=record.dossier_id,
            batch_id=record.batch_id,
            doctype=record.doctype,
            status=record.status,
            confidence=record.confidence,
            s3_key=s3_key,
            version_id=version_id,
            citizen_ids=record.citizen_ids,
            summary={f.name: f.value for f in record.fields if f.value is not None},
            created_at=record.created_at,
            updated_at=record.updated_at,
            revision=record.revision,
            station=record.station,
            operator=record.operator,
            reviewed_by=record.reviewed_by,
            reviewed_at=record.reviewed_at,
            settled=record.settled,
            search_text=search_text_of(record),
            verified={} if record.status == RecordStatus.rejected else {
                f.name: f.value for f in record.fields
                if f.value and f.status in (FieldStatus.confirmed, FieldStatus.corrected)},
        )


def fold(text: str) -> str:
    """Lower case without diacritics (đ -> d), spaces collapsed: for search."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().split())


def search_text_of(record: Record) -> str:
    """What a clerk may search a record by: ids, dossier code, type, and every value."""
    parts = [record.record_id, record.dossier_id, record.batch_id, record.doctype, record.title,
             *record.citizen_ids, *(f.value for f in record.fields if f.value)]
    return " | ".join(fold(p) for p in parts if p)


class IngestFileResult(BaseModel):
    path: str
    dossier: str | None = None  # the dossier's name: its folder or file name
    dossier_id: str | None = None
    sha256: str | None = None
    status: FileStatus
    error: str | None = None
    error_kind: str | None = None
    pages: int = 0
    record_ids: list[str] = Field(default_factory=list)


class IngestReport(BaseModel):
    batch_id: str
    station: str | None = None
    operator: str | None = None
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    files: list[IngestFileResult] = Field(default_factory=list)

    @property
    def failed(self) -> list[IngestFileResult]:
        return [f for f in self.files if f.status == FileStatus.failed]


class ApiKeyInfo(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    created_at: datetime
    revoked: bool = False
    agency: str | None = None  # the agency the key reads for: named in every access record
    doctypes: list[str] | None = None  # document types it may read (None: every type)

    def may_read(self, doctype: str) -> bool:
        return self.doctypes is None or doctype in self.doctypes
