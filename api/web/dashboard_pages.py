"""The reform's indicators for people (admins): the same numbers as
``GET /v1/metrics/summary``, over the last days, with charts drawn on the server."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.web import charts
from api.web.common import render, require_user
from api.web.i18n import gettext as _
from api.web.i18n import use_lang
from models.accounts import Role, UserInfo
from models.indicators import MetricsSummary
from storage import indicators

__all__ = ["router"]

router = APIRouter()
Admin = Annotated[UserInfo, Depends(require_user(Role.admin))]
DAY_CHOICES = (7, 30, 90, 365)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} " + _("days")


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f} %"


def _charts(s: MetricsSummary) -> dict[str, object]:
    days = []
    d = s.since.date()
    while d <= s.until.date():
        days.append(d)
        d += timedelta(days=1)
    stations = sorted({x.station for x in s.digitized})
    by = {(x.station, x.day): x for x in s.digitized}
    labels = [d.strftime("%d/%m") for d in days]
    pages = [(st, [by[(st, d)].pages if (st, d) in by else 0 for d in days])
             for st in stations]
    dossiers = [(st, [by[(st, d)].dossiers if (st, d) in by else 0 for d in days])
                for st in stations]
    o = s.documents
    return {
        "pages": charts.stacked_columns(labels, pages, title=_("Pages digitized per day")),
        "dossiers": charts.stacked_columns(labels, dossiers,
                                           title=_("Dossiers digitized per day")),
        "outcomes": charts.share_bar(
            [("ok", _("settled by the machine alone"), o.settled_by_machine),
             ("done", _("settled after review"), o.settled_after_review),
             ("warn", _("waiting for review"), o.waiting_review),
             ("bad", _("rejected"), o.rejected)], title=_("How documents settled")),
        "backlog": charts.hbars([(b.doctype, b.documents) for b in s.backlog.by_doctype],
                                title=_("Review backlog by document type")),
        "agencies": charts.hbars([(a.agency, a.reads) for a in s.reads_by_agency],
                                 title=_("Reads of citizen data per agency")),
    }


@router.get("/dashboard", include_in_schema=False)
def dashboard(request: Request, user: Admin, days: int = 30) -> Response:
    use_lang(user.lang)
    days = days if days in DAY_CHOICES else 30
    since, until = indicators.period(days)
    s = indicators.summary(request.app.state.index, since, until)
    return render(request, "dashboard.html", {
        "s": s, "days": days, "day_choices": DAY_CHOICES, "charts": _charts(s),
        "median": _duration(s.documents.median_upload_to_settled_seconds),
        "oldest": _duration(s.backlog.oldest_seconds), "percent": _percent})
