"""Login, logout, language, and the administrators' user list."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.web.accounts import (
    check_password,
    hash_password,
    login_wait,
    throttle_keys,
)
from api.web.common import SESSION_COOKIE, current_user, render, require_user
from api.web.i18n import LANGS
from api.web.i18n import gettext as _
from models.accounts import Role, UserInfo
from models.errors import ConflictError

__all__ = ["router", "home_for"]

log = logging.getLogger(__name__)
router = APIRouter()


def home_for(request: Request, user: UserInfo) -> str:
    """Where a user lands: operators on the upload page when the app has one."""
    if user.role == Role.operator:
        from starlette.routing import NoMatchFound

        try:  # routers are nested in the app, so ask for the route by name
            return str(request.app.url_path_for("upload_page"))
        except NoMatchFound:
            return "/home"
    if user.role == Role.counter:
        return "/counter"
    return "/review"


def _safe_next(url: str | None) -> str | None:
    # Only paths on this site: never redirect a fresh login to another host.
    if url and url.startswith("/") and not url.startswith("//"):
        return url
    return None


@router.get("/", include_in_schema=False)
def root(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_for(request, user), status_code=303)


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _safe_next(next) or "", "error": None})


@router.post("/login", include_in_schema=False)
def login(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "") -> Response:
    index = request.app.state.index
    settings = request.app.state.settings
    name = username.strip()
    address = request.client.host if request.client else None
    keys = throttle_keys(name, address)
    wait = login_wait(index.login_failures(keys))
    if wait > 0:
        msg = _("Too many failed attempts. Try again in {seconds} seconds.").format(
            seconds=int(wait) + 1)
        return render(request, "login.html", {"next": next, "error": msg, "username": name},
                      status_code=429)
    if not check_password(index.password_hash(name), password):
        index.note_login_failure(keys)
        log.info("failed login from %s", address)
        return render(request, "login.html",
                      {"next": next, "error": _("Wrong user name or password."),
                       "username": name}, status_code=401)
    index.clear_login_failures(keys[:1])
    user = index.get_user(name)
    token = index.create_session(name, timedelta(hours=settings.session_hours))
    resp = RedirectResponse(_safe_next(next) or home_for(request, user), status_code=303)
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                    secure=settings.secure_cookies, max_age=int(settings.session_hours * 3600),
                    path="/")
    return resp


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        request.app.state.index.delete_session(token)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.post("/me/lang", include_in_schema=False)
def set_lang(request: Request, lang: Annotated[str, Form()],
             user: Annotated[UserInfo, Depends(require_user())],
             back: Annotated[str, Form()] = "/") -> Response:
    if lang in LANGS:
        request.app.state.index.update_user(user.name, lang=lang)
    return RedirectResponse(_safe_next(back) or "/", status_code=303)


@router.get("/admin/users", include_in_schema=False)
def users_page(request: Request,
               _admin: Annotated[UserInfo, Depends(require_user(Role.admin))]) -> Response:
    return render(request, "users.html", {"users": request.app.state.index.list_users(),
                                          "roles": list(Role), "error": None})


@router.post("/admin/users", include_in_schema=False)
def create_user(request: Request, name: Annotated[str, Form()], role: Annotated[str, Form()],
                password: Annotated[str, Form()],
                _admin: Annotated[UserInfo, Depends(require_user(Role.admin))],
                station: Annotated[str, Form()] = "") -> Response:
    index = request.app.state.index
    error = None
    try:
        index.create_user(name.strip(), hash_password(password), Role(role),
                          station=station.strip() or None)
    except ValueError:
        error = _("A password has at least 8 characters.")
    except ConflictError:
        error = _("A user with this name already exists.")
    if error:
        return render(request, "users.html", {"users": index.list_users(), "roles": list(Role),
                                              "error": error}, status_code=422)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{name}/disable", include_in_schema=False)
def disable_user(request: Request, name: str,
                 admin: Annotated[UserInfo, Depends(require_user(Role.admin))]) -> Response:
    if name != admin.name:
        request.app.state.index.update_user(name, disabled=True)
    return RedirectResponse("/admin/users", status_code=303)


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


@router.get("/home", include_in_schema=False)
def home(request: Request, user: Annotated[UserInfo, Depends(require_user())]) -> Response:
    return render(request, "home.html", {})
