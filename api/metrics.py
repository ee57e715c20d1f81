"""The reform's indicators for machines: ``GET /v1/metrics/summary`` (JSON over a period) and
``GET /metrics`` (Prometheus' text format), both for keys with the ``metrics:read`` scope.

``/metrics`` is computed when scraped, from the shared index, by a custom collector: every
web process and worker writes its progress to the index, so any replica answers for all of
them, and a process that restarts loses nothing (its first scrape counts the whole ledger,
later ones only what changed since ten minutes before the last: see
:class:`storage.indicators.CounterCache`). Series, named by Prometheus' conventions:

- ``dossier_pages_total{station,stage}``: pages that reached a final stage (done,
  needs_review, duplicate, failed), counted since the beginning;
- ``dossier_files_failed_total{station,kind}``: files that failed, by error kind;
- ``dossier_queue_pages{stage}``: pages not finished yet (queued, reading, extracting);
- ``dossier_batches{state}``: batches queued, running and finished;
- ``dossier_batch_phase_seconds{phase}``: a summary (``_count``, ``_sum``) of the time
  batches waited for a worker (``queued``) and ran (``running``), from the ledger's
  timestamps; a page's own OCR and extraction times are not kept across processes, so
  there is no per-page stage series;
- ``dossier_records{status}``, ``dossier_review_backlog_documents{doctype}``,
  ``dossier_review_backlog_oldest_seconds{doctype}``;
- ``dossier_access_reads_total{agency,action}``: reads of citizen data, reuse at the
  counter (``action="reuse"``) included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from api.auth import METRICS_READ, require_scope
from api.schema import INSTANT_RE, errors, instant
from models.indicators import MetricsSummary
from models.records import ApiKeyInfo
from storage import indicators
from storage.index import RecordIndex

__all__ = ["router", "IndexCollector", "registry_for"]

router = APIRouter(tags=["metrics"])
Reader = Annotated[ApiKeyInfo, Depends(require_scope(METRICS_READ))]
MAX_DAYS = 366


class IndexCollector(Collector):
    """The pipeline's series, read from the index at each scrape."""

    def __init__(self, index: RecordIndex) -> None:
        self.index = index
        self.cache = indicators.CounterCache()

    def collect(self) -> Iterator[Metric]:
        t = indicators.totals(self.index, self.cache)
        pages = CounterMetricFamily("dossier_pages", "Pages that reached a final stage",
                                    labels=["station", "stage"])
        for (station, stage), n in sorted(t.pages.items()):
            pages.add_metric([station, stage], n)
        yield pages
        failed = CounterMetricFamily("dossier_files_failed", "Files that failed, by error kind",
                                     labels=["station", "kind"])
        for (station, kind), n in sorted(t.files_failed.items()):
            failed.add_metric([station, kind], n)
        yield failed
        queue = GaugeMetricFamily("dossier_queue_pages", "Pages not finished yet, by stage",
                                  labels=["stage"])
        for stage in ("queued", "reading", "extracting"):
            queue.add_metric([stage], t.pages_pending.get(stage, 0))
        yield queue
        batches = GaugeMetricFamily("dossier_batches", "Batches by state", labels=["state"])
        for state, n in sorted(t.batches.items()):
            batches.add_metric([state], n)
        yield batches
        phases = SummaryMetricFamily("dossier_batch_phase_seconds",
                                     "Time batches waited for a worker (queued) and ran "
                                     "(running)", labels=["phase"])
        for phase, (n, total) in sorted(t.batch_seconds.items()):
            phases.add_metric([phase], count_value=n, sum_value=total)
        yield phases
        records = GaugeMetricFamily("dossier_records", "Records in the index, by status",
                                    labels=["status"])
        for status, n in sorted(t.records.items()):
            records.add_metric([status], n)
        yield records
        waiting = GaugeMetricFamily("dossier_review_backlog_documents",
                                    "Documents waiting for review", labels=["doctype"])
        oldest = GaugeMetricFamily("dossier_review_backlog_oldest_seconds",
                                   "Age of the oldest document waiting for review",
                                   labels=["doctype"])
        for b in t.backlog.by_doctype if t.backlog else []:
            waiting.add_metric([b.doctype], b.documents)
            if b.oldest_seconds is not None:
                oldest.add_metric([b.doctype], b.oldest_seconds)
        yield waiting
        yield oldest
        reads = CounterMetricFamily("dossier_access_reads",
                                    "Reads of citizen data, by agency and action",
                                    labels=["agency", "action"])
        for (agency, action), n in sorted(t.reads.items()):
            reads.add_metric([agency, action], n)
        yield reads


def registry_for(index: RecordIndex) -> CollectorRegistry:
    """A registry of the pipeline's series alone (not this process's own: a replica's
    memory or CPU is not the pipeline's, and the series must agree across replicas)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(IndexCollector(index))
    return registry


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                             "description": "Prometheus' text exposition format"},
                       **errors()})
async def prometheus_metrics(request: Request, _key: Reader) -> Response:
    """The pipeline's series for Prometheus (``Authorization: Bearer KEY``, scope
    ``metrics:read``), computed from the index at each scrape."""
    registry = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = request.app.state.metrics_registry = registry_for(request.app.state.index)
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)




@router.get("/v1/metrics/summary", response_model=MetricsSummary, responses=errors())
def metrics_summary(
        request: Request, _key: Reader,
        days: Annotated[int, Query(ge=1, le=MAX_DAYS,
                                   description="the last N days (UTC), today included")] = 30,
        since: Annotated[str | None, Query(
            description="the period's start (ISO date or time); overrides days",
            pattern=INSTANT_RE)] = None,
        until: Annotated[str | None, Query(
            description="the period's end, excluded (ISO date or time); default: now",
            pattern=INSTANT_RE)] = None,
) -> MetricsSummary:
    """The reform's indicators over a period: dossiers and pages digitized per station and
    day, documents settled by the machine alone or after review and the median time from
    upload to settled, the review backlog now, the reuse rate at the counter and the share
    of lookups that found a record, and reads of citizen data per agency."""
    start, end = indicators.period(days)
    start = instant(since, "since") or start
    end = instant(until, "until") or end
    end = max(end, start)  # until before since: the empty period, nothing in it
    return indicators.summary(request.app.state.index, start, end)
