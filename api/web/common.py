"""What every page shares: templates with the message catalogues, the logged-in user, roles,
and the errors that become a login redirect or a 403 page."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from api.web.i18n import LANGS, gettext, ngettext, use_lang
from models.accounts import Role, UserInfo
from models.settings import Settings

__all__ = ["SESSION_COOKIE", "templates", "render", "LoginRequired", "Forbidden",
           "current_user", "require_user", "signing_secret", "wants_html"]

SESSION_COOKIE = "dossier_session"
HERE = Path(__file__).resolve().parent

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
templates.env.filters["tojson_attr"] = lambda v: Markup(json.dumps(v, ensure_ascii=False))


class LoginRequired(Exception):
    """No valid session: pages redirect to the login page, JSON calls get 401."""


class Forbidden(Exception):
    """Logged in, but the role does not allow this."""

    def __init__(self, needed: tuple[Role, ...]):
        self.needed = needed


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept or (request.method == "GET" and "json" not in accept)


def current_user(request: Request) -> UserInfo | None:
    if hasattr(request.state, "user"):
        # Sync dependencies run in another thread's context: set the language here too.
        cached: UserInfo | None = request.state.user
        use_lang(cached.lang if cached else request.cookies.get("lang"))
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token:
        from datetime import timedelta

        settings: Settings = request.app.state.settings
        user = request.app.state.index.session_user(
            token, extend=timedelta(hours=settings.session_hours))
    request.state.user = user
    use_lang(user.lang if user else request.cookies.get("lang"))
    return user


def require_user(*roles: Role) -> Callable[[Request], UserInfo]:
    """A dependency: the logged-in user, who must hold one of ``roles`` (admins hold all)."""

    def dep(request: Request) -> UserInfo:
        user = current_user(request)
        if user is None:
            raise LoginRequired()
        if roles and not user.has_role(*roles):
            raise Forbidden(roles)
        return user

    return dep


def render(request: Request, name: str, ctx: dict[str, Any] | None = None, *,
           status_code: int = 200, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    user = current_user(request)
    token_fn = request.scope.get("csrftoken")
    base = {"request": request, "user": user, "langs": LANGS,
            "csrftoken": token_fn() if callable(token_fn) else "", "Role": Role}
    base.update(ctx or {})
    return templates.TemplateResponse(request, name, base, status_code=status_code,
                                      headers=headers)


def signing_secret(settings: Settings) -> str:
    """The secret that signs CSRF tokens: the setting, else one kept under the data dir."""
    configured = settings.secret_key.get_secret_value()
    if configured:
        return configured
    path = settings.data_dir / "secret_key"
    if not path.exists():
        from storage.private import private_dir

        private_dir(path.parent)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # the first writer wins; replicas on one disk agree
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()
