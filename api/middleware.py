"""What every answer of the served app gets, pages and ``/v1`` alike: a request id (the
``X-Request-ID`` header, also in every error body and in the log lines about the request),
the browser security headers, and a plain 500 in place of any exception nothing else handled
(the traceback goes to the log under the request id, never to the client)."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["RequestContext", "SECURITY_HEADERS", "request_id"]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Crash = Callable[[Scope, Receive, Send, BaseException], Awaitable[None]]

# A load balancer's id is kept when it looks like one (so the two logs match); anything else
# a client sends is replaced, so the log never carries text a client chose.
_GIVEN_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

# Scripts, styles and images from this site only (no inline script, so an injected
# <script> or on...= attribute does not run); the favicon is an empty data: URL; no site may
# frame the pages.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def request_id(scope: Scope) -> str:
    """The id of the request being answered (set by :class:`RequestContext`)."""
    rid = scope.get("request_id")
    if not rid:
        rid = scope["request_id"] = uuid.uuid4().hex
    return str(rid)


class RequestContext:
    """Outermost middleware: gives the request its id, adds the id and the security headers
    to the answer, and turns an unhandled exception into ``crash``'s plain 500."""

    def __init__(self, app: Any, *, crash: Crash) -> None:
        self.app = app
        self.crash = crash

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _GIVEN_ID.fullmatch(given) else uuid.uuid4().hex
        scope["request_id"] = rid  # in place: every Request made from this scope sees it
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                have = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in have]
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as e:  # noqa: BLE001 - the one place unhandled errors end up
            log.error("request %s: unhandled error in %s %s", rid, scope.get("method"),
                      _redact(scope.get("path", "")), exc_info=e)
            if started:
                return  # the answer is half sent (a stream): nothing more can be said
            await self.crash(scope, receive, send_with_headers, e)


_ID_RE = re.compile(r"\d{9,12}")


def _redact(path: str) -> str:
    # Paths carry citizen IDs (as the access log, see api.app.redact_access_log).
    return _ID_RE.sub("***", path)
