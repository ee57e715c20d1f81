"""The reform's indicators, computed from the index when asked: the batch ledger (what was
digitized, where, when, and how long batches waited and ran), the records (how they settled),
and the access log (lookups, reuse at the counter, reads per agency).

Everything is read from the shared index, so the numbers count the work of every process and
machine (web replicas, workers) alike; nothing is kept in a process's memory. Sums over
whole tables are done by the database (``GROUP BY``); only a period's rows are read here.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, select

from models.access import AccessAction
from models.batches import FINAL_STAGES, BatchState, Stage
from models.indicators import (
    AgencyReads,
    Backlog,
    BacklogType,
    DocumentOutcomes,
    MetricsSummary,
    Reuse,
    StationDay,
)
from models.records import RecordStatus, utcnow
from storage.access import AccessRow
from storage.batches import BatchFileRow, BatchPageRow, BatchRow
from storage.index import RecordIndex, RecordRow

__all__ = ["summary", "Totals", "totals", "DIGITIZED_STAGES", "NO_STATION"]

# A file is digitized once its records exist: done, or done and waiting for a person.
DIGITIZED_STAGES = (Stage.done.value, Stage.needs_review.value)
NO_STATION = "-"
_LOOKUPS = (AccessAction.citizen_lookup.value, AccessAction.counter_lookup.value)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _seconds(index: RecordIndex, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in seconds, as SQL for the index's backend."""
    if index.backend == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


# -- the summary ---------------------------------------------------------------------------

def digitized(index: RecordIndex, since: datetime, until: datetime) -> list[StationDay]:
    """Per station and day: dossiers and pages of files digitized in [since, until)."""
    stmt = (select(BatchRow.station, BatchFileRow.dossier_id, BatchFileRow.pages,
                   BatchFileRow.updated_at)
            .join(BatchRow, BatchRow.batch_id == BatchFileRow.batch_id)
            .where(BatchFileRow.stage.in_(DIGITIZED_STAGES),
                   BatchFileRow.replaced_by.is_(None),
                   BatchFileRow.updated_at >= since, BatchFileRow.updated_at < until))
    dossiers: dict[tuple[str, date], set[str]] = defaultdict(set)
    pages: Counter[tuple[str, date]] = Counter()
    with index._session("count what was digitized") as s:
        for station, dossier_id, n, at in s.execute(stmt):
            k = (station or NO_STATION, at.date())
            dossiers[k].add(dossier_id)
            pages[k] += int(n or 0)
    return [StationDay(station=k[0], day=k[1], dossiers=len(dossiers[k]), pages=pages[k])
            for k in sorted(dossiers, key=lambda k: (k[1], k[0]))]


def document_outcomes(index: RecordIndex, since: datetime, until: datetime
                      ) -> DocumentOutcomes:
    """How the documents created in the period stand, and how fast they settled."""
    in_period = (RecordRow.created_at >= since) & (RecordRow.created_at < until)
    counts: Counter[str] = Counter()
    waits: list[float] = []
    with index._session("count how documents settled") as s:
        for status, settled, n in s.execute(
                select(RecordRow.status, RecordRow.settled, func.count())
                .where(in_period).group_by(RecordRow.status, RecordRow.settled)):
            counts["documents"] += int(n)
            if status == RecordStatus.extracted.value and settled:
                counts["machine"] += int(n)
            elif status == RecordStatus.verified.value:
                counts["review"] += int(n)
            elif status in (RecordStatus.needs_review.value, RecordStatus.in_review.value):
                counts["waiting"] += int(n)
            elif status == RecordStatus.rejected.value:
                counts["rejected"] += int(n)
        stmt = (select(RecordRow.status, RecordRow.created_at, RecordRow.reviewed_at,
                       BatchRow.created_at)
                .join(BatchRow, BatchRow.batch_id == RecordRow.batch_id)
                .where(in_period, RecordRow.settled.is_(True),
                       RecordRow.status.in_([RecordStatus.extracted.value,
                                             RecordStatus.verified.value])))
        for status, created, reviewed, uploaded in s.execute(stmt):
            done = reviewed if status == RecordStatus.verified.value and reviewed else created
            waits.append(max(0.0, (done - uploaded).total_seconds()))
    docs = counts["documents"]
    return DocumentOutcomes(
        documents=docs, settled_by_machine=counts["machine"],
        settled_after_review=counts["review"], waiting_review=counts["waiting"],
        rejected=counts["rejected"], machine_share=_share(counts["machine"], docs),
        review_share=_share(counts["review"], docs),
        median_upload_to_settled_seconds=round(statistics.median(waits), 1) if waits else None)


def backlog(index: RecordIndex, now: datetime | None = None) -> Backlog:
    """Documents waiting for review now (held ones included) and the oldest one's age."""
    now = now or utcnow()
    rows = [BacklogType(doctype=d, documents=n,
                        oldest_seconds=round((now - oldest).total_seconds(), 1)
                        if oldest else None)
            for d, n, oldest in index.backlog()]
    ages = [r.oldest_seconds for r in rows if r.oldest_seconds is not None]
    return Backlog(documents=sum(r.documents for r in rows),
                   oldest_seconds=max(ages) if ages else None, by_doctype=rows)


def _access_rows(index: RecordIndex, since: datetime, until: datetime,
                 actions: Iterable[str]) -> list[Any]:
    stmt = (select(AccessRow.action, AccessRow.key_id, AccessRow.purpose_code, AccessRow.at,
                   AccessRow.record_ids, AccessRow.citizen_ids)
            .where(AccessRow.at >= since, AccessRow.at < until,
                   AccessRow.action.in_(list(actions)))
            .order_by(AccessRow.seq))
    with index._session("read lookups and reuses") as s:
        return list(s.execute(stmt))


def reuse(index: RecordIndex, since: datetime, until: datetime) -> Reuse:
    """Reuse at the counter and lookups that found a record, from the access log.

    A procedure is a counter lookup: one person, one procedure code, one day, one set of
    citizens shown (looking the same citizen up again for it is the same procedure). It
    reused a record when the same person recorded a reuse for that code that day naming a
    record the lookup showed."""
    rows = _access_rows(index, since, until, (*_LOOKUPS, AccessAction.reuse.value))
    procedures: dict[tuple[str, str, date, tuple[str, ...]], set[str]] = {}
    reuses: dict[tuple[str, str, date], set[str]] = defaultdict(set)
    lookups = found = 0
    records_reused: set[str] = set()
    for action, key_id, code, at, record_ids, citizen_ids in rows:
        record_ids = list(record_ids or [])
        if action in _LOOKUPS:
            lookups += 1
            found += bool(record_ids)
        if action == AccessAction.counter_lookup.value:
            k = (key_id, code, at.date(), tuple(sorted(citizen_ids or [])))
            procedures.setdefault(k, set()).update(record_ids)
        elif action == AccessAction.reuse.value:
            reuses[(key_id, code, at.date())].update(record_ids)
            records_reused.update(record_ids)
    reusing = sum(1 for (key_id, code, day, _), shown in procedures.items()
                  if shown & reuses.get((key_id, code, day), set()))
    return Reuse(procedures=len(procedures), procedures_reusing=reusing,
                 reuse_rate=_share(reusing, len(procedures)),
                 records_reused=len(records_reused), lookups=lookups, lookups_found=found,
                 lookup_hit_rate=_share(found, lookups))


def reads_by_agency(index: RecordIndex, since: datetime, until: datetime
                    ) -> list[AgencyReads]:
    stmt = (select(AccessRow.agency, AccessRow.action, func.count())
            .where(AccessRow.at >= since, AccessRow.at < until)
            .group_by(AccessRow.agency, AccessRow.action))
    by: dict[str, dict[str, int]] = defaultdict(dict)
    with index._session("count reads per agency") as s:
        for agency, action, n in s.execute(stmt):
            by[agency or NO_STATION][action] = int(n)
    out = [AgencyReads(agency=a, reads=sum(acts.values()), by_action=dict(sorted(acts.items())))
           for a, acts in by.items()]
    return sorted(out, key=lambda r: (-r.reads, r.agency))


def summary(index: RecordIndex, since: datetime, until: datetime | None = None
            ) -> MetricsSummary:
    """Every indicator over [since, until) (until: now); the backlog as it stands now."""
    until = until or utcnow()
    days = digitized(index, since, until)
    return MetricsSummary(
        since=since, until=until, digitized=days,
        dossiers=sum(d.dossiers for d in days), pages=sum(d.pages for d in days),
        documents=document_outcomes(index, since, until), backlog=backlog(index),
        reuse=reuse(index, since, until), reads_by_agency=reads_by_agency(index, since, until))


# -- totals for Prometheus -----------------------------------------------------------------

@dataclass
class Totals:
    """Counts since the beginning and gauges as they stand, for one scrape."""

    pages: dict[tuple[str, str], int] = field(default_factory=dict)  # (station, stage)
    files_failed: dict[tuple[str, str], int] = field(default_factory=dict)  # (station, kind)
    pages_pending: dict[str, int] = field(default_factory=dict)  # stage
    batches: dict[str, int] = field(default_factory=dict)  # state
    batch_seconds: dict[str, tuple[int, float]] = field(default_factory=dict)  # phase
    records: dict[str, int] = field(default_factory=dict)  # status
    backlog: Backlog | None = None
    reads: dict[tuple[str, str], int] = field(default_factory=dict)  # (agency, action)


def totals(index: RecordIndex) -> Totals:
    """Everything Prometheus is given, in a handful of grouped queries."""
    out = Totals(batches={s.value: 0 for s in BatchState})
    final = [s.value for s in FINAL_STAGES]
    station = func.coalesce(BatchRow.station, literal(NO_STATION))
    with index._session("measure the pipeline") as s:
        for st, stage, n in s.execute(
                select(station, BatchPageRow.stage, func.count())
                .join(BatchRow, BatchRow.batch_id == BatchPageRow.batch_id)
                .group_by(station, BatchPageRow.stage)):
            if stage in final:
                out.pages[(st, stage)] = int(n)
            else:
                out.pages_pending[stage] = out.pages_pending.get(stage, 0) + int(n)
        for st, kind, n in s.execute(
                select(station, func.coalesce(BatchFileRow.error_kind, literal("unknown")),
                       func.count())
                .join(BatchRow, BatchRow.batch_id == BatchFileRow.batch_id)
                .where(BatchFileRow.stage == Stage.failed.value)
                .group_by(station, BatchFileRow.error_kind)):
            out.files_failed[(st, kind)] = out.files_failed.get((st, kind), 0) + int(n)
        for state, n in s.execute(select(BatchRow.state, func.count())
                                  .group_by(BatchRow.state)):
            out.batches[state] = int(n)
        # A batch's time waiting for a worker and its time running, from the ledger's own
        # timestamps (whichever process wrote them).
        for phase, later, earlier in (("queued", BatchRow.started_at, BatchRow.created_at),
                                      ("running", BatchRow.finished_at, BatchRow.started_at)):
            n, total = s.execute(
                select(func.count(), func.sum(_seconds(index, later, earlier)))
                .where(later.is_not(None), earlier.is_not(None), later >= earlier)).one()
            out.batch_seconds[phase] = (int(n or 0), float(total or 0.0))
        for status, n in s.execute(select(RecordRow.status, func.count())
                                   .group_by(RecordRow.status)):
            out.records[status] = int(n)
        agency = func.coalesce(AccessRow.agency, literal(NO_STATION))
        for a, action, n in s.execute(select(agency, AccessRow.action, func.count())
                                      .group_by(agency, AccessRow.action)):
            out.reads[(a, action)] = int(n)
    out.backlog = backlog(index)
    return out


def period(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last ``days`` whole UTC days up to now: (midnight ``days - 1`` days ago, now)."""
    now = now or utcnow()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    return start, now
