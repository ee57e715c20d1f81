"""API-key authentication for ``/v1``: the index decides whether a key holds a scope.

Keys are sent as ``Authorization: Bearer KEY``; a missing or wrong key gets 401, a key
without the scope (or ``*``) 403. A key found valid is trusted for ``DOSSIER_API_KEY_CACHE_S``
(5 s) in each web process, so a busy client does not cost an index transaction per request;
a revoked key stops working within that time.

Reads of citizen data also need a purpose (:func:`required_purpose`): a procedure code and,
optionally, words, from the ``X-Purpose`` header or the ``purpose`` parameter.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import PlainHTTPError
from models.access import PURPOSE_CODE_RE, Purpose
from models.records import ApiKeyInfo

__all__ = ["require_scope", "any_scope", "bearer", "verify_key", "required_purpose",
           "KeyCache", "PURPOSE_HEADER", "METRICS_READ"]

bearer = HTTPBearer(auto_error=False)
PURPOSE_HEADER = "X-Purpose"
METRICS_READ = "metrics:read"  # /v1/metrics/summary and Prometheus' /metrics
_CACHE_MAX = 10_000


class KeyCache:
    """Keys verified recently, by a hash of the whole key (the plaintext is not kept)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl = ttl_s
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[float, ApiKeyInfo]] = {}

    def get(self, key: str) -> ApiKeyInfo | None:
        if self.ttl <= 0:
            return None
        h = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
        with self._lock:
            found = self._keys.get(h)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: str, info: ApiKeyInfo) -> None:
        if self.ttl <= 0:
            return
        h = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
        with self._lock:
            if len(self._keys) >= _CACHE_MAX:
                self._keys.clear()
            self._keys[h] = (time.monotonic() + self.ttl, info)


def _unauthorized() -> PlainHTTPError:
    return PlainHTTPError(401, "a valid API key is required",
                          "send it as Authorization: Bearer KEY", kind="Unauthorized",
                          headers={"WWW-Authenticate": "Bearer"})


async def verify_key(request: Request, creds: HTTPAuthorizationCredentials | None) -> ApiKeyInfo:
    """The calling key, checked against the recent-keys cache (no thread), else against the
    index in the thread pool; 401 if it is not valid."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise _unauthorized()
    cache: KeyCache | None = getattr(request.app.state, "key_cache", None)
    info = cache.get(creds.credentials) if cache is not None else None
    if info is None:
        info = await run_in_threadpool(request.app.state.index.verify_api_key, creds.credentials)
        if info is None:
            raise _unauthorized()
        if cache is not None:
            cache.put(creds.credentials, info)
    request.state.api_key = info
    return info


def any_scope(*scopes: str) -> Callable[..., Awaitable[ApiKeyInfo]]:
    """A dependency that returns the calling key's description if it holds one of
    ``scopes`` (or ``*``)."""

    async def check(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None,
                                                       Depends(bearer)]) -> ApiKeyInfo:
        info = await verify_key(request, creds)
        if not any(s in info.scopes for s in scopes) and "*" not in info.scopes:
            raise PlainHTTPError(403, "this key lacks the {scope} scope",
                                 "ask for a key with that scope", kind="Forbidden",
                                 scope=" or ".join(scopes))
        return info

    return check


def require_scope(scope: str) -> Callable[..., Awaitable[ApiKeyInfo]]:
    """A dependency that returns the calling key's description if it may use ``scope``."""
    return any_scope(scope)


def parse_purpose(raw: str) -> Purpose | None:
    """``CODE`` or ``CODE; words`` (words may be percent-encoded UTF-8); None if no code."""
    code, _, words = raw.partition(";")
    code = code.strip()
    if not PURPOSE_CODE_RE.match(code):
        return None
    text = unquote(words.strip()) if "%" in words else words.strip()
    return Purpose(code=code, text=text[:500] or None)


async def required_purpose(
        request: Request,
        purpose: Annotated[str | None, Query(
            description="why the data is read, when no X-Purpose header is sent: "
                        "PROCEDURE-CODE or PROCEDURE-CODE; words",
            # Documented with the X-Purpose header (api.schema.PURPOSE_PARAM), which the
            # OpenAPI gives as the way.
            include_in_schema=False)] = None) -> Purpose:
    """The purpose of a read of citizen data; 400 without one."""
    raw = request.headers.get(PURPOSE_HEADER)
    if raw is not None:
        try:  # a header sent as UTF-8 bytes arrives decoded as Latin-1
            raw = raw.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    raw = raw if raw is not None else purpose
    found = parse_purpose(raw) if raw else None
    if found is None:
        raise PlainHTTPError(
            400, "a purpose is required to read citizen data",
            "send X-Purpose: PROCEDURE-CODE; words (or the purpose parameter), e.g. "
            "X-Purpose: 1.004227; Đăng ký thường trú", kind="PurposeRequired")
    return found
