"""Plain error answers, made in one place: what went wrong, what to do, and the request id.

No answer carries anything internal: a 5xx says only that storage cannot be reached or that
something failed; the detail (database URL, SQL, S3 endpoint, object key, traceback) goes to
the log under the request id, which the body and the ``X-Request-ID`` header carry. Answers
to the pages are in the user's language (``/v1`` answers in English); a page opened in the
browser gets the error page, a script call JSON ``{detail, hint, kind, request_id}``.

Any :class:`~models.errors.DossierError` a route raises (or lets through) is answered here with
its class's ``http_status`` and its plain message (:func:`dossier_error`): routes raise
``NotFoundError``, ``InvalidParameterError``... and never build an HTTP answer themselves.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from babel.numbers import format_decimal
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.middleware import request_id
from api.web.i18n import current_lang, gettext, use_lang
from models.errors import DossierError, InvalidParameterError

__all__ = ["PlainHTTPError", "answer", "server_error", "dossier_error", "is_page", "N_",
           "UNAVAILABLE", "INTERNAL"]

log = logging.getLogger(__name__)


def N_(message: str) -> str:
    return message


UNAVAILABLE = (N_("The system cannot reach its storage right now; this request was not "
                  "completed."),
               N_("Try again in a few minutes. If it keeps failing, tell the administrator "
                  "and give them the request id."))
INTERNAL = (N_("Something went wrong on the server; this request was not completed."),
            N_("Try again. If it fails again, tell the administrator and give them the "
               "request id."))
LOGIN = (N_("Your session has ended."), N_("Log in again, then try once more."))
ROLE = (N_("Your role does not allow this."), N_("Ask an administrator if you need access."))
NOT_FOUND = (N_("What was asked for does not exist."), "")

_ID_RE = re.compile(r"\d{9,12}")


class PlainHTTPError(HTTPException):
    """An HTTP error in words for people: ``message`` and ``hint`` are English source texts
    with ``{name}`` fields from ``params``, translated on the pages."""

    def __init__(self, status_code: int, message: str, hint: str = "", *, kind: str = "",
                 headers: dict[str, str] | None = None, **params: Any) -> None:
        self.message = message
        self.hint = hint
        self.kind = kind
        self.params = params
        super().__init__(status_code, _fill(message, params, "en"), headers)


def _fill(text: str, params: dict[str, Any], lang: str) -> str:
    shown = {k: format_decimal(v, locale=lang) if isinstance(v, int) else v
             for k, v in params.items()}
    return text.format(**shown) if shown else text


def is_page(request: Request) -> bool:
    """A request of the staff pages (answered in the user's language), not of ``/v1``."""
    path = request.url.path
    return not (path == "/v1" or path.startswith("/v1/") or path == "/openapi.json")


def _wants_page(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


async def _use_page_lang(request: Request) -> None:
    """Take the language of the logged-in user (or the ``lang`` cookie). The lookup must not
    fail the error answer itself: when the index is what is down, the default is used."""
    from api.web.common import current_user

    if not hasattr(request.state, "user"):
        try:
            user = await run_in_threadpool(current_user, request)
        except Exception:  # noqa: BLE001 - only the language is at stake
            log.debug("request %s: no user for the error page's language", request_id(
                request.scope), exc_info=True)
            user = None
        request.state.user = user
    user = request.state.user
    use_lang(user.lang if user else request.cookies.get("lang"))


async def answer(request: Request, status: int, message: str, hint: str = "", *, kind: str,
                 params: dict[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> Response:
    """The error answer: JSON, or the error page for a page opened in the browser."""
    rid = request_id(request.scope)
    params = params or {}
    if is_page(request):
        await _use_page_lang(request)
        lang = current_lang.get()
        detail = _fill(gettext(message), params, lang)
        todo = _fill(gettext(hint), params, lang) if hint else ""
    else:
        detail, todo = _fill(message, params, "en"), _fill(hint, params, "en")
    if is_page(request) and _wants_page(request):
        from api.web.common import render

        return render(request, "error.html", {"message": detail, "hint": todo,
                                              "request_id": rid},
                      status_code=status, headers=headers)
    body = {"detail": detail, "kind": kind, "request_id": rid}
    if todo:
        body["hint"] = todo
    return JSONResponse(body, status_code=status, headers=headers)


async def server_error(request: Request, status: int, error: BaseException) -> Response:
    """A plain 503 (storage unreachable) or 500 (anything else); the error itself, with its
    URLs, SQL and keys, is logged under the request id and goes no further."""
    rid = request_id(request.scope)
    log.error("request %s: %s %s failed with %d: %s", rid, request.method,
              _ID_RE.sub("***", request.url.path), status, error,
              exc_info=error if status == 500 else None)
    words = UNAVAILABLE if status == 503 else INTERNAL
    return await answer(request, status, words[0], words[1],
                        kind="Unavailable" if status == 503 else "InternalError",
                        headers={"Retry-After": "30"} if status == 503 else None)


async def dossier_error(request: Request, error: DossierError) -> Response:
    """A pipeline error with its class's HTTP status and its plain message and hint; a 5xx is
    a plain :func:`server_error`, and a message naming an object key or address says only
    that nothing was found (the message goes to the log)."""
    status = error.http_status
    if status >= 500:
        return await server_error(request, status, error)
    if "://" in error.message and not isinstance(error, InvalidParameterError):
        # An object key or address: said in the log, not to clients. (A route's own words
        # about the request, an example URL included, are shown as they are.)
        log.info("request %s: %s", request_id(request.scope), error)
        return await answer(request, status, *NOT_FOUND, kind=error.kind)
    return await answer(request, status, error.message, error.hint, kind=error.kind)
