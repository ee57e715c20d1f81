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


def write_search(s: Session, backend: str, entry: IndexEntry) -> None:
    """Replace the record's search rows with ``entry``'s, in the caller's transaction. The
    pages' text is kept when ``entry`` brings none (a person's change leaves the pages)."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if backend == "postgresql" else sqlite.insert
    values = {
        "record_id": entry.record_id, "doctype": entry.doctype, "status": str(entry.status),
        "served": _served(entry), "station": entry.station, "batch_id": entry.batch_id,
        "dossier_id": entry.dossier_id, "created_at": entry.created_at,
        "names": " ".join(fold(v) for k, v in sorted(entry.summary.items())
                          if v and is_name_field(k)),
        "body": entry.search_text,
    }
    pages = fold(entry.pages_text or "")[:MAX_PAGES_TEXT]
    stmt = insert(RecordTextRow).values(**values, pages=pages)
    keep = {k for k in values if k != "record_id"} | ({"pages"} if entry.pages_text else set())
    s.execute(stmt.on_conflict_do_update(index_elements=[RecordTextRow.record_id],
                                         set_={k: stmt.excluded[k] for k in keep}))
    s.execute(delete(RecordValueRow).where(RecordValueRow.record_id == entry.record_id))
    rows = [{"record_id": entry.record_id, "field": k, "norm": fold(v)[:MAX_VALUE]}
            for k, v in sorted(entry.summary.items()) if v]
    if rows:
        # A mapped class's __table__ is typed as any FromClause; here it is its Table.
        s.execute(cast(Table, RecordValueRow.__table__).insert(), rows)


def clear_search(s: Session) -> None:
    """Remove every search row (before a reindex), in the caller's transaction."""
    s.execute(delete(RecordValueRow))
    s.execute(delete(RecordTextRow))
