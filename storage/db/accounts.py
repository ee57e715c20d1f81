"""Accounts: the people who use the pages (users, their sessions, login throttling) and the
other systems that use ``/v1`` (API keys). Secrets are kept only as hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Boolean, ForeignKey, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from models.accounts import Role, UserInfo
from models.errors import ConflictError, NotFoundError
from models.records import ApiKeyInfo, utcnow
from storage.db.engine import Database
from storage.db.schema import Base, PortableJSON, UTCDateTime

__all__ = ["Accounts", "UserRow", "WebSessionRow", "LoginFailureRow", "ApiKeyRow",
           "API_KEY_PREFIX"]

API_KEY_PREFIX = "dsk"


class UserRow(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    lang: Mapped[str] = mapped_column(String(10), default="vi")
    station: Mapped[str | None] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebSessionRow(Base):
    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(
        String(100), ForeignKey("users.name", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoginFailureRow(Base):
    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(PortableJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    agency: Mapped[str | None] = mapped_column(String(200))  # migration 0009
    doctypes: Mapped[list[str] | None] = mapped_column(PortableJSON)  # None: every type


def _hash_secret(secret: str) -> str:
    # API key secrets are 256-bit random tokens: a fast hash is enough, no password KDF needed.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Accounts(Database):
    """Users, their sessions and login failures; API keys."""

    # -- users, sessions, login throttling ---------------------------------------------------

    @staticmethod
    def _user(row: UserRow) -> UserInfo:
        return UserInfo(name=row.name, role=Role(row.role), lang=row.lang, station=row.station,
                        disabled=bool(row.disabled), created_at=row.created_at)

    def create_user(self, name: str, password_hash: str, role: Role, *, lang: str = "vi",
                    station: str | None = None) -> UserInfo:
        with self.transaction(f"create user {name!r}", write=True) as s:
            if s.get(UserRow, name) is not None:
                raise ConflictError(f"a user named {name!r} already exists",
                                    hint="choose another name, or disable the old account")
            row = UserRow(name=name, password_hash=password_hash, role=str(role), lang=lang,
                          station=station, disabled=False, created_at=utcnow())
            s.add(row)
            return self._user(row)

    def get_user(self, name: str) -> UserInfo | None:
        with self.transaction(f"read user {name!r}") as s:
            row = s.get(UserRow, name)
            return self._user(row) if row is not None else None

    def password_hash(self, name: str) -> str | None:
        """The stored hash of an enabled user's password, or None."""
        with self.transaction("check a login") as s:
            row = s.get(UserRow, name)
            return row.password_hash if row is not None and not row.disabled else None

    def update_user(self, name: str, *, password_hash: str | None = None,
                    disabled: bool | None = None, lang: str | None = None,
                    role: Role | None = None) -> UserInfo:
        with self.transaction(f"update user {name!r}", write=True) as s:
            row = s.get(UserRow, name)
            if row is None:
                raise NotFoundError(f"no user named {name!r}")
            if password_hash is not None:
                row.password_hash = password_hash
            if disabled is not None:
                row.disabled = disabled
                if disabled:
                    s.execute(delete(WebSessionRow).where(WebSessionRow.user_name == name))
            if lang is not None:
                row.lang = lang
            if role is not None:
                row.role = str(role)
            return self._user(row)

    def list_users(self) -> list[UserInfo]:
        with self.transaction("list users") as s:
            return [self._user(r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]

    def create_session(self, user: str, ttl: timedelta) -> str:
        """A new session for ``user``: the token for the cookie (only its hash is kept)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.transaction("open a session", write=True) as s:
            s.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
            s.add(WebSessionRow(token_hash=_hash_secret(token), user_name=user, created_at=now,
                                expires_at=now + ttl))
        return token

    def session_user(self, token: str, *, extend: timedelta | None = None) -> UserInfo | None:
        """The enabled user a live session token belongs to; optionally slides its expiry."""
        now = utcnow()
        with self.transaction("check a session", write=extend is not None) as s:
            sess = s.get(WebSessionRow, _hash_secret(token))
            if sess is None or sess.expires_at <= now:
                return None
            row = s.get(UserRow, sess.user_name)
            if row is None or row.disabled:
                return None
            if extend is not None and sess.expires_at - now < extend / 2:
                sess.expires_at = now + extend
            return self._user(row)

    def delete_session(self, token: str) -> None:
        with self.transaction("close a session", write=True) as s:
            s.execute(delete(WebSessionRow).where(WebSessionRow.token_hash == _hash_secret(token)))

    def login_failures(self, keys: Sequence[str]) -> list[tuple[str, int, datetime]]:
        """(key, failures, last failure) of the keys that have failures."""
        with self.transaction("check login failures") as s:
            rows = s.scalars(select(LoginFailureRow).where(LoginFailureRow.key.in_(list(keys))))
            return [(r.key, r.failures, r.last_at) for r in rows]

    def note_login_failure(self, keys: Sequence[str]) -> None:
        now = utcnow()
        with self.transaction("count a login failure", write=True) as s:
            for k in keys:
                s.execute(self.insert(LoginFailureRow).values(key=k, failures=0, last_at=now)
                          .on_conflict_do_nothing(index_elements=[LoginFailureRow.key]))
                row = s.get(LoginFailureRow, k, with_for_update=True)
                assert row is not None
                row.failures += 1
                row.last_at = now

    def clear_login_failures(self, keys: Sequence[str]) -> None:
        with self.transaction("clear login failures", write=True) as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.key.in_(list(keys))))

    # -- API keys ----------------------------------------------------------------------------

    def create_api_key(self, name: str, scopes: Sequence[str], *, agency: str | None = None,
                       doctypes: Sequence[str] | None = None) -> tuple[str, ApiKeyInfo]:
        """A new API key: the plaintext (shown once, never stored) and its description.

        The plaintext looks like ``dsk_<key_id>_<secret>``; only a hash of the secret is kept.
        ``agency`` is named in every access record of its reads; ``doctypes`` limits the
        document types it may read (None: every type).
        """
        scope_list = sorted({str(sc).strip() for sc in scopes if str(sc).strip()})
        if not scope_list:
            raise ValueError("an API key needs at least one scope")
        types = None if doctypes is None else sorted({d.strip() for d in doctypes if d.strip()})
        if types is not None and not types:
            raise ValueError("a key limited to document types needs at least one type")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        row = ApiKeyRow(key_id=key_id, name=name, key_hash=_hash_secret(secret),
                        scopes=scope_list, created_at=utcnow(), revoked=False,
                        agency=(agency or "").strip() or None, doctypes=types)
        info = self._key_info(row)
        with self.transaction(f"create API key {name!r}", write=True) as s:
            s.add(row)
        return f"{API_KEY_PREFIX}_{key_id}_{secret}", info

    @staticmethod
    def _key_info(row: ApiKeyRow) -> ApiKeyInfo:
        return ApiKeyInfo(key_id=row.key_id, name=row.name, scopes=list(row.scopes),
                          created_at=row.created_at, revoked=bool(row.revoked),
                          agency=row.agency,
                          doctypes=None if row.doctypes is None else list(row.doctypes))

    def verify_api_key(self, key: str, scope: str | None = None) -> ApiKeyInfo | None:
        """The key's description if it is valid, not revoked and has ``scope`` (or ``*``)."""
        parts = key.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not parts[1] or not parts[2]:
            return None
        _, key_id, secret = parts
        with self.transaction("check an API key") as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                # Same work as a real check, so timing does not tell which key ids exist.
                hmac.compare_digest(_hash_secret(secret), "0" * 64)
                return None
            info = self._key_info(row)
            stored = row.key_hash
        if not hmac.compare_digest(_hash_secret(secret), stored) or info.revoked:
            return None
        if scope is not None and not self.key_allows(info, scope):
            return None
        return info

    @staticmethod
    def key_allows(info: ApiKeyInfo, scope: str) -> bool:
        """Whether a key may use ``scope``: it names it, or it holds ``*`` (every scope)."""
        return scope in info.scopes or "*" in info.scopes

    def list_api_keys(self) -> list[ApiKeyInfo]:
        with self.transaction("list API keys") as s:
            rows = s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.key_id))
            return [self._key_info(r) for r in rows]

    def revoke_api_key(self, key_id: str) -> ApiKeyInfo:
        """Revoke a key for good; raises :class:`NotFoundError` if there is no such key."""
        with self.transaction(f"revoke API key {key_id}", write=True) as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(f"no API key with id {key_id!r}")
            row.revoked = True
            return self._key_info(row)
