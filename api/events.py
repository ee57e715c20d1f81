"""``/v1/events`` (scope ``events:read``): every record lifecycle change and batch state
change, in order, from a cursor; ``/v1/webhooks`` (scope ``webhooks:manage``): a key's
subscriptions that push those events to a URL, and their delivery log.

How a receiver checks a delivery's signature: ``docs/api.md``."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.auth import require_scope
from api.schema import DeliveryPage, EventPage, WebhookList, errors
from models.errors import MalformedRequestError
from models.events import EVENT_TYPES, WebhookCreated, WebhookInfo
from models.records import ApiKeyInfo
from storage.events import EventFeed, parse_cursor
from storage.webhooks import MAX_URL_CHARS, Webhooks

__all__ = ["router", "EVENTS_READ", "WEBHOOKS_MANAGE"]

EVENTS_READ = "events:read"
WEBHOOKS_MANAGE = "webhooks:manage"
MAX_LIMIT = 1000

router = APIRouter(prefix="/v1", tags=["events"])
Reader = Annotated[ApiKeyInfo, Depends(require_scope(EVENTS_READ))]
Manager = Annotated[ApiKeyInfo, Depends(require_scope(WEBHOOKS_MANAGE))]


# What a limit and a cursor may be, as the OpenAPI says (and checked as it says: 400).
LIMIT_RE = r"^ *([1-9][0-9]{0,2}|1000)? *$"
CURSOR_RE = r"^ *[0-9]{0,18} *$"
_TYPE = "|".join(re.escape(t) for t in sorted(EVENT_TYPES))
TYPES_RE = rf"^( *({_TYPE})? *,)* *({_TYPE})? *$"
# Declared, and checked by _types with the feed's own words (400).
TypeValue = Annotated[str, Field(json_schema_extra={"pattern": TYPES_RE})]


def _limit(value: str | None, default: int) -> int:
    if value is None or value.strip() == "":
        return default
    if not re.fullmatch(LIMIT_RE, value):
        raise MalformedRequestError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def _cursor(name: str, value: str | None) -> int:
    if value is not None and not re.fullmatch(CURSOR_RE, value):
        raise MalformedRequestError(f"{name} must be a cursor this API gave out (a whole number), "
                                    "or 0 for the start")
    return parse_cursor(value)


def _types(values: list[str] | None) -> list[str] | None:
    wanted = sorted({t.strip() for v in (values or []) for t in v.split(",") if t.strip()})
    unknown = [t for t in wanted if t not in EVENT_TYPES] or [
        v for v in values or [] if not re.fullmatch(TYPES_RE, v)]
    if unknown:
        raise MalformedRequestError(f"unknown event type {', '.join(unknown)}; known types: "
                                    f"{', '.join(sorted(EVENT_TYPES))}")
    return wanted or None


@router.get("/events", response_model=EventPage, responses=errors(400))
def events(request: Request, _key: Reader,
           after: Annotated[str | None, Query(
               description="the `next` of the previous answer; empty or 0: from the first "
                           "event", json_schema_extra={"pattern": CURSOR_RE})] = None,
           limit: Annotated[str | None, Query(
               description=f"events per answer, 1 to {MAX_LIMIT} (default 100)",
               json_schema_extra={"pattern": LIMIT_RE})] = None,
           type: Annotated[list[TypeValue] | None, Query(  # noqa: A002 - its name
               description="only these event types (repeat or comma-separate)")] = None,
           ) -> dict[str, Any]:
    """Events after the cursor ``after``, oldest first, and the cursor to ask from next.

    Every record lifecycle change (``record.extracted``, ``record.needs_review``,
    ``record.verified``, ``record.rejected``, ``record.changed``) and batch state change
    (``batch.queued``, ``batch.running``, ``batch.finished``) is an event, written with the
    change itself. An event committed late never lands behind a cursor already given out.
    Each has an ``id`` to deduplicate by; ids and a small ``data`` (status, revision), no
    citizen data beyond ids."""
    cursor, n = _cursor("after", after), _limit(limit, 100)
    found = EventFeed(request.app.state.index).after(cursor, n + 1, _types(type))
    page = found[:n]
    return {"events": [e.model_dump(mode="json") for e in page],
            "next": page[-1].cursor if page else str(cursor),
            "has_more": len(found) > n}


_WEBHOOK_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["url", "types"], "additionalProperties": False,
        "properties": {
            "url": {"type": "string", "maxLength": MAX_URL_CHARS, "format": "uri",
                    "pattern": r"^https?://([a-z0-9]+(-[a-z0-9]+)*\.)+[a-z]{2,6}"
                               r"(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~/-]*)?$",
                    "description": "http(s) URL the events are POSTed to; no credentials in "
                                   "it, redirects are not followed"},
            "types": {"type": "array", "minItems": 1, "items": {
                "type": "string", "enum": sorted(EVENT_TYPES) + ["record.*", "batch.*", "*"]}},
            "after": {"anyOf": [{"type": "string", "pattern": CURSOR_RE},
                                {"type": "integer", "minimum": 0, "maximum": 10**15},
                                {"type": "null"}],
                      "description": "deliver events after this cursor too (default: from "
                                     "now on); past the newest event: 409"},
        }}}},
}


@router.post("/webhooks", status_code=201, response_model=WebhookCreated,
             responses=errors(400, 409), openapi_extra={"requestBody": _WEBHOOK_BODY})
async def create_webhook(request: Request, key: Manager) -> WebhookCreated:
    """Subscribe this key to event types at a URL. The answer holds the secret that signs
    every delivery (``X-Dossier-Signature``); it is shown only here."""
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise MalformedRequestError("the body is not JSON; send {\"url\": \"https://...\", "
                                    "\"types\": [\"record.verified\"]}") from None
    if not isinstance(body, dict):
        raise MalformedRequestError("send a JSON object: {\"url\": \"https://...\", "
                                    "\"types\": [\"record.verified\"]}")
    extra = sorted(set(body) - {"url", "types", "after"})
    if extra:
        raise MalformedRequestError(f"unknown field {', '.join(extra)}; send url, types and "
                                    "optionally after")
    url, types = body.get("url"), body.get("types")
    if not isinstance(url, str):
        raise MalformedRequestError("url must be a string, the http(s) URL to deliver to")
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise MalformedRequestError("types must be a list of event types, e.g. "
                                    "[\"record.verified\", \"batch.finished\"]")
    after = body.get("after")
    if isinstance(after, float) and after.is_integer():  # 384.0 is the integer 384 in JSON
        after = int(after)
    if after is not None and (isinstance(after, bool) or not isinstance(after, str | int)):
        raise MalformedRequestError("after must be a cursor the events feed gave out")
    start = None if after is None else _cursor("after", str(after))
    hooks = Webhooks(request.app.state.index,
                     allow_local=request.app.state.settings.webhook_allow_local)
    return await run_in_threadpool(hooks.create, key.key_id, url, types, start)


@router.get("/webhooks", response_model=WebhookList, responses=errors())
def list_webhooks(request: Request, key: Manager) -> dict[str, Any]:
    """This key's subscriptions (never their secrets), with where each one is."""
    hooks = Webhooks(request.app.state.index).of_key(key.key_id)
    return {"webhooks": [h.model_dump(mode="json") for h in hooks]}


@router.get("/webhooks/{webhook_id}", response_model=WebhookInfo, responses=errors(404))
def get_webhook(webhook_id: str, request: Request, key: Manager) -> WebhookInfo:
    return Webhooks(request.app.state.index).get(key.key_id, webhook_id)


@router.delete("/webhooks/{webhook_id}", status_code=204, responses=errors(404))
def delete_webhook(webhook_id: str, request: Request, key: Manager) -> Response:
    """Stop the subscription; its delivery log goes with it."""
    Webhooks(request.app.state.index).delete(key.key_id, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage,
            responses=errors(400, 404))
def webhook_deliveries(webhook_id: str, request: Request, key: Manager,
                       limit: Annotated[str | None, Query(
                           description=f"attempts per answer, 1 to {MAX_LIMIT} (default "
                                       "100)", json_schema_extra={"pattern": LIMIT_RE})] = None,
                       before: Annotated[str | None, Query(
                           description="the `next` of the previous answer",
                           json_schema_extra={"pattern": CURSOR_RE})] = None,
                       ) -> dict[str, Any]:
    """The delivery log, newest attempt first: each POST of each event, with its outcome
    (delivered, failed, gave_up), the receiver's status code or the error, and the time."""
    n = _limit(limit, 100)
    start = _cursor("before", before) if before else None
    rows = Webhooks(request.app.state.index).deliveries(key.key_id, webhook_id, n + 1,
                                                        before=start)
    return {"webhook_id": webhook_id,
            "deliveries": [r.model_dump(mode="json") for r in rows[:n]],
            "next": rows[n - 1].id if len(rows) > n else None}
