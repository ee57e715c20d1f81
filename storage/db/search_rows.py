"""The search rows of the record projection (migration 0008), written and cleared with the
record's row in the projection's transaction (:mod:`storage.db.projection`); searching them is
:mod:`storage.search`.

- ``record_text``: one row per record with the columns searches narrow by and its text,
  folded once in Python (:func:`models.records.fold`); ``doc_id`` numbers the rows in the
  order they were first indexed. Its full-text index (SQLite FTS5, PostgreSQL ``tsvector``
  columns) is the migration's own, kept by the database.
- ``record_values``: each field's folded value, indexed by field and value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.records import IndexEntry, RecordStatus, fold
from storage.db.schema import Base, UTCDateTime

__all__ = ["RecordTextRow", "RecordValueRow", "write_search", "clear_search", "is_name_field",
           "MAX_PAGES_TEXT", "MAX_VALUE", "SERVED_STATUSES"]

_ID = BigInteger().with_variant(Integer(), "sqlite")
# What a record's pages add to its text at most: the text of a few form pages.
MAX_PAGES_TEXT = 8000
MAX_VALUE = 300
SERVED_STATUSES = (RecordStatus.extracted.value, RecordStatus.verified.value)


class RecordTextRow(Base):
    __tablename__ = "record_text"
    __table_args__ = (
        Index("ix_record_text_doctype", "doctype", "doc_id"),
        Index("ix_record_text_status", "status", "doc_id"),
        Index("ix_record_text_served", "served", "doc_id"),
        Index("ix_record_text_station", "station", "doc_id"),
        Index("ix_record_text_batch", "batch_id", "doc_id"),
        Index("ix_record_text_dossier", "dossier_id", "doc_id"),
        Index("ix_record_text_created", "created_at"),
        {"sqlite_autoincrement": True},
    )

    doc_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("records.record_id", ondelete="CASCADE"), unique=True)
    doctype: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32))
    served: Mapped[bool] = mapped_column(Boolean)
    station: Mapped[str | None] = mapped_column(String(200))
    batch_id: Mapped[str] = mapped_column(String(200))
    dossier_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    names: Mapped[str] = mapped_column(Text, default="")  # folded person names
    body: Mapped[str] = mapped_column(Text, default="")  # folded ids, type and every value
    pages: Mapped[str] = mapped_column(Text, default="")  # folded OCR text of the pages


class RecordValueRow(Base):
    __tablename__ = "record_values"
    __table_args__ = (Index("ix_record_values_lookup", "field", "norm"),)

    record_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("records.record_id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(100), primary_key=True)
    norm: Mapped[str] = mapped_column(String(MAX_VALUE))


def is_name_field(name: str) -> bool:
    """Fields that hold a person's name (``full_name``, ``father_name``, ...)."""
    return name.endswith("name") or name == "legal_representative"


def _served(entry: IndexEntry) -> bool:
    return entry.settled and entry.status.value in SERVED_STATUSES


def write_search(s: Session, backend: str, batch: Sequence[IndexEntry]) -> None:
    """Replace the records' search rows with the entries', in the caller's transaction. A
    record's pages' text is kept when its entry brings none (a person's change leaves the
    pages)."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if backend == "postgresql" else sqlite.insert
    for with_pages in (True, False):
        rows = [{
            "record_id": e.record_id, "doctype": e.doctype, "status": str(e.status),
            "served": _served(e), "station": e.station, "batch_id": e.batch_id,
            "dossier_id": e.dossier_id, "created_at": e.created_at,
            "names": " ".join(fold(v) for k, v in sorted(e.summary.items())
                              if v and is_name_field(k)),
            "body": e.search_text,
            "pages": fold(e.pages_text or "")[:MAX_PAGES_TEXT],
        } for e in batch if bool(e.pages_text) == with_pages]
        if not rows:
            continue
        stmt = insert(RecordTextRow)
        keep = [k for k in rows[0] if k != "record_id" and (with_pages or k != "pages")]
        s.execute(stmt.on_conflict_do_update(index_elements=[RecordTextRow.record_id],
                                             set_={k: stmt.excluded[k] for k in keep}), rows)
    s.execute(delete(RecordValueRow).where(
        RecordValueRow.record_id.in_([e.record_id for e in batch])))
    values = [{"record_id": e.record_id, "field": k, "norm": fold(v)[:MAX_VALUE]}
              for e in batch for k, v in sorted(e.summary.items()) if v]
    if values:
        # A mapped class's __table__ is typed as any FromClause; here it is its Table.
        s.execute(cast(Table, RecordValueRow.__table__).insert(), values)


def clear_search(s: Session) -> None:
    """Remove every search row (before a reindex), in the caller's transaction."""
    s.execute(delete(RecordValueRow))
    s.execute(delete(RecordTextRow))
