"""The reform's indicators over a period: what was digitized where and when, how documents
settled (by the machine alone or after review) and how fast, the review backlog, how often a
procedure reused a record instead of asking the citizen again, and who read citizens' data.

Shares and rates are ``None`` when there is nothing to divide by (no documents, no lookups),
never a made-up zero."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

__all__ = ["StationDay", "DocumentOutcomes", "BacklogType", "Backlog", "Reuse",
           "AgencyReads", "MetricsSummary"]


class StationDay(BaseModel):
    """Dossiers and pages a station's uploads had digitized on one day (UTC)."""

    station: str = Field(description="the scanning station; '-' when none was named")
    day: date
    dossiers: int = Field(description="dossiers with at least one file digitized that day")
    pages: int = Field(description="pages of the files digitized that day")


class DocumentOutcomes(BaseModel):
    """Documents (records) created in the period, by how they stand now."""

    documents: int
    settled_by_machine: int = Field(description="every field accepted by the machine: no "
                                                "person looked at it")
    settled_after_review: int = Field(description="a person verified it")
    waiting_review: int = Field(description="needs a person (held in review included)")
    rejected: int
    machine_share: float | None = Field(description="settled_by_machine / documents")
    review_share: float | None = Field(description="settled_after_review / documents")
    median_upload_to_settled_seconds: float | None = Field(
        description="from the batch's upload to the record settling (created for the "
                    "machine's, verified for reviewed ones), median over settled records")


class BacklogType(BaseModel):
    doctype: str
    documents: int
    oldest_seconds: float | None


class Backlog(BaseModel):
    """Documents waiting for review now, and how long the oldest has waited."""

    documents: int
    oldest_seconds: float | None
    by_doctype: list[BacklogType]


class Reuse(BaseModel):
    """How often data given once was used again, from the access log.

    A procedure at the counter is a citizen looked up for a procedure code on a day; it
    reused a record when staff recorded "reused for" that procedure for that citizen that
    day. A lookup (``/v1`` or the counter) found one when it returned a settled record."""

    procedures: int
    procedures_reusing: int
    reuse_rate: float | None = Field(description="procedures_reusing / procedures")
    records_reused: int = Field(description="records named by the reuses")
    lookups: int
    lookups_found: int
    lookup_hit_rate: float | None = Field(description="lookups_found / lookups")


class AgencyReads(BaseModel):
    agency: str = Field(description="the key's agency, the counter's station; '-' if none")
    reads: int
    by_action: dict[str, int]


class MetricsSummary(BaseModel):
    """``GET /v1/metrics/summary``."""

    since: datetime
    until: datetime
    digitized: list[StationDay]
    dossiers: int
    pages: int
    documents: DocumentOutcomes
    backlog: Backlog
    reuse: Reuse
    reads_by_agency: list[AgencyReads]
