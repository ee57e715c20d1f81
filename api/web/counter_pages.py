"""The counter: front-desk staff serving a citizen for a procedure see what that citizen
already gave (settled records only, each field saying what it is and who settled it: the
machine, or the person who confirmed or corrected it), open a document's PDF, and record
that the procedure reused them instead of asking the citizen again.

Every step is a read of citizen data and goes to the access log like a ``/v1`` read, with
the procedure as its purpose: the lookup (``counter_lookup``), each PDF opened (``pdf``) and
the reuse itself (``reuse``, what the reuse rate counts). The person is named in the entry
(``key_id`` ``user:NAME``) and their station stands for the agency. The citizen ID travels
in POST bodies only, never in a URL (URLs end up in histories and logs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import parse_purpose
from api.middleware import request_id
from api.web.common import render, require_user
from api.web.i18n import gettext as _
from api.web.i18n import use_lang
from models.access import AccessAction, AccessEntry, Purpose
from models.accounts import Role, UserInfo
from models.errors import InvalidParameterError
from models.records import IndexEntry, Record, utcnow
from storage.access import AccessLog, new_access_id
from storage.records import RecordStore

__all__ = ["router", "citizen_id_from", "ScannedCard"]

router = APIRouter(prefix="/counter")
Staff = Annotated[UserInfo, Depends(require_user(Role.counter))]
MAX_INPUT = 1000


def N_(message: str) -> str:
    return message


# Words that reach templates as codes: the role, and what the access log says was done.
CODES = [N_("counter"), N_("counter_lookup"), N_("reuse")]


@dataclass
class ScannedCard:
    """What a chip card's QR code says: ``ID|old ID|name|ddmmyyyy|sex|address|issued``."""

    citizen_id: str
    name: str = ""
    date_of_birth: str = ""  # dd/mm/yyyy as printed


def citizen_id_from(raw: str) -> ScannedCard | None:
    """The citizen ID typed, or read by a QR scanner from the card (the whole QR content);
    None unless it is 12 digits."""
    raw = raw.strip()[:MAX_INPUT]
    parts = raw.split("|")
    cid = "".join(parts[0].split())
    if not (cid.isdigit() and len(cid) == 12):
        return None
    card = ScannedCard(cid)
    if len(parts) >= 4:
        card.name = parts[2].strip()
        born = parts[3].strip()
        if len(born) == 8 and born.isdigit():
            card.date_of_birth = f"{born[:2]}/{born[2:4]}/{born[4:]}"
    return card


def _purpose(code: str, text: str) -> Purpose | None:
    code, text = code.strip()[:64], " ".join(text.split())[:500]
    return parse_purpose(f"{code}; {text}" if text else code) if code else None


def _log(request: Request, user: UserInfo, action: AccessAction, purpose: Purpose,
         entries: list[IndexEntry], citizen_ids: list[str]) -> None:
    citizens = sorted({c for e in entries for c in e.citizen_ids} | set(citizen_ids))
    AccessLog(request.app.state.index).record(AccessEntry(
        access_id=new_access_id(), at=utcnow(), key_id=f"user:{user.name}"[:32],
        key_name=user.name, agency=user.station, action=action, purpose=purpose,
        record_ids=[e.record_id for e in entries], citizen_ids=citizens,
        request_id=request_id(request.scope)))


def _served(request: Request, citizen_id: str) -> list[IndexEntry]:
    return [e for e in request.app.state.index.records_for_citizen(citizen_id)
            if RecordStore.served(e)]


def _titles(request: Request) -> dict[str, str]:
    review = getattr(request.app.state, "review", None)
    return {d.id: d.title or d.id for d in getattr(review, "doctypes", None) or []}


def _shown(request: Request, entries: list[IndexEntry]) -> list[dict[str, Any]]:
    """Each record as the page shows it: its type, dossier, when and how it settled, and
    every field with what it is, its value and who settled it."""
    titles = _titles(request)
    out = []
    for e in entries:
        record = Record.from_json(request.app.state.store.get_record(e.record_id,
                                                                     e.version_id))
        fields = [{"label": f.label or f.name, "name": f.name, "value": f.value,
                   "status": f.status.value, "source": f.source.value,
                   "by": f.reviewed_by, "at": f.reviewed_at, "machine_value": f.machine_value}
                  for f in record.fields if f.value not in (None, "")]
        out.append({"record": record, "title": record.title or titles.get(record.doctype,
                                                                          record.doctype),
                    "fields": fields, "has_pdf": bool(record.pdf_key)})
    return out


def _page(request: Request, user: UserInfo, *, status: int = 200, **ctx: Any) -> Response:
    base: dict[str, Any] = {"procedure": "", "procedure_text": "", "card": None,
                            "records": None, "notice": None, "error": None, "reused": []}
    base.update(ctx)
    return render(request, "counter.html", base, status_code=status)


@router.get("", include_in_schema=False)
def counter_page(request: Request, user: Staff) -> Response:
    use_lang(user.lang)
    return _page(request, user)


@router.post("", include_in_schema=False)
def look_up(request: Request, user: Staff, citizen: Annotated[str, Form()] = "",
            procedure: Annotated[str, Form()] = "",
            procedure_text: Annotated[str, Form()] = "") -> Response:
    """Look a citizen up for a procedure: the procedure first (it is the read's purpose),
    then the ID typed or the card's QR content scanned."""
    use_lang(user.lang)
    ctx: dict[str, Any] = {"procedure": procedure.strip()[:64],
                           "procedure_text": " ".join(procedure_text.split())[:500]}
    purpose = _purpose(procedure, procedure_text)
    if purpose is None:
        return _page(request, user, **ctx, status=422, error=_(
            "Enter the procedure code first: looking a citizen up is a read of their data "
            "and needs its purpose."))
    card = citizen_id_from(citizen)
    if card is None:
        return _page(request, user, **ctx, status=422, error=_(
            "A citizen ID is 12 digits (or scan the QR code of the chip card)."))
    entries = _served(request, card.citizen_id)
    _log(request, user, AccessAction.counter_lookup, purpose, entries, [card.citizen_id])
    return _page(request, user, **ctx, card=card, records=_shown(request, entries))


@router.post("/reuse", include_in_schema=False)
def reuse(request: Request, user: Staff, citizen_id: Annotated[str, Form()],
          procedure: Annotated[str, Form()], procedure_text: Annotated[str, Form()] = "",
          record: Annotated[list[str] | None, Form()] = None) -> Response:
    """Record that the procedure reused these settled records of the citizen: one entry in
    the access log (``reuse``), which the reuse rate counts."""
    use_lang(user.lang)
    card = citizen_id_from(citizen_id)
    purpose = _purpose(procedure, procedure_text)
    if card is None or purpose is None:
        raise InvalidParameterError("a citizen ID and a procedure code are needed")
    ctx: dict[str, Any] = {"procedure": purpose.code, "procedure_text": purpose.text or ""}
    served = _served(request, card.citizen_id)
    chosen = set(record or [])
    reused = [e for e in served if e.record_id in chosen]
    if not reused:
        return _page(request, user, **ctx, card=card, records=_shown(request, served),
                     status=422, error=_("Tick the documents the procedure reuses."))
    _log(request, user, AccessAction.reuse, purpose, reused, [card.citizen_id])
    return _page(request, user, **ctx, card=card, records=_shown(request, served),
                 reused=[e.record_id for e in reused],
                 notice=_("Recorded: {n} document(s) reused for procedure {code}.").format(
                     n=len(reused), code=purpose.code))


@router.get("/records/{record_id}/pdf", include_in_schema=False)
def open_pdf(request: Request, record_id: str, user: Staff, procedure: str = "",
             procedure_text: str = "") -> Response:
    """The searchable PDF of a settled record, through a short-lived presigned URL; a read
    with the procedure as its purpose."""
    from datetime import timedelta

    use_lang(user.lang)
    purpose = _purpose(procedure, procedure_text)
    if purpose is None:
        raise InvalidParameterError("a procedure code is needed")
    entry = request.app.state.index.get_record(record_id)
    if entry is None or not RecordStore.served(entry):
        return render(request, "error.html", {"message": _("No such record.")},
                      status_code=404)
    record = Record.from_json(request.app.state.store.get_record(record_id, entry.version_id))
    if not record.pdf_key:
        return render(request, "error.html",
                      {"message": _("This document has no PDF.")}, status_code=404)
    _log(request, user, AccessAction.pdf, purpose, [entry], [])
    minutes = request.app.state.settings.presign_minutes
    url = request.app.state.store.presigned_derived_url(
        record.pdf_key, timedelta(minutes=minutes), content_type="application/pdf")
    return RedirectResponse(url, status_code=303)
