"""The web app: ``/v1`` REST for other systems (API keys, see :mod:`api.auth`) and the pages
for staff (sessions, roles, CSRF, see :mod:`api.web`). Errors are turned into HTTP answers
here, in one place."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from models.errors import ConflictError, DossierError, NotFoundError, ReviewError, StorageError
from models.settings import Settings

__all__ = ["create_app", "redact_access_log"]

log = logging.getLogger(__name__)

_ID_RE = re.compile(r"\d{9,12}")


class _RedactIds(logging.Filter):
    """Access-log lines carry request paths, and paths carry citizen IDs: mask them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_ID_RE.sub("***", a) if isinstance(a, str) else a
                                for a in record.args)
        record.msg = _ID_RE.sub("***", str(record.msg))
        return True


def redact_access_log() -> None:
    logging.getLogger("uvicorn.access").addFilter(_RedactIds())


class CsrfMiddleware:
    """``asgi-csrf`` (double-submit cookie, signed) as Starlette middleware. Pages send the
    token as the ``csrftoken`` form field or the ``x-csrftoken`` header; ``/v1`` uses API keys
    and no cookies, so it is exempt."""

    def __init__(self, app: Any, *, secret: str, secure: bool) -> None:
        from asgi_csrf import asgi_csrf

        self.inner = asgi_csrf(app, signing_secret=secret, cookie_secure=secure,
                               cookie_samesite="Strict",
                               always_protect={"/login", "/logout"},
                               skip_if_scope=lambda scope: scope["path"].startswith("/v1/"))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.inner(scope, receive, send)


def _field_kinds(doctypes_dir: Any = None) -> dict[str, dict[str, str]]:
    from extraction import load_doctypes

    return {d.id: {f.name: f.type for f in d.fields} for d in load_doctypes(doctypes_dir)}


def create_app(settings: Settings, *, store: Any = None, index: Any = None) -> FastAPI:
    """The app; ``store``/``index`` may be given (tests), else opened from settings."""
    from datetime import timedelta

    from fastapi.staticfiles import StaticFiles

    from api import batches, pdf, records
    from api.web import auth_pages, review_pages
    from api.web.common import HERE, Forbidden, LoginRequired, render, signing_secret, wants_html

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from review.service import ReviewService
        from storage.index import RecordIndex
        from storage.objects import open_object_store

        app.state.index = index or RecordIndex(settings.resolved_index_url())
        app.state.store = store or open_object_store(settings)
        app.state.review = ReviewService(app.state.store, app.state.index,
                                         _field_kinds(settings.doctypes_dir),
                                         lease=timedelta(minutes=settings.lease_minutes))
        try:
            yield
        finally:
            if index is None:
                app.state.index.close()

    app = FastAPI(title="Dossier record store", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.add_middleware(CsrfMiddleware, secret=signing_secret(settings),
                       secure=settings.secure_cookies)

    @app.exception_handler(DossierError)
    async def dossier_error(request: Request, e: DossierError) -> Response:
        status = (404 if isinstance(e, NotFoundError) else 503 if isinstance(e, StorageError)
                  else 409 if isinstance(e, ConflictError)
                  else 422 if isinstance(e, ReviewError) else 500)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, e.kind)
        return JSONResponse({"detail": e.message, "hint": e.hint, "kind": e.kind},
                            status_code=status)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        if wants_html(request):
            from api.web.auth_pages import login_redirect

            return login_redirect(request)
        return JSONResponse({"detail": "log in first", "kind": "LoginRequired"},
                            status_code=401)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, e: Forbidden) -> Response:
        if wants_html(request):
            from api.web.i18n import gettext

            words = ", ".join(gettext(r.value) for r in e.needed)
            return render(request, "forbidden.html", {"needed_words": words}, status_code=403)
        return JSONResponse({"detail": "your role does not allow this", "kind": "Forbidden"},
                            status_code=403)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(records.router)
    app.include_router(auth_pages.router)
    app.include_router(review_pages.router)
    app.include_router(batches.router)
    app.include_router(pdf.router)
    return app
