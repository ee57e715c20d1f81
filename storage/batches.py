"""The batch ledger: accepted batches, their files and pages, and how far each has come.

Rows live in the index database (tables ``batches``, ``batch_files``, ``batch_pages``,
migration 0003) so that every API replica and every worker sees the same progress. It is
operational state, not a projection of the object store: ``reindex`` leaves it alone.

A running batch holds a lease: the flow run that works on it beats a heartbeat, and a batch
whose heartbeat stopped (its worker died) may be taken over by exactly one other run.

Every state change (queued, running, finished) writes its event (``storage.events``) in the
same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, Text, func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from models.batches import (
    BatchDossier,
    BatchFile,
    BatchPlan,
    BatchState,
    BatchStatus,
    BatchSummary,
    FileProblem,
    FileStatusView,
    PageState,
    RecordState,
    Stage,
)
from models.errors import NotFoundError
from models.events import EventType
from models.records import IndexEntry, utcnow
from storage.db import Base, PortableJSON, UTCDateTime
from storage.db.projection import RecordRow, entries
from storage.events import append_events, batch_event
from storage.index import RecordIndex

__all__ = ["BatchLedger", "BatchRow", "BatchFileRow", "BatchPageRow", "dossier_id_for"]


def dossier_id_for(file_hashes: list[str | None], *, batch_id: str, dossier: str) -> str:
    """The id of a dossier whose files, in page order, hash to ``file_hashes``.

    When every file is stored, the id is the content's: the same files in the same order are
    the same dossier, whatever their names, the batch or the station. A dossier with a file
    that was refused (``None``) has no known content, so its id is its batch's own and can
    never be shared with another batch's dossier.
    """
    stored = [h for h in file_hashes if h]
    if file_hashes and len(stored) == len(file_hashes):
        return "D" + hashlib.sha256(":".join(stored).encode()).hexdigest()[:20]
    own = f"batch:{batch_id}:{dossier}"
    return "D" + hashlib.sha256(own.encode()).hexdigest()[:20]


class BatchRow(Base):
    __tablename__ = "batches"

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station: Mapped[str | None] = mapped_column(String(200), index=True)
    operator: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_id: Mapped[str | None] = mapped_column(String(64))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))  # host:pid that ran it last


class BatchFileRow(Base):
    __tablename__ = "batch_files"

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier: Mapped[str] = mapped_column(Text)
    dossier_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    content_type: Mapped[str] = mapped_column(String(100))
    stage: Mapped[str] = mapped_column(String(16))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(100))
    hint: Mapped[str | None] = mapped_column(Text)
    refused: Mapped[bool] = mapped_column(default=False)  # refused on upload: never retried
    record_ids: Mapped[list[str]] = mapped_column(PortableJSON)
    replaced_by: Mapped[int | None] = mapped_column(Integer)
    # Place in the dossier's page order (migration 0004); a replacement takes the old one's.
    position: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BatchPageRow(Base):
    __tablename__ = "batch_pages"

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_page: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    reads: Mapped[int] = mapped_column(Integer, default=0)  # times OCR started on it
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BatchLedger:
    """Batch bookkeeping over a :class:`RecordIndex`'s database."""

    def __init__(self, index: RecordIndex) -> None:
        self.index = index

    # -- acceptance --------------------------------------------------------------------------

    def create(self, plan: BatchPlan) -> None:
        """Register an accepted batch (its originals already durable) as queued."""
        now = utcnow()
        with self.index.transaction(f"register batch {plan.batch_id}", write=True) as s:
            s.add(BatchRow(batch_id=plan.batch_id, station=plan.station, operator=plan.operator,
                           state=BatchState.queued.value, created_at=plan.created_at,
                           attempts=0))
            s.flush()  # the batch row first: its files refer to it
            for d in plan.dossiers:
                for f in d.files:
                    s.add(self._file_row(plan.batch_id, d.dossier_id, f, now))
            s.flush()
            self._event(s, batch_event(EventType.batch_queued, plan.batch_id,
                                       files=len(plan.files), station=plan.station))

    def _event(self, s: Any, event: dict[str, Any]) -> None:
        append_events(s, self.index.backend, [event])

    @staticmethod
    def _file_row(batch_id: str, dossier_id: str, f: BatchFile, now: datetime) -> BatchFileRow:
        p = f.problem
        return BatchFileRow(batch_id=batch_id, file_no=f.file_no, dossier=f.dossier,
                            dossier_id=dossier_id, name=f.name, sha256=f.sha256, size=f.size,
                            content_type=f.content_type,
                            stage=(Stage.failed if p else Stage.queued).value, pages=0,
                            error=p.message if p else None, error_kind=p.kind if p else None,
                            hint=p.hint if p else None, refused=p is not None, record_ids=[],
                            position=f.position or f.file_no, updated_at=now)

    def replace_file(self, batch_id: str, file_no: int, new: BatchFile) -> int:
        """Put ``new`` in place of file ``file_no`` (same dossier, same place in its page
        order); the batch is queued again. Returns the new file's number.

        The dossier's content changes, so it gets the id of its new content (or, while a file
        is still refused, its batch's own): a replacement never writes under an id that another
        batch's dossier may have, and the records of what was uploaded before stay as they are.
        """
        now = utcnow()
        with self.index.transaction(f"replace a file of batch {batch_id}", write=True) as s:
            batch = s.get(BatchRow, batch_id, with_for_update=True)
            old = s.get(BatchFileRow, (batch_id, file_no), with_for_update=True)
            if batch is None or old is None:
                raise NotFoundError(f"batch {batch_id} has no file {file_no}")
            if old.replaced_by is not None:
                raise NotFoundError(f"file {file_no} of batch {batch_id} was already replaced "
                                    f"by file {old.replaced_by}")
            last = s.scalar(select(BatchFileRow.file_no).where(BatchFileRow.batch_id == batch_id)
                            .order_by(BatchFileRow.file_no.desc()).limit(1)) or 0
            new = new.model_copy(update={"file_no": last + 1, "dossier": old.dossier,
                                         "position": old.position or old.file_no})
            old.replaced_by = new.file_no
            old.updated_at = now
            s.add(self._file_row(batch_id, old.dossier_id, new, now))
            s.flush()
            files = s.scalars(select(BatchFileRow).where(
                BatchFileRow.batch_id == batch_id, BatchFileRow.dossier == old.dossier,
                BatchFileRow.dossier_id == old.dossier_id, BatchFileRow.replaced_by.is_(None))
            ).all()
            files = sorted(files, key=lambda r: (r.position or r.file_no, r.file_no))
            dossier_id = dossier_id_for([r.sha256 for r in files], batch_id=batch_id,
                                        dossier=old.dossier)
            for r in files:
                r.dossier_id = dossier_id
            was = batch.state
            batch.state = BatchState.queued.value
            batch.finished_at = None
            if was != BatchState.queued.value:
                s.flush()
                self._event(s, batch_event(EventType.batch_queued, batch_id,
                                           attempts=batch.attempts or 0, replaced=file_no))
        return new.file_no

    # -- what the flow reads -----------------------------------------------------------------

    def plan(self, batch_id: str) -> BatchPlan:
        """The batch's current files (replaced ones left out), grouped by dossier."""
        with self.index.transaction(f"read batch {batch_id}") as s:
            batch = s.get(BatchRow, batch_id)
            if batch is None:
                raise NotFoundError(f"no batch {batch_id}")
            rows = s.scalars(select(BatchFileRow).where(BatchFileRow.batch_id == batch_id,
                                                        BatchFileRow.replaced_by.is_(None))
                             .order_by(func.coalesce(BatchFileRow.position,
                                                     BatchFileRow.file_no),
                                       BatchFileRow.file_no)).all()
        dossiers: dict[tuple[str, str], BatchDossier] = {}
        for r in rows:
            d = dossiers.setdefault((r.dossier_id, r.dossier),
                                    BatchDossier(name=r.dossier, dossier_id=r.dossier_id))
            d.files.append(BatchFile(
                file_no=r.file_no, dossier=r.dossier, name=r.name, sha256=r.sha256, size=r.size,
                content_type=r.content_type, stage=Stage(r.stage),
                position=r.position or r.file_no,
                problem=FileProblem(kind=r.error_kind or "InputFileError", message=r.error or "",
                                    hint=r.hint or "") if r.refused else None))
        return BatchPlan(batch_id=batch_id, station=batch.station, operator=batch.operator,
                         dossiers=list(dossiers.values()), created_at=batch.created_at)

    # -- the lease ---------------------------------------------------------------------------

    def submitted(self, batch_id: str, run_id: str) -> None:
        """The batch was handed to Prefect as flow run ``run_id``."""
        with self.index.transaction(f"note the run of batch {batch_id}", write=True) as s:
            s.execute(update(BatchRow).where(BatchRow.batch_id == batch_id,
                                             BatchRow.state == BatchState.queued.value)
                      .values(run_id=run_id, heartbeat_at=utcnow()))

    def claim(self, batch_id: str, run_id: str, stale: timedelta, worker: str | None = None
              ) -> bool:
        """The run ``run_id`` starts (or resumes) the batch. False when there is nothing to do:
        the batch is finished, or another run holds it and is still beating."""
        now = utcnow()
        with self.index.transaction(f"claim batch {batch_id}", write=True) as s:
            batch = s.get(BatchRow, batch_id, with_for_update=True)
            if batch is None:
                raise NotFoundError(f"no batch {batch_id}")
            if batch.state == BatchState.finished.value:
                return False
            if (batch.state == BatchState.running.value and batch.run_id not in (None, run_id)
                    and batch.heartbeat_at is not None and batch.heartbeat_at > now - stale):
                return False
            resumed = batch.state == BatchState.running.value and batch.run_id == run_id
            batch.state = BatchState.running.value
            batch.run_id = run_id
            batch.heartbeat_at = now
            batch.started_at = batch.started_at or now
            batch.attempts = (batch.attempts or 0) + 1
            batch.worker = worker
            if not resumed:  # the same run starting again changes no state
                s.flush()
                self._event(s, batch_event(EventType.batch_running, batch_id,
                                           attempt=batch.attempts))
        return True

    def heartbeat(self, batch_id: str, run_id: str) -> bool:
        """Keep the lease; False when another run has taken the batch over."""
        with self.index.transaction(f"beat for batch {batch_id}", write=True) as s:
            res = s.execute(update(BatchRow).where(BatchRow.batch_id == batch_id,
                                                   BatchRow.run_id == run_id,
                                                   BatchRow.state == BatchState.running.value)
                            .values(heartbeat_at=utcnow()))
            return bool(getattr(res, "rowcount", 0))

    def take_over_stale(self, older_than: timedelta) -> list[tuple[str, str | None]]:
        """Batches that need a new run: running ones whose heartbeat stopped (their worker
        died), and queued ones never handed to Prefect. Each is handed to exactly one caller,
        with the id of the run it replaces; the caller must submit it again."""
        cutoff = utcnow() - older_than
        stalled = ((BatchRow.state == BatchState.running.value)
                   & (BatchRow.heartbeat_at < cutoff))
        unsent = ((BatchRow.state == BatchState.queued.value) & BatchRow.run_id.is_(None)
                  & (func.coalesce(BatchRow.heartbeat_at, BatchRow.created_at) < cutoff))
        taken: list[tuple[str, str | None]] = []
        with self.index.transaction("look for stalled batches") as s:
            rows = s.execute(select(BatchRow.batch_id, BatchRow.run_id)
                             .where(stalled | unsent)).all()
        for batch_id, old_run in rows:
            with self.index.transaction(f"take over batch {batch_id}", write=True) as s:
                row = s.scalars(select(BatchRow).where(BatchRow.batch_id == batch_id,
                                                       stalled | unsent)
                                .with_for_update()).first()
                if row is None:
                    continue
                was = row.state
                row.state, row.run_id, row.heartbeat_at = (BatchState.queued.value, None,
                                                           utcnow())
                if was != BatchState.queued.value:
                    s.flush()
                    self._event(s, batch_event(EventType.batch_queued, batch_id,
                                               attempts=row.attempts or 0, taken_over=True))
                taken.append((batch_id, old_run))
        return taken

    def waiting(self, older_than: timedelta) -> list[tuple[str, str]]:
        """Queued batches handed to Prefect more than ``older_than`` ago, with their run id:
        the caller asks Prefect whether that run is still coming."""
        cutoff = utcnow() - older_than
        with self.index.transaction("list waiting batches") as s:
            rows = s.execute(select(BatchRow.batch_id, BatchRow.run_id).where(
                BatchRow.state == BatchState.queued.value, BatchRow.run_id.is_not(None),
                BatchRow.heartbeat_at < cutoff)).all()
        return [(b, r) for b, r in rows if r is not None]

    def release(self, batch_id: str, run_id: str) -> bool:
        """Forget the queued batch's run ``run_id`` (it will never run); True for exactly one
        caller, which must submit the batch again."""
        with self.index.transaction(f"release batch {batch_id}", write=True) as s:
            res = s.execute(update(BatchRow).where(
                BatchRow.batch_id == batch_id, BatchRow.run_id == run_id,
                BatchRow.state == BatchState.queued.value)
                .values(run_id=None, heartbeat_at=utcnow()))
            return bool(getattr(res, "rowcount", 0))

    def finish(self, batch_id: str, run_id: str) -> None:
        with self.index.transaction(f"finish batch {batch_id}", write=True) as s:
            batch = s.get(BatchRow, batch_id, with_for_update=True)
            if batch is None or batch.run_id != run_id:
                return
            was = batch.state
            batch.state, batch.finished_at = BatchState.finished.value, utcnow()
            if was != BatchState.finished.value:
                stages = s.execute(select(BatchFileRow.stage, func.count()).where(
                    BatchFileRow.batch_id == batch_id, BatchFileRow.replaced_by.is_(None))
                    .group_by(BatchFileRow.stage)).all()
                s.flush()
                self._event(s, batch_event(EventType.batch_finished, batch_id,
                                           attempts=batch.attempts or 0,
                                           files={str(k): int(n) for k, n in stages}))

    # -- progress ----------------------------------------------------------------------------

    def set_file(self, batch_id: str, file_no: int, stage: Stage, *, pages: int | None = None,
                 problem: FileProblem | None = None, record_ids: Sequence[str] | None = None
                 ) -> None:
        values: dict[str, Any] = {"stage": stage.value, "updated_at": utcnow()}
        if pages is not None:
            values["pages"] = pages
        if stage == Stage.failed and problem is not None:
            values.update(error=problem.message, error_kind=problem.kind, hint=problem.hint)
        elif stage != Stage.failed:
            values.update(error=None, error_kind=None, hint=None)
        if record_ids is not None:
            values["record_ids"] = list(record_ids)
        with self.index.transaction(f"update file {file_no} of batch {batch_id}", write=True) as s:
            s.execute(update(BatchFileRow).where(BatchFileRow.batch_id == batch_id,
                                                 BatchFileRow.file_no == file_no)
                      .values(**values))

    def set_pages(self, batch_id: str, file_no: int, pages: Sequence[int], stage: Stage,
                  error: str | None = None) -> None:
        """Put pages of a file at ``stage`` (rows are created the first time)."""
        if not pages:
            return
        now = utcnow()
        reading = int(stage == Stage.reading)
        with self.index.transaction(f"update pages of batch {batch_id}", write=True) as s:
            for p in pages:
                stmt = self.index.insert(BatchPageRow).values(batch_id=batch_id, file_no=file_no,
                                                source_page=p, stage=stage.value, error=error,
                                                reads=reading, updated_at=now)
                s.execute(stmt.on_conflict_do_update(
                    index_elements=[BatchPageRow.batch_id, BatchPageRow.file_no,
                                    BatchPageRow.source_page],
                    set_={"stage": stage.value, "error": error, "updated_at": now,
                          "reads": BatchPageRow.reads + reading}))

    # -- reading -----------------------------------------------------------------------------

    def status(self, batch_id: str) -> BatchStatus:
        with self.index.transaction(f"read batch {batch_id}") as s:
            b = s.get(BatchRow, batch_id)
            if b is None:
                raise NotFoundError(f"no batch {batch_id}")
            files = s.scalars(select(BatchFileRow).where(BatchFileRow.batch_id == batch_id)
                              .order_by(BatchFileRow.file_no)).all()
            pages = s.scalars(select(BatchPageRow).where(BatchPageRow.batch_id == batch_id)
                              .order_by(BatchPageRow.file_no, BatchPageRow.source_page)).all()
            ids = sorted({r for f in files for r in (f.record_ids or [])})
            recs = {r.record_id: r for r in s.scalars(
                select(RecordRow).where(RecordRow.record_id.in_(ids)))} if ids else {}
        by_file: dict[int, list[PageState]] = {}
        for p in pages:
            by_file.setdefault(p.file_no, []).append(PageState(
                file_no=p.file_no, source_page=p.source_page, stage=Stage(p.stage),
                error=p.error, reads=p.reads or 0, updated_at=p.updated_at))
        views = [FileStatusView(
            file_no=f.file_no, dossier=f.dossier, dossier_id=f.dossier_id, name=f.name,
            sha256=f.sha256, size=f.size, stage=Stage(f.stage), error=f.error,
            error_kind=f.error_kind, hint=f.hint, pages=by_file.get(f.file_no, []),
            records=[RecordState(record_id=r, doctype=recs[r].doctype, status=recs[r].status)
                     for r in (f.record_ids or []) if r in recs],
            replaced_by=f.replaced_by) for f in files]
        return BatchStatus(batch_id=b.batch_id, station=b.station, operator=b.operator,
                           state=BatchState(b.state), created_at=b.created_at,
                           started_at=b.started_at, finished_at=b.finished_at,
                           attempts=b.attempts or 0, worker=b.worker, files=views)

    def dossier_records(self, dossier_id: str) -> list[IndexEntry]:
        """The index entries of a dossier's records, in order; for a scanned stack cut by
        separator sheets, those of every dossier cut from it (``<id>.1``, ``<id>.2``...)."""
        with self.index.transaction(f"list records of dossier {dossier_id}") as s:
            rows = s.scalars(select(RecordRow).where(or_(
                RecordRow.dossier_id == dossier_id,
                RecordRow.dossier_id.startswith(f"{dossier_id}.", autoescape=True)))
                .order_by(RecordRow.record_id)).all()
            return entries(s, rows)

    def recent(self, station: str | None = None, limit: int = 20) -> list[BatchSummary]:
        """The newest batches (of one station, if given) with their outcome counts."""
        with self.index.transaction("list batches") as s:
            q = select(BatchRow).order_by(BatchRow.created_at.desc()).limit(limit)
            if station is not None:
                q = q.where(BatchRow.station == station)
            batches = s.scalars(q).all()
            ids = [b.batch_id for b in batches]
            files = s.scalars(select(BatchFileRow).where(BatchFileRow.batch_id.in_(ids),
                                                         BatchFileRow.replaced_by.is_(None))
                              ).all() if ids else []
        out = []
        for b in batches:
            mine = [f for f in files if f.batch_id == b.batch_id]
            out.append(BatchSummary(
                batch_id=b.batch_id, station=b.station, operator=b.operator,
                state=BatchState(b.state), created_at=b.created_at, finished_at=b.finished_at,
                files=len(mine), failed=sum(f.stage == Stage.failed.value for f in mine),
                needs_review=sum(f.stage == Stage.needs_review.value for f in mine)))
        return out
