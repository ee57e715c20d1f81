"""The web app: ``/v1`` REST for other systems (API keys, see :mod:`api.auth`) and the pages
for staff (sessions, roles, CSRF, see :mod:`api.web`). Errors are turned into HTTP answers
here, in one place."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import errors
from api.middleware import RequestContext, request_id
from api.schema import Health
from api.web.csrf import CsrfMiddleware, CsrfProblem
from models.errors import DossierError
from models.settings import Settings

__all__ = ["create_app", "served_app", "redact_access_log"]

log = logging.getLogger(__name__)

_ID_RE = re.compile(r"\d{9,12}")
SWITCH_INTERVAL_S = 0.001


class _RedactIds(logging.Filter):
    """Access-log lines carry request paths, and paths carry citizen IDs: mask them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_ID_RE.sub("***", a) if isinstance(a, str) else a
                                for a in record.args)
        record.msg = _ID_RE.sub("***", str(record.msg))
        return True


_KINDS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict",
          422: "InvalidRequest"}


def _invalid(e: RequestValidationError) -> str:
    """FastAPI's validation errors in one sentence: where and what, per error."""
    said = []
    for err in e.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        said.append(f"{where}: {err.get('msg', 'not valid')}" if where else
                    str(err.get("msg", "not valid")))
    return "; ".join(said) or "the request is not valid"


def _allowed(app: FastAPI, request: Request) -> str:
    """The methods of every route of the request's path (Starlette's 405 names only the
    first route that matched the path)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        found = getattr(route, "methods", None)
        if found and match != Match.NONE:
            methods |= set(found)
            if "GET" in found:
                methods.add("HEAD")
    return ", ".join(sorted(methods))


def redact_access_log() -> None:
    logging.getLogger("uvicorn.access").addFilter(_RedactIds())


def _docs_page(title: str) -> Response:
    """Swagger UI from the ``swagger-ui-bundle`` package's files, started by a script of our
    own (no inline script, as the pages' Content-Security-Policy wants)."""
    from html import escape

    from fastapi.responses import HTMLResponse

    return HTMLResponse(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} - API</title>
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
<link rel="icon" href="data:,"></head>
<body><div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script></body></html>""")


def _doctypes(doctypes_dir: Any = None) -> list[Any]:
    from extraction import load_doctypes

    return load_doctypes(doctypes_dir)


def _field_kinds(doctypes_dir: Any = None) -> dict[str, dict[str, str]]:
    return {d.id: {f.name: f.type for f in d.fields} for d in _doctypes(doctypes_dir)}


def create_app(settings: Settings, *, store: Any = None, index: Any = None) -> FastAPI:
    """The app; ``store``/``index`` may be given (tests), else opened from settings."""
    from datetime import timedelta

    from fastapi.staticfiles import StaticFiles

    from api import access, batches, events, metrics, pdf, records
    from api.web import (
        access_pages,
        auth_pages,
        counter_pages,
        dashboard_pages,
        review_pages,
        upload_pages,
    )
    from api.web.common import (
        HERE,
        SESSION_COOKIE,
        Forbidden,
        LoginRequired,
        render,
        signing_secret,
        wants_html,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from review.service import ReviewService
        from storage.index import RecordIndex
        from storage.objects import open_object_store

        app.state.index = index or RecordIndex(settings.resolved_index_url())
        app.state.store = store or open_object_store(settings)
        app.state.review = ReviewService(app.state.store, app.state.index,
                                         _field_kinds(settings.doctypes_dir),
                                         lease=timedelta(minutes=settings.lease_minutes),
                                         doctypes=_doctypes(settings.doctypes_dir),
                                         calibration=settings.resolved_calibration(),
                                         review_threshold=settings.review_threshold)
        # Webhooks go out from a thread of every replica (the outbox's leases keep two from
        # sending the same attempt).
        delivery = None
        if settings.webhook_delivery:
            from storage.webhooks import WebhookDelivery

            delivery = WebhookDelivery.from_settings(app.state.index, settings).start()
        # The access log goes on to the object store from every replica (storage.access).
        from storage.access import AccessArchiver, AccessLog, AccessWriter

        # A thread that waited on the index or S3 gets the interpreter back within 1 ms of
        # asking (Python's default is 5 ms) while the event loop keeps it busy: the access
        # writer's commit, which every lookup waits for, hands it over several times.
        # Python's own again when the app stops.
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)

        app.state.access_writer = AccessWriter(AccessLog(app.state.index))

        archiver = AccessArchiver(AccessLog(app.state.index, app.state.store),
                                  settings.access_archive_s).start()
        try:
            yield
        finally:
            archiver.stop()
            if delivery is not None:
                delivery.stop()
            if index is None:
                app.state.index.close()
            sys.setswitchinterval(switch_interval)

    # /docs is served from this app's own static files (no CDN), see _docs_page.
    app = FastAPI(title="Dossier record store", version="1", lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    from api.auth import KeyCache

    app.state.key_cache = KeyCache(settings.api_key_cache_s)
    app.state.record_cache = records.RecordCache(settings.record_cache_size)

    async def csrf_refused(scope: Any, receive: Any, send: Any, problem: CsrfProblem) -> None:
        request = Request(scope, receive)
        log.warning("request %s: refused %s %s: %s", request_id(scope), request.method,
                    _ID_RE.sub("***", request.url.path), problem.reason)
        resp = await errors.answer(request, problem.status, problem.message, problem.hint,
                                   kind="CsrfError")
        await resp(scope, receive, send)

    async def crashed(scope: Any, receive: Any, send: Any, error: BaseException) -> None:
        resp = await errors.server_error(Request(scope, receive), 500, error)
        await resp(scope, receive, send)

    # The last added runs first: the request id and headers wrap everything, CSRF included.
    app.add_middleware(CsrfMiddleware, secret=signing_secret(settings),
                       secure=settings.secure_cookies, session_cookie=SESSION_COOKIE,
                       refuse=csrf_refused)
    app.add_middleware(RequestContext, crash=crashed)

    app.add_exception_handler(DossierError, errors.dossier_error)  # type: ignore[arg-type]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> Response:
        if isinstance(e, errors.PlainHTTPError):
            return await errors.answer(request, e.status_code, e.message, e.hint,
                                       kind=e.kind or "HTTPError", params=e.params,
                                       headers=e.headers)
        if e.status_code in (204, 304):
            return Response(status_code=e.status_code, headers=e.headers)
        headers = e.headers
        if e.status_code == 405:  # every method the path has, not only its first route's
            headers = {**(e.headers or {}), "Allow": _allowed(app, request)}
        return JSONResponse({"detail": e.detail, "kind": _KINDS.get(e.status_code, "HTTPError"),
                             "request_id": request_id(request.scope)},
                            status_code=e.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, e: RequestValidationError) -> Response:
        """``/v1`` says what is not valid in its own error body (as its OpenAPI declares);
        the pages keep FastAPI's answer."""
        if errors.is_page(request):
            return await request_validation_exception_handler(request, e)
        return await errors.answer(request, 422, _invalid(e), kind="InvalidRequest")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        if wants_html(request):
            from api.web.auth_pages import login_redirect

            return login_redirect(request)
        return await errors.answer(request, 401, *errors.LOGIN, kind="LoginRequired")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, e: Forbidden) -> Response:
        if wants_html(request):
            from api.web.i18n import gettext

            words = ", ".join(gettext(r.value) for r in e.needed)
            return render(request, "forbidden.html", {"needed_words": words}, status_code=403)
        return await errors.answer(request, 403, *errors.ROLE, kind="Forbidden")

    @app.get("/docs", include_in_schema=False)
    def docs_page() -> Response:
        return _docs_page(app.title)

    @app.get("/healthz", response_model=Health,
             responses={503: {"model": Health, "description": "a part is down"}})
    def healthz() -> JSONResponse:
        from api.health import health

        status, body = health(settings, app.state.store, app.state.index)
        return JSONResponse(body, status_code=status)

    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger-ui", StaticFiles(directory=str(swagger_ui_path)),
              name="swagger-ui")
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(records.router)
    app.include_router(auth_pages.router)
    app.include_router(review_pages.router)
    app.include_router(batches.router)
    app.include_router(upload_pages.router)  # the upload page, on the code of /v1/batches
    app.include_router(pdf.router)
    app.include_router(events.router)
    app.include_router(access.router)
    app.include_router(access_pages.router)
    app.include_router(metrics.router)
    app.include_router(counter_pages.router)
    app.include_router(dashboard_pages.router)
    return app


def served_app() -> FastAPI:
    """The app as each process of ``dossier serve --web-workers N`` builds it (settings from
    the environment, as the command that started it read them)."""
    from models.settings import get_settings

    redact_access_log()
    return create_app(get_settings())
