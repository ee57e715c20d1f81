"""The values people verified, as rows of the record projection (table ``verified_values``,
migrations 0005 and 0007), written and cleared with the record's row in the projection's
transaction (:mod:`storage.db.projection`); reading them for extraction and review is
:mod:`storage.verified`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import ForeignKey, Index, String, Table, Text, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.records import IndexEntry
from storage.db.schema import Base

__all__ = ["VerifiedValueRow", "write_verified", "clear_verified"]


class VerifiedValueRow(Base):
    __tablename__ = "verified_values"
    # One field's vocabulary (migration 0007): the review page's suggestions.
    __table_args__ = (Index("ix_verified_values_lookup", "doctype", "field", "norm"),)

    record_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("records.record_id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(100), primary_key=True)
    doctype: Mapped[str] = mapped_column(String(100))
    norm: Mapped[str] = mapped_column(String(1000), index=True)  # extraction.known.norm
    value: Mapped[str] = mapped_column(Text)


def write_verified(s: Session, batch: Sequence[IndexEntry]) -> None:
    """Replace the records' verified values with the entries', in the caller's transaction."""
    # Imported here: the extraction package loads its document types, which a process that
    # opens the index for anything else has no use for.
    from extraction.known import norm

    s.execute(delete(VerifiedValueRow).where(
        VerifiedValueRow.record_id.in_([e.record_id for e in batch])))
    rows = [{"record_id": e.record_id, "field": name, "doctype": e.doctype,
             "norm": norm(value)[:1000], "value": value}
            for e in batch for name, value in sorted(e.verified.items())]
    if rows:
        # A mapped class's __table__ is typed as any FromClause; here it is its Table.
        s.execute(cast(Table, VerifiedValueRow.__table__).insert(), rows)


def clear_verified(s: Session) -> None:
    """Remove every verified value (before a reindex), in the caller's transaction."""
    s.execute(delete(VerifiedValueRow))
