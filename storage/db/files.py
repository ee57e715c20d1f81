"""The registry of ingested files: what became of each file, keyed by its content hash, so a
file sent again is recognized (``flows.digitize``). Operational state, like the batch ledger
(:mod:`storage.batches`): ``reindex`` leaves it alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.records import FileStatus, IngestFileResult, utcnow
from storage.db.engine import Database
from storage.db.schema import Base, PortableJSON, UTCDateTime

__all__ = ["IngestedFiles", "IngestedFileRow"]


class IngestedFileRow(Base):
    __tablename__ = "ingested_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(Text)
    dossier_id: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(100))
    pages: Mapped[int] = mapped_column(Integer)
    record_ids: Mapped[list[str]] = mapped_column(PortableJSON)
    batch_id: Mapped[str | None] = mapped_column(String(200), index=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class IngestedFiles(Database):
    """What became of each ingested file."""

    # -- ingested files ----------------------------------------------------------------------

    def record_file(self, result: IngestFileResult, batch_id: str | None) -> bool:
        """Remember what became of an ingested file, keyed by its content hash.

        A file once accepted stays accepted: a later duplicate or failed attempt only updates
        ``last_seen``. Returns False (nothing stored) when the result has no hash, i.e. the file
        could not even be read.
        """
        if not result.sha256:
            return False
        now = utcnow()
        values = {
            "filename": result.path,
            "dossier_id": result.dossier_id,
            "status": str(result.status),
            "error": result.error,
            "error_kind": result.error_kind,
            "pages": result.pages,
            "record_ids": list(result.record_ids),
            "batch_id": batch_id,
            "last_seen": now,
        }
        with self.transaction(f"register file {result.path}", write=True) as s:
            s.execute(
                self.insert(IngestedFileRow)
                .values(sha256=result.sha256, first_seen=now, **values)
                .on_conflict_do_nothing(index_elements=[IngestedFileRow.sha256])
            )
            row = s.get(IngestedFileRow, result.sha256, with_for_update=True)
            assert row is not None
            if row.status == FileStatus.accepted and result.status != FileStatus.accepted:
                row.last_seen = now
            else:
                for k, v in values.items():
                    setattr(row, k, v)
        return True

    def find_file(self, sha256: str) -> IngestFileResult | None:
        """What became of the file with this content hash, if it was ever ingested."""
        with self.transaction(f"look up file {sha256}") as s:
            row = s.get(IngestedFileRow, sha256)
            if row is None:
                return None
            return IngestFileResult(
                path=row.filename,
                dossier_id=row.dossier_id,
                sha256=row.sha256,
                status=FileStatus(row.status),
                error=row.error,
                error_kind=row.error_kind,
                pages=row.pages,
                record_ids=list(row.record_ids or []),
            )
