"""The reform's indicators, computed from the index when asked: the batch ledger (what was
digitized, where, when, and how long batches waited and ran), the records (how they settled),
and the access log (lookups, reuse at the counter, reads per agency).

Everything is read from the shared index, so the numbers count the work of every process and
machine (web replicas, workers) alike. The database sums (``GROUP BY`` over a period, by the
time indexes of migration 0010); only the counter's own lookups and reuses (people's pace)
are matched here.

Prometheus' counters (:func:`totals`) grow with the ledger and the access log, so a process
keeps a :class:`CounterCache`: what lies before a horizon ten minutes back is counted once
and added to as the horizon moves, and only the rows since are counted at each scrape.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, distinct, func, literal, select

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
from storage.db.projection import RecordRow
from storage.index import RecordIndex

__all__ = ["summary", "Totals", "totals", "CounterCache", "period", "DIGITIZED_STAGES",
           "NO_STATION", "HORIZON_LAG"]

# A file is digitized once its records exist: done, or done and waiting for a person.
DIGITIZED_STAGES = (Stage.done.value, Stage.needs_review.value)
NO_STATION = "-"
_LOOKUPS = (AccessAction.citizen_lookup.value, AccessAction.counter_lookup.value)
_COUNTER = (AccessAction.counter_lookup.value, AccessAction.reuse.value)
# Rows older than this are taken to be final: no transaction stays open that long, so no row
# stamped before the horizon commits after it has passed.
HORIZON_LAG = timedelta(minutes=10)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _seconds(index: RecordIndex, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in seconds, as SQL for the index's backend."""
    if index.backend == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _day(index: RecordIndex, column: Any) -> Any:
    """The UTC day of a time, as SQL (SQLite keeps UTC times as text)."""
    if index.backend == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _nonempty(index: RecordIndex, column: Any) -> Any:
    length = (func.jsonb_array_length if index.backend == "postgresql"
              else func.json_array_length)
    return func.coalesce(length(column), 0) > 0


# -- the summary ---------------------------------------------------------------------------

def digitized(index: RecordIndex, since: datetime, until: datetime) -> list[StationDay]:
    """Per station and day: dossiers and pages of files digitized in [since, until)."""
    station = func.coalesce(BatchRow.station, literal(NO_STATION))
    day = _day(index, BatchFileRow.updated_at)
    stmt = (select(station, day, func.count(distinct(BatchFileRow.dossier_id)),
                   func.sum(BatchFileRow.pages))
            .join(BatchRow, BatchRow.batch_id == BatchFileRow.batch_id)
            .where(BatchFileRow.updated_at >= since, BatchFileRow.updated_at < until,
                   BatchFileRow.stage.in_(DIGITIZED_STAGES),
                   BatchFileRow.replaced_by.is_(None))
            .group_by(station, day))
    with index.transaction("count what was digitized") as s:
        rows = [StationDay(station=st, day=_as_date(d), dossiers=int(n), pages=int(p or 0))
                for st, d, n, p in s.execute(stmt)]
    return sorted(rows, key=lambda r: (r.day, r.station))


def _median_wait(index: RecordIndex, s: Any, where: list[Any]) -> float | None:
    """The median of upload-to-settled seconds over the settled records ``where`` selects:
    settled when made (the machine's), or when a person verified them."""
    done = case((RecordRow.status == RecordStatus.verified.value, RecordRow.reviewed_at),
                else_=RecordRow.created_at)
    wait = _seconds(index, done, BatchRow.created_at)
    base = (select(wait).select_from(RecordRow)
            .join(BatchRow, BatchRow.batch_id == RecordRow.batch_id).where(*where))
    if index.backend == "postgresql":
        value = s.execute(select(func.percentile_cont(0.5).within_group(wait))
                          .select_from(RecordRow)
                          .join(BatchRow, BatchRow.batch_id == RecordRow.batch_id)
                          .where(*where)).scalar()
        return None if value is None else max(0.0, float(value))
    n = int(s.execute(select(func.count()).select_from(base.subquery())).scalar() or 0)
    if not n:
        return None
    middle = [float(v) for v in s.scalars(base.order_by(wait).offset((n - 1) // 2)
                                          .limit(2 - n % 2))]
    return max(0.0, sum(middle) / len(middle))


def document_outcomes(index: RecordIndex, since: datetime, until: datetime
                      ) -> DocumentOutcomes:
    """How the documents created in the period stand, and how fast they settled."""
    in_period = [RecordRow.created_at >= since, RecordRow.created_at < until]
    counts: Counter[str] = Counter()
    with index.transaction("count how documents settled") as s:
        for status, settled, n in s.execute(
                select(RecordRow.status, RecordRow.settled, func.count())
                .where(*in_period).group_by(RecordRow.status, RecordRow.settled)):
            counts["documents"] += int(n)
            if status == RecordStatus.extracted.value and settled:
                counts["machine"] += int(n)
            elif status == RecordStatus.verified.value:
                counts["review"] += int(n)
            elif status in (RecordStatus.needs_review.value, RecordStatus.in_review.value):
                counts["waiting"] += int(n)
            elif status == RecordStatus.rejected.value:
                counts["rejected"] += int(n)
        median = _median_wait(index, s, [
            *in_period, RecordRow.settled.is_(True),
            RecordRow.status.in_([RecordStatus.extracted.value, RecordStatus.verified.value]),
            (RecordRow.status != RecordStatus.verified.value)
            | RecordRow.reviewed_at.is_not(None)])
    docs = counts["documents"]
    return DocumentOutcomes(
        documents=docs, settled_by_machine=counts["machine"],
        settled_after_review=counts["review"], waiting_review=counts["waiting"],
        rejected=counts["rejected"], machine_share=_share(counts["machine"], docs),
        review_share=_share(counts["review"], docs),
        median_upload_to_settled_seconds=None if median is None else round(median, 1))


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


def _access_counts(index: RecordIndex, since: datetime, until: datetime
                   ) -> dict[tuple[str, str, bool], int]:
    """Reads in [since, until) by (agency, action, whether they returned a record): one pass
    over the period for the lookups and the reads per agency alike."""
    found = _nonempty(index, AccessRow.record_ids)
    agency = func.coalesce(AccessRow.agency, literal(NO_STATION))
    out: Counter[tuple[str, str, bool]] = Counter()
    with index.transaction("count reads") as s:
        for a, action, hit, n in s.execute(
                select(agency, AccessRow.action, found, func.count())
                .where(AccessRow.at >= since, AccessRow.at < until)
                .group_by(agency, AccessRow.action, found)):
            out[(a, action, bool(hit))] += int(n)
    return out


def reuse(index: RecordIndex, since: datetime, until: datetime,
          counts: dict[tuple[str, str, bool], int] | None = None) -> Reuse:
    """Reuse at the counter and lookups that found a record, from the access log.

    A procedure is a counter lookup: one person, one procedure code, one day, one set of
    citizens shown (looking the same citizen up again for it is the same procedure). It
    reused a record when the same person recorded a reuse for that code that day naming a
    record the lookup showed."""
    counts = _access_counts(index, since, until) if counts is None else counts
    lookups = sum(n for (_, action, _), n in counts.items() if action in _LOOKUPS)
    found = sum(n for (_, action, hit), n in counts.items() if action in _LOOKUPS and hit)
    in_period = [AccessRow.at >= since, AccessRow.at < until]
    with index.transaction("read lookups and reuses") as s:
        rows = list(s.execute(
            select(AccessRow.action, AccessRow.key_id, AccessRow.purpose_code, AccessRow.at,
                   AccessRow.record_ids, AccessRow.citizen_ids)
            .where(*in_period, AccessRow.action.in_(_COUNTER)).order_by(AccessRow.seq)))
    procedures: dict[tuple[str, str, date, tuple[str, ...]], set[str]] = {}
    reuses: dict[tuple[str, str, date], set[str]] = defaultdict(set)
    records_reused: set[str] = set()
    for action, key_id, code, at, record_ids, citizen_ids in rows:
        shown = set(record_ids or [])
        if action == AccessAction.counter_lookup.value:
            k = (key_id, code, at.date(), tuple(sorted(citizen_ids or [])))
            procedures.setdefault(k, set()).update(shown)
        else:
            reuses[(key_id, code, at.date())].update(shown)
            records_reused.update(shown)
    reusing = sum(1 for (key_id, code, day, _), shown in procedures.items()
                  if shown & reuses.get((key_id, code, day), set()))
    return Reuse(procedures=len(procedures), procedures_reusing=reusing,
                 reuse_rate=_share(reusing, len(procedures)),
                 records_reused=len(records_reused), lookups=lookups, lookups_found=found,
                 lookup_hit_rate=_share(found, lookups))


def reads_by_agency(index: RecordIndex, since: datetime, until: datetime,
                    counts: dict[tuple[str, str, bool], int] | None = None
                    ) -> list[AgencyReads]:
    counts = _access_counts(index, since, until) if counts is None else counts
    by: dict[str, dict[str, int]] = defaultdict(dict)
    for (agency, action, _), n in counts.items():
        acts = by[agency]
        acts[action] = acts.get(action, 0) + n
    out = [AgencyReads(agency=a, reads=sum(acts.values()), by_action=dict(sorted(acts.items())))
           for a, acts in by.items()]
    return sorted(out, key=lambda r: (-r.reads, r.agency))


def summary(index: RecordIndex, since: datetime, until: datetime | None = None
            ) -> MetricsSummary:
    """Every indicator over [since, until) (until: now); the backlog as it stands now."""
    until = until or utcnow()
    days = digitized(index, since, until)
    reads = _access_counts(index, since, until)
    return MetricsSummary(
        since=since, until=until, digitized=days,
        dossiers=sum(d.dossiers for d in days), pages=sum(d.pages for d in days),
        documents=document_outcomes(index, since, until), backlog=backlog(index),
        reuse=reuse(index, since, until, reads),
        reads_by_agency=reads_by_agency(index, since, until, reads))


def period(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last ``days`` whole UTC days up to now: (midnight ``days - 1`` days ago, now)."""
    now = now or utcnow()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    return start, now


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


def _counters(index: RecordIndex, s: Any, lo: datetime | None, hi: datetime | None
              ) -> tuple[Counter[tuple[str, str]], ...]:
    """Pages by (station, final stage), failed files by (station, kind) and reads by
    (agency, action) whose time lies in [lo, hi) (an open end: unbounded)."""

    def within(column: Any) -> list[Any]:
        return ([column >= lo] if lo is not None else []) + \
            ([column < hi] if hi is not None else [])

    station = func.coalesce(BatchRow.station, literal(NO_STATION))
    pages: Counter[tuple[str, str]] = Counter()
    for st, stage, n in s.execute(
            select(station, BatchPageRow.stage, func.count())
            .join(BatchRow, BatchRow.batch_id == BatchPageRow.batch_id)
            .where(BatchPageRow.stage.in_([x.value for x in FINAL_STAGES]),
                   *within(BatchPageRow.updated_at))
            .group_by(station, BatchPageRow.stage)):
        pages[(st, stage)] += int(n)
    failed: Counter[tuple[str, str]] = Counter()
    kind = func.coalesce(BatchFileRow.error_kind, literal("unknown"))
    for st, k, n in s.execute(
            select(station, kind, func.count())
            .join(BatchRow, BatchRow.batch_id == BatchFileRow.batch_id)
            .where(BatchFileRow.stage == Stage.failed.value, *within(BatchFileRow.updated_at))
            .group_by(station, kind)):
        failed[(st, k)] += int(n)
    reads: Counter[tuple[str, str]] = Counter()
    agency = func.coalesce(AccessRow.agency, literal(NO_STATION))
    for a, action, n in s.execute(select(agency, AccessRow.action, func.count())
                                  .where(*within(AccessRow.at))
                                  .group_by(agency, AccessRow.action)):
        reads[(a, action)] += int(n)
    return pages, failed, reads


class CounterCache:
    """One process's counts of what lies before its horizon; see the module's note."""

    def __init__(self, lag: timedelta = HORIZON_LAG) -> None:
        self.lag = lag
        self.horizon: datetime | None = None
        self.before: tuple[Counter[tuple[str, str]], ...] = (Counter(), Counter(), Counter())
        self.lock = threading.Lock()

    def counters(self, index: RecordIndex, s: Any) -> tuple[Counter[tuple[str, str]], ...]:
        with self.lock:
            horizon = utcnow() - self.lag
            if self.horizon is None or horizon > self.horizon:
                moved = _counters(index, s, self.horizon, horizon)
                self.before = tuple(a + b for a, b in zip(self.before, moved, strict=True))
                self.horizon = horizon
            since = _counters(index, s, self.horizon, None)
            return tuple(a + b for a, b in zip(self.before, since, strict=True))


def totals(index: RecordIndex, cache: CounterCache | None = None) -> Totals:
    """Everything Prometheus is given, in a handful of grouped queries."""
    out = Totals(batches={x.value: 0 for x in BatchState})
    with index.transaction("measure the pipeline") as s:
        pages, failed, reads = (cache.counters(index, s) if cache is not None
                                else _counters(index, s, None, None))
        out.pages, out.files_failed, out.reads = dict(pages), dict(failed), dict(reads)
        # Pages not finished belong to batches not finished (few, found by the state index).
        for stage, n in s.execute(
                select(BatchPageRow.stage, func.count())
                .join(BatchRow, BatchRow.batch_id == BatchPageRow.batch_id)
                .where(BatchRow.state != BatchState.finished.value,
                       BatchPageRow.stage.not_in([x.value for x in FINAL_STAGES]))
                .group_by(BatchPageRow.stage)):
            out.pages_pending[stage] = int(n)
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
    out.backlog = backlog(index)
    return out
