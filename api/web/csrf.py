"""Cross-site request forgery protection for the pages: a signed double-submit token and a
same-origin check.

Every unsafe request (anything but GET, HEAD, OPTIONS, TRACE) must
- come from this site: its ``Origin`` header (or, when a browser sent none, its ``Referer``)
  names this site, and
- carry the token of its ``csrftoken`` cookie (random, signed with the app's secret, HttpOnly,
  SameSite=Strict) as the ``x-csrftoken`` header or, in a url-encoded form, the
  ``csrftoken`` field.

The only requests exempt are those to ``/v1`` that carry no session cookie: other systems
authenticate them with an API key, which a browser never adds on its own. A session cookie
always means the check, whatever else the request carries (an ``Authorization`` header too).

Only url-encoded forms are read to find the field (and replayed to the app, up to 1 MiB);
uploads and JSON calls send the header, so an upload body is never buffered here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import Headers
from starlette.requests import cookie_parser

__all__ = ["CsrfMiddleware", "CsrfProblem", "COOKIE", "FIELD", "HEADER", "new_token",
           "token_is_valid"]

COOKIE = "csrftoken"
FIELD = "csrftoken"
HEADER = "x-csrftoken"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# The unsafe methods the app has routes for; any other method changes nothing and gets the
# app's own 405.
ROUTED_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Read by machines with an API key (or none), like /v1.
_MACHINE_PATHS = frozenset({"/healthz", "/metrics"})
MAX_FORM_BYTES = 1 << 20


def N_(message: str) -> str:
    return message


@dataclass(frozen=True)
class CsrfProblem:
    """Why a request was refused: words for the person (English source text, translated on
    the pages) and, for the log, the exact reason."""

    message: str
    hint: str
    reason: str
    status: int = 403


_CROSS_SITE = (N_("The request came from another website, so it was refused."),
               N_("Open the page on this site and do it again there."))
_NO_TOKEN = (N_("The page's security token is missing or out of date, so the request was "
                "refused."),
             N_("Reload the page and try again."))
_FORM_TOO_LARGE = (N_("The form is too large."), N_("Send less text at once."))


def _sign(secret: bytes, nonce: str) -> str:
    mac = hmac.new(secret, b"csrf:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def new_token(secret: bytes) -> str:
    nonce = secrets.token_urlsafe(32)
    return f"{nonce}.{_sign(secret, nonce)}"


def token_is_valid(secret: bytes, token: str) -> bool:
    nonce, _, sig = token.partition(".")
    return bool(nonce and sig) and hmac.compare_digest(sig, _sign(secret, nonce))


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


Refuse = Callable[[dict[str, Any], Any, Any, CsrfProblem], Awaitable[None]]


class CsrfMiddleware:
    """The check described above, as ASGI middleware. ``refuse`` sends the 403 (the app makes
    it, in the user's language); pages get the token from ``scope["csrftoken"]()``, which
    also sets the cookie on the answer when the browser has none yet."""

    def __init__(self, app: Any, *, secret: str, secure: bool, session_cookie: str,
                 refuse: Refuse) -> None:
        self.app = app
        self.secret = secret.encode()
        self.secure = secure
        self.session_cookie = session_cookie
        self.refuse = refuse

    def _exempt(self, path: str, cookies: dict[str, str]) -> bool:
        return ((path == "/v1" or path.startswith("/v1/") or path in _MACHINE_PATHS)
                and self.session_cookie not in cookies)

    def _same_origin(self, scope: dict[str, Any], headers: Headers) -> bool:
        host = headers.get("host")
        if not host:
            server = scope.get("server")
            host = f"{server[0]}:{server[1]}" if server else ""
        ours = {f"{scope.get('scheme', 'http')}://{host}".lower()}
        if self.secure:  # behind a proxy that ends TLS, the app itself sees http
            ours.add(f"https://{host}".lower())
        origin = headers.get("origin")
        if origin is not None:
            return origin.lower() in ours  # "null" (sandboxed, privacy redirects) is refused
        referer = headers.get("referer")
        if referer is not None:
            return _origin_of(referer) in ours
        return True  # not sent by a browser page; the token is still required

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookies = cookie_parser(headers.get("cookie", ""))
        cookie_token = cookies.get(COOKIE)
        if cookie_token is not None and not token_is_valid(self.secret, cookie_token):
            cookie_token = None
        state: dict[str, Any] = {"token": cookie_token, "set": False, "used": False}

        def page_token() -> str:
            if state["token"] is None:
                state["token"] = new_token(self.secret)
                state["set"] = True
            state["used"] = True
            return str(state["token"])

        scope["csrftoken"] = page_token

        async def send_with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and state["used"]:
                out = list(message.get("headers") or [])
                out.append((b"vary", b"Cookie"))
                if state["set"]:
                    attrs = [f"{COOKIE}={state['token']}", "Path=/", "HttpOnly",
                             "SameSite=Strict"]
                    if self.secure:
                        attrs.append("Secure")
                    out.append((b"set-cookie", "; ".join(attrs).encode("latin-1")))
                message = {**message, "headers": out}
            await send(message)

        if (scope["method"] in SAFE_METHODS or scope["method"] not in ROUTED_UNSAFE
                or self._exempt(scope["path"], cookies)):
            await self.app(scope, receive, send_with_cookie)
            return

        async def refuse(words: tuple[str, str], reason: str, status: int = 403) -> None:
            await self.refuse(scope, receive, send_with_cookie,
                              CsrfProblem(words[0], words[1], reason, status))

        if not self._same_origin(scope, headers):
            sent_by = headers.get("origin") or headers.get("referer")
            await refuse(_CROSS_SITE, f"origin {sent_by!r} is not this site")
            return
        if cookie_token is None:
            await refuse(_NO_TOKEN, "no valid csrftoken cookie")
            return
        sent = headers.get(HEADER)
        if sent is not None:
            if hmac.compare_digest(sent.encode(), cookie_token.encode()):
                await self.app(scope, receive, send_with_cookie)
            else:
                await refuse(_NO_TOKEN, f"the {HEADER} header does not match the cookie")
            return
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            what = content_type or "body without Content-Type"
            await refuse(_NO_TOKEN, f"no {HEADER} header ({what} is not searched for the "
                                    "form field)")
            return
        body, replay = await _read_body(receive, MAX_FORM_BYTES)
        if body is None:
            await refuse(_FORM_TOO_LARGE, "form over 1 MiB", 413)
            return
        field = dict(parse_qsl(body.decode("utf-8", "replace"))).get(FIELD, "")
        if hmac.compare_digest(field.encode(), cookie_token.encode()):
            await self.app(scope, replay, send_with_cookie)
        else:
            await refuse(_NO_TOKEN, f"the {FIELD} form field does not match the cookie")


async def _read_body(receive: Any, limit: int) -> tuple[bytes | None, Any]:
    """The whole request body (None past ``limit``) and a ``receive`` that replays it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, receive
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> dict[str, Any]:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
