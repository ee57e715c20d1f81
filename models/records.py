"""Domain records: what the pipeline stores and what other systems read back.

The record JSON carries ``schema_version``; :func:`Record.from_json` reads every version
this code knows and :meth:`Record.to_json` always writes the current one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from models.ocr import BBox

__all__ = [
    "RECORD_SCHEMA_VERSION",
    "FieldStatus",
    "RecordStatus",
    "FileStatus",
    "ExtractedField",
    "ExtractedDocument",
    "PageRef",
    "Record",
    "Correction",
    "IndexEntry",
    "IngestFileResult",
    "IngestReport",
    "ApiKeyInfo",
    "utcnow",
]

RECORD_SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class FieldStatus(StrEnum):
    accepted = "accepted"  # confident and valid: used without review
    review = "review"  # low confidence or failed validation: a person must look
    corrected = "corrected"  # changed by a reviewer
    verified = "verified"  # confirmed by a reviewer
    missing = "missing"  # the document type has this field but it was not found


class RecordStatus(StrEnum):
    extracted = "extracted"  # every field accepted automatically
    needs_review = "needs_review"
    verified = "verified"


class FileStatus(StrEnum):
    accepted = "accepted"  # stored and digitized
    duplicate = "duplicate"  # same content already digitized: nothing new created
    failed = "failed"


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

    @property
    def confidence(self) -> float:
        found = [f.confidence for f in self.fields if f.value is not None]
        return min(found) if found else 0.0

    def field(self, name: str) -> ExtractedField | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str | dict[str, Any]) -> Record:
        obj = json.loads(data) if isinstance(data, bytes | str) else dict(data)
        version = obj.get("schema_version", 1)
        if version > RECORD_SCHEMA_VERSION:
            raise ValueError(
                f"record schema version {version} is newer than this software "
                f"({RECORD_SCHEMA_VERSION}): upgrade the dossier pipeline"
            )
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
        )


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
