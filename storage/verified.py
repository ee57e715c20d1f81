"""Values people verified, as the index keeps them for extraction to learn from.

A field a person confirmed or corrected, in a record that was not rejected, is a verified
value: the same field of a later document of the same citizen that reads exactly so, or any
document's same field that reads as one of them (a vocabulary of streets, offices,
procedures), is as good as verified (``extraction.known``). The rows are part of the record
projection (table ``verified_values``, migration 0005): written with the record's row, in the
same transaction, and rebuilt by ``reindex``.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ForeignKey, String, Text, delete, select, tuple_
from sqlalchemy.orm import Mapped, Session, mapped_column

from extraction.known import KnownValues, norm
from models.records import IndexEntry
from storage.index import Base, RecordCitizenRow, RecordIndex

__all__ = ["VerifiedValueRow", "IndexKnown", "write_verified"]

# Candidates asked about in one statement: well under every database's parameter limit.
_CHUNK = 300


class VerifiedValueRow(Base):
    __tablename__ = "verified_values"

    record_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("records.record_id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(100), primary_key=True)
    doctype: Mapped[str] = mapped_column(String(100))
    norm: Mapped[str] = mapped_column(String(1000), index=True)  # extraction.known.norm
    value: Mapped[str] = mapped_column(Text)


def write_verified(s: Session, entry: IndexEntry) -> None:
    """Replace the record's verified values with ``entry``'s, in the caller's transaction."""
    s.execute(delete(VerifiedValueRow).where(VerifiedValueRow.record_id == entry.record_id))
    rows = [{"record_id": entry.record_id, "field": name, "doctype": entry.doctype,
             "norm": norm(value)[:1000], "value": value}
            for name, value in sorted(entry.verified.items())]
    if rows:
        s.execute(VerifiedValueRow.__table__.insert(), rows)


class IndexKnown:
    """``extraction.known.KnownLookup`` over the index: two queries per dossier."""

    def __init__(self, index: RecordIndex) -> None:
        self.index = index

    def known_values(self, citizen_ids: Collection[str],
                     candidates: Collection[tuple[str, str, str]]) -> KnownValues:
        known = KnownValues()
        with self.index._session("read the values people verified") as s:
            ids = sorted(set(citizen_ids))
            if ids:
                found = s.execute(
                    select(RecordCitizenRow.citizen_id, VerifiedValueRow.field,
                           VerifiedValueRow.norm, VerifiedValueRow.record_id)
                    .join(VerifiedValueRow,
                          VerifiedValueRow.record_id == RecordCitizenRow.record_id)
                    .where(RecordCitizenRow.citizen_id.in_(ids)))
                for cid, field, n, record_id in found:
                    known.by_citizen.setdefault((cid, field, n), record_id)
            wanted = sorted({(t, f, n[:1000]) for t, f, n in candidates})
            for i in range(0, len(wanted), _CHUNK):
                part = wanted[i:i + _CHUNK]
                found = s.execute(
                    select(VerifiedValueRow.doctype, VerifiedValueRow.field,
                           VerifiedValueRow.norm).distinct()
                    .where(tuple_(VerifiedValueRow.doctype, VerifiedValueRow.field,
                                  VerifiedValueRow.norm).in_(part)))
                known.vocabulary.update((t, f, n) for t, f, n in found)
        return known
