"""API-key authentication for ``/v1``: the index decides whether a key holds a scope.

Keys are sent as ``Authorization: Bearer KEY``; a missing or wrong key gets 401, a key
without the scope (or ``*``) 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from models.records import ApiKeyInfo

__all__ = ["require_scope", "bearer"]

bearer = HTTPBearer(auto_error=False)


def require_scope(scope: str) -> Callable[..., ApiKeyInfo]:
    """A dependency that returns the calling key's description if it may use ``scope``."""

    def check(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None,
                                                 Depends(bearer)]) -> ApiKeyInfo:
        unauthorized = HTTPException(401, "a valid API key is required",
                                     headers={"WWW-Authenticate": "Bearer"})
        if creds is None or creds.scheme.lower() != "bearer":
            raise unauthorized
        idx = request.app.state.index
        info = idx.verify_api_key(creds.credentials)
        if info is None:
            raise unauthorized
        if not idx.key_allows(info, scope):
            raise HTTPException(403, f"this key lacks the {scope} scope")
        return info

    return check
