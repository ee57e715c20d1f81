"""The back office: the review queue, the keyboard-first review page, record history, and
review metrics. Pages need a session with the reviewer (or admin) role; every change goes
through :class:`review.service.ReviewService` against the revision the page showed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from api.web.common import render, require_user
from api.web.i18n import gettext as _
from api.web.i18n import use_lang
from models.accounts import Role, UserInfo
from models.errors import ConflictError, NotFoundError
from models.records import AuditAction, AuditEvent, ExtractedField, Record, RecordStatus, utcnow
from review.lifecycle import (
    MAX_DECIDED_AGO_MS,
    UNKNOWN_DOCTYPE,
    FieldDecision,
    ValueRefused,
    unresolved_fields,
)
from review.metrics import review_stats
from review.service import ReviewService
from review.validation import RULES, YEARS, birth_pairs, is_multiline, province_codes
from storage.index import QueueFilter

__all__ = ["router"]

router = APIRouter(prefix="/review")
Reviewer = Annotated[UserInfo, Depends(require_user(Role.reviewer))]


def _svc(request: Request) -> ReviewService:
    svc: ReviewService = request.app.state.review
    return svc


def _hours(text: str | None) -> float | None:
    """The queue form's "waiting at least" box: empty, or not a positive number (a comma
    as the decimal mark is fine), filters nothing."""
    try:
        hours = float((text or "").strip().replace(",", "."))
    except ValueError:
        return None
    return hours if 0 < hours < 24 * 366 * 10 else None


def _filter(batch: str | None, doctype: str | None, station: str | None,
            min_age_hours: float | None, order: str | None) -> QueueFilter:
    return QueueFilter(batch_id=batch or None, doctype=doctype or None, station=station or None,
                       older_than=timedelta(hours=min_age_hours) if min_age_hours else None,
                       order="age" if order == "age" else "confidence")


def _day_start() -> datetime:
    now = utcnow()
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


@router.get("", include_in_schema=False)
def queue_page(request: Request, user: Reviewer, batch: str | None = None,
               doctype: str | None = None, station: str | None = None,
               min_age_hours: str | None = None, order: str | None = None,
               q: str | None = None, empty: int = 0) -> Response:
    index = request.app.state.index
    hours = _hours(min_age_hours)
    f = _filter(batch, doctype, station, hours, order)
    rows = index.search_records(q, limit=100) if q else index.review_queue(f, limit=100)
    return render(request, "review_queue.html", {
        "rows": rows, "counts": index.queue_counts(f, day_start=_day_start()), "q": q or "",
        "filters": {"batch": batch or "", "doctype": doctype or "", "station": station or "",
                    "min_age_hours": hours or "", "order": f.order},
        "doctypes": sorted(request.app.state.review.kinds), "now": utcnow(),
        "empty": bool(empty), "RecordStatus": RecordStatus})


def _next_url(svc: ReviewService, user: UserInfo, exclude: list[str] | None = None) -> str:
    record_id = svc.claim_next(user.name, exclude=exclude or [])
    return f"/review/{record_id}" if record_id else "/review?empty=1"


@router.post("/next", include_in_schema=False)
def next_record(request: Request, user: Reviewer) -> Response:
    return RedirectResponse(_next_url(_svc(request), user), status_code=303)


def _field_json(f: ExtractedField, kind: str, page_pos: dict[int, int],
                pair: str | None) -> dict[str, Any]:
    return {"name": f.name, "label": f.label or f.name, "kind": kind, "value": f.value,
            "multiline": is_multiline(kind, f.value) or is_multiline(kind, f.machine_value),
            "pair": pair,
            "machine_value": f.machine_value if f.reviewed_by else f.value, "raw": f.raw,
            "confidence": f.confidence, "status": f.status.value, "source": f.source.value,
            "problems": f.problems, "settled": f.settled,
            "page": page_pos.get(f.page) if f.page is not None else None,
            "bbox": list(f.bbox) if f.bbox else None,
            "readings": [r.model_dump(mode="json") for r in f.readings],
            "reviewed_by": f.reviewed_by}


def record_state(svc: ReviewService, record: Record, user: UserInfo) -> dict[str, Any]:
    """Everything the review page's script needs about a record and its lease."""
    entry = svc.index.get_record(record.record_id)
    kinds = svc.kinds.get(record.doctype, {})
    page_pos = {p.index: i for i, p in enumerate(record.pages)}
    pairs = birth_pairs({f.name: kinds.get(f.name, "text") for f in record.fields})
    held_by = entry.lease_user if entry is not None and entry.leased() else None
    return {
        "record_id": record.record_id, "revision": record.revision, "doctype": record.doctype,
        "title": record.title or record.doctype, "status": record.status.value,
        "dossier_id": record.dossier_id, "reject_reason": record.reject_reason,
        "lease_user": held_by,
        "unknown_type": record.doctype == UNKNOWN_DOCTYPE,
        "lease_expires": entry.lease_expires.isoformat()
        if entry is not None and entry.lease_expires and held_by else None,
        "held_by_other": held_by not in (None, user.name),
        "pages": [{"url": f"/review/{record.record_id}/pages/{i}",
                   "has_image": p.cleaned_key is not None} for i, p in enumerate(record.pages)],
        "fields": [_field_json(f, kinds.get(f.name, "text"), page_pos, pairs.get(f.name))
                   for f in record.fields],
        "unresolved": unresolved_fields(record),
    }


def _strings() -> dict[str, str]:
    """Messages the page's script shows, in the language in use: one for each
    :class:`~review.validation.Problem` (keyed by its code; the server's refusals use the
    same), and the rest."""
    return {
        "accepted": _("accepted"), "review": _("needs review"), "missing": _("missing"),
        "confirmed": _("confirmed"), "corrected": _("corrected"),
        "not_on_document": _("not on the document"), "saving": _("Saving…"),
        "saved": _("Saved"),
        "conflict": _("Someone else changed this record. Reload to see their version; "
                      "nothing of theirs was overwritten."),
        "reload": _("Reload"), "unresolved_left": _("Fields still unresolved: {n}"),
        "reason_required": _("Write why the document is returned to the counter."),
        "id12": _("A personal ID number has exactly 12 digits."),
        "province": _("The first three digits are not a province code."),
        "century": _("The 4th digit (century and sex) is not valid."),
        "id_birth": _("The year in the ID does not match the date of birth."),
        "date_format": _("Write the date as dd/mm/yyyy."), "date_real": _("Not a real date."),
        "date_range": _("The year must be between {first} and {last}.").format(
            first=YEARS[0], last=YEARS[1]),
        "digits": _("Digits only."),
        "as_printed": _("The document says so: keep it"),
        "as_printed_hint": _("Read the document again. If it does say so, keep the value with "
                             "the button (Tab, then Enter); the history will show it."),
        "name_letters": _("A name has letters only."),
        "name_words": _("A full name has at least two words."),
        "empty": _("Enter a value, or press Alt+M if it is not on the document."),
        "lease_lost": _("Your hold on this document expired; reload to claim it again."),
        "pending": _("not saved yet"),
        "pending_count": _("Decisions not saved yet: {n}. Ctrl+S saves them, Ctrl+Enter "
                           "approves the document with them."),
        "nothing_to_save": _("Nothing to save."),
        "suggestion": _("Verified before:"),
        "retyping": _("Reading the document again as {type}…"),
        "unknown_type": _("The document type was not recognized: choose it (Alt+T), or "
                          "reject the document."),
        "error": _("Something went wrong: {msg}"),
        # Where a value or another reading of it came from (models.records.FieldSource).
        "source_ocr": _("OCR"), "source_qr": _("QR code"),
        "source_mrz": _("machine-readable zone"), "source_barcode": _("barcode"),
        "source_text_layer": _("the PDF's text"),
        "source_reconciled": _("another document of the dossier"),
        "source_person": _("verified by a person"),
        "source_reread": _("read again line by line"),
    }


@router.get("/stats", include_in_schema=False)
def stats_page(request: Request, user: Reviewer, days: int = 7) -> Response:
    stats = review_stats(request.app.state.index, since=utcnow() - timedelta(days=days))
    return render(request, "review_stats.html", {"stats": stats, "days": days})


@router.get("/{record_id}", include_in_schema=False)
def review_page(request: Request, record_id: str, user: Reviewer) -> Response:
    # This runs in a thread of its own: the language the dependency applied is not in force
    # here, and every text below (the script's messages too) is in the user's.
    use_lang(user.lang)
    svc = _svc(request)
    if svc.index.get_record(record_id) is None:
        return render(request, "error.html", {"message": _("No such record.")}, status_code=404)
    held = None
    record = svc.load(record_id)
    if record.status != RecordStatus.rejected:
        try:
            svc.claim(record_id, user.name)
        except ConflictError as e:  # someone else holds it: the page opens read-only
            held = e.message
    state = record_state(svc, record, user)
    return render(request, "review.html", {
        "record": record, "state": state, "held": held, "strings": _strings(),
        "doctypes": sorted(((d.id, d.title or d.id) for d in svc.doctypes),
                           key=lambda t: t[1]),
        "provinces": sorted(province_codes()), "rules": RULES,
        "lease_seconds": int(svc.lease.total_seconds()),
        "max_decided_ago_ms": MAX_DECIDED_AGO_MS})


@router.get("/{record_id}/suggestions", include_in_schema=False)
def suggestions(request: Request, record_id: str, user: Reviewer) -> dict[str, Any]:
    """Values people verified for the same field of the same type, for the fields in review:
    asked for by the page once it is shown, so the page never waits for them."""
    svc = _svc(request)
    if svc.index.get_record(record_id) is None:
        raise NotFoundError("no such record")
    record = svc.load(record_id)
    if record.status == RecordStatus.rejected:
        return {"suggestions": {}}
    return {"suggestions": svc.suggestions(record)}


@router.get("/{record_id}/pages/{pos}", include_in_schema=False)
def page_image(request: Request, record_id: str, pos: int, user: Reviewer) -> Response:
    svc = _svc(request)
    if svc.index.get_record(record_id) is None:
        raise NotFoundError("no such record")
    record = svc.load(record_id)
    if not 0 <= pos < len(record.pages) or (key := record.pages[pos].cleaned_key) is None:
        raise NotFoundError("no image for this page")
    data = svc.store.get_derived(key)
    # JPEG; pages digitized before kept a PNG.
    return Response(data, media_type="image/png" if key.endswith(".png") else "image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600"})


class Save(BaseModel):
    revision: int
    decisions: list[FieldDecision] = Field(default_factory=list)


class Finish(BaseModel):
    revision: int
    reason: str = ""
    # Approving: the field decisions made on the page since its last save, stored with the
    # approval as one version.
    decisions: list[FieldDecision] = Field(default_factory=list)


class Retype(BaseModel):
    revision: int
    doctype: str
    decisions: list[FieldDecision] = Field(default_factory=list)


@router.post("/{record_id}/lease", include_in_schema=False)
def renew_lease(request: Request, record_id: str, user: Reviewer) -> dict[str, Any]:
    entry = _svc(request).claim(record_id, user.name)
    return {"lease_expires": entry.lease_expires.isoformat() if entry.lease_expires else None}


@router.post("/{record_id}/fields", include_in_schema=False)
def save_fields(request: Request, record_id: str, body: Save, user: Reviewer) -> dict[str, Any]:
    """The record's new state; or, for a value that fails a check, what the page shows for
    it in the user's language: a refusal is an answer to the page, not a failed request."""
    svc = _svc(request)
    try:
        record = svc.decide(record_id, user.name, body.revision, body.decisions)
    except ValueRefused as e:
        return _refused(e, user)
    return record_state(svc, record, user)


def _refused(e: ValueRefused, user: UserInfo) -> dict[str, Any]:
    use_lang(user.lang)
    strings = _strings()
    return {"refused": {"field": e.field, "messages": [strings[p] for p in e.problems],
                        "as_printed": e.as_printed}}


@router.post("/{record_id}/approve", include_in_schema=False)
def approve(request: Request, record_id: str, body: Finish, user: Reviewer) -> dict[str, Any]:
    """The document approved, with the decisions made on it since the last save: one version
    of the record; a refused value comes back as for a save, and nothing is stored."""
    svc = _svc(request)
    try:
        svc.approve(record_id, user.name, body.revision, body.decisions)
    except ValueRefused as e:
        return _refused(e, user)
    return {"next": _next_url(svc, user, [record_id])}


@router.post("/{record_id}/type", include_in_schema=False)
def change_type(request: Request, record_id: str, body: Retype,
                user: Reviewer) -> dict[str, Any]:
    """The document read again as the type the clerk chose, with the decisions made on it
    since the last save: one version of the record."""
    svc = _svc(request)
    try:
        record = svc.retype(record_id, user.name, body.revision, body.doctype, body.decisions)
    except ValueRefused as e:
        return _refused(e, user)
    return record_state(svc, record, user)


@router.post("/{record_id}/reject", include_in_schema=False)
def reject(request: Request, record_id: str, body: Finish, user: Reviewer) -> dict[str, Any]:
    svc = _svc(request)
    svc.reject(record_id, user.name, body.revision, body.reason)
    return {"next": _next_url(svc, user, [record_id])}


@router.post("/{record_id}/skip", include_in_schema=False)
def skip(request: Request, record_id: str, user: Reviewer) -> dict[str, Any]:
    svc = _svc(request)
    svc.release(record_id, user.name)
    return {"next": _next_url(svc, user, [record_id])}


@router.get("/{record_id}/history", include_in_schema=False)
def history_page(request: Request, record_id: str, user: Reviewer) -> Response:
    svc = _svc(request)
    if svc.index.get_record(record_id) is None:
        return render(request, "error.html", {"message": _("No such record.")}, status_code=404)
    events = svc.index.audit_events(record_id)
    # Each version a person made with their decision: its field events, the approval, a
    # change of type.
    made: dict[int, list[AuditEvent]] = {}
    for e in events:
        if e.record_version is not None and e.action not in _LEASE:
            made.setdefault(e.record_version, []).append(e)
    versions = []
    previous: Record | None = None
    for v in reversed(svc.store.record_versions(record_id)):
        try:
            rec = svc.load(record_id, v.version_id)
        except NotFoundError:
            continue
        decision = made.get(rec.revision, [])
        versions.append({"version": v, "record": rec, "diff": _diff(previous, rec),
                         "events": decision,
                         "labels": {f.name: f.label or f.name for f in rec.fields},
                         "actors": sorted({e.actor for e in decision}),
                         "fields": sum(1 for e in decision if e.field)})
        previous = rec
    versions.reverse()
    return render(request, "review_history.html", {
        "record_id": record_id, "versions": versions, "events": events})


# Events that make no person's decision: a lease taken or given back, the machine's reading.
_LEASE = {AuditAction.claimed, AuditAction.released, AuditAction.extracted}


def _diff(old: Record | None, new: Record) -> list[dict[str, Any]]:
    if old is None:
        return [{"field": f.label or f.name, "old": None, "new": f.value,
                 "status": f.status.value} for f in new.fields]
    out = []
    for f in new.fields:
        o = old.field(f.name)
        if o is None or o.value != f.value or o.status != f.status:
            out.append({"field": f.label or f.name, "old": o.value if o else None,
                        "new": f.value, "status": f.status.value,
                        "old_status": o.status.value if o else None})
    for f in old.fields:
        if new.field(f.name) is None:  # a field of the type the document was before
            out.append({"field": f.label or f.name, "old": f.value, "new": None,
                        "status": ""})
    if old.doctype != new.doctype:
        out.append({"field": _("Document type"), "old": old.title or old.doctype,
                    "new": new.title or new.doctype, "status": ""})
    if old.status != new.status:
        out.append({"field": _("Record status"), "old": old.status.value,
                    "new": new.status.value, "status": ""})
    return out
