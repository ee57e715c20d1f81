"""Review metrics from the audit trail: per reviewer and per document type, documents per
active hour, active time per document (gaps over a few idle minutes excluded), the share of
fields a person had to change, and the backlog with its age."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from models.records import AuditAction, AuditEvent, utcnow
from storage.index import RecordIndex

__all__ = ["IDLE_GAP", "GroupStats", "BacklogRow", "ReviewStats", "review_stats",
           "compute_stats"]

# A pause longer than this between two actions on one document is not work on it.
IDLE_GAP = timedelta(minutes=3)
_FIELD_ACTIONS = {AuditAction.confirmed, AuditAction.corrected, AuditAction.not_on_document}
_FINISH = {AuditAction.verified, AuditAction.rejected}


class GroupStats(BaseModel):
    key: str
    documents: int = 0  # approved or rejected
    active_seconds: float = 0.0
    fields_decided: int = 0
    fields_corrected: int = 0

    @property
    def documents_per_hour(self) -> float:
        return self.documents / (self.active_seconds / 3600) if self.active_seconds else 0.0

    @property
    def seconds_per_document(self) -> float:
        return self.active_seconds / self.documents if self.documents else 0.0

    @property
    def corrected_share(self) -> float:
        return self.fields_corrected / self.fields_decided if self.fields_decided else 0.0

    def summary(self) -> dict[str, float | int | str]:
        return {"key": self.key, "documents": self.documents,
                "documents_per_hour": round(self.documents_per_hour, 2),
                "active_seconds_per_document": round(self.seconds_per_document, 1),
                "fields_decided": self.fields_decided,
                "fields_corrected_share": round(self.corrected_share, 4)}


class BacklogRow(BaseModel):
    doctype: str
    waiting: int
    oldest_age_hours: float | None


class ReviewStats(BaseModel):
    since: datetime
    reviewers: list[GroupStats]
    doctypes: list[GroupStats]
    backlog: list[BacklogRow]

    def export(self) -> dict[str, object]:
        return {"since": self.since.isoformat(),
                "reviewers": [g.summary() for g in self.reviewers],
                "doctypes": [g.summary() for g in self.doctypes],
                "backlog": [b.model_dump() for b in self.backlog]}


def compute_stats(events: list[tuple[AuditEvent, str | None]]) -> tuple[list[GroupStats],
                                                                       list[GroupStats]]:
    """Per reviewer and per document type, from (event, doctype) pairs in time order."""
    by_actor: dict[str, GroupStats] = {}
    by_type: dict[str, GroupStats] = {}
    last_at: dict[tuple[str, str], datetime] = {}
    for e, doctype in events:
        if e.actor == "machine":
            continue
        groups = [by_actor.setdefault(e.actor, GroupStats(key=e.actor)),
                  by_type.setdefault(doctype or "?", GroupStats(key=doctype or "?"))]
        k = (e.actor, e.record_id)
        prev = last_at.get(k)
        gap = (e.at - prev) if prev is not None and e.action != AuditAction.claimed else None
        for g in groups:
            if gap is not None and timedelta(0) <= gap <= IDLE_GAP:
                g.active_seconds += gap.total_seconds()
            if e.action in _FIELD_ACTIONS:
                g.fields_decided += 1
                g.fields_corrected += e.action == AuditAction.corrected
            if e.action in _FINISH:
                g.documents += 1
        last_at[k] = e.at
        if e.action in _FINISH or e.action == AuditAction.released:
            last_at.pop(k, None)
    order = sorted
    return (order(by_actor.values(), key=lambda g: g.key),
            order(by_type.values(), key=lambda g: g.key))


def review_stats(index: RecordIndex, since: datetime) -> ReviewStats:
    reviewers, doctypes = compute_stats(index.audit_events_since(since))
    now = utcnow()
    backlog = [BacklogRow(doctype=d, waiting=n,
                          oldest_age_hours=round((now - oldest).total_seconds() / 3600, 2)
                          if oldest else None) for d, n, oldest in index.backlog()]
    return ReviewStats(since=since, reviewers=reviewers, doctypes=doctypes, backlog=backlog)
