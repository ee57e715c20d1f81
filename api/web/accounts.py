"""Passwords (Argon2 through ``argon2-cffi``) and slowing down failed logins per account and
per address."""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from models.errors import WeakPasswordError
from models.records import utcnow

__all__ = ["hash_password", "check_password", "login_wait", "throttle_keys", "MIN_PASSWORD"]

_hasher = PasswordHasher()
MIN_PASSWORD = 8
# Failures allowed before waiting, per account and per address (an office's clerks often
# share one address, so it gets more); then the wait doubles per failure up to the cap.
FREE_FAILURES = 3
FREE_FAILURES_PER_ADDRESS = 20
MAX_WAIT = timedelta(minutes=5)
# A hash to verify against when the account does not exist, so timing does not tell.
_DUMMY = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise WeakPasswordError(f"a password has at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def throttle_keys(name: str, address: str | None) -> list[str]:
    return [f"user:{name.strip().lower()}", f"addr:{address or 'unknown'}"]


def login_wait(failures: list[tuple[str, int, datetime]], now: datetime | None = None) -> float:
    """Seconds to wait before the next attempt, given (key, count, last failure) per key."""
    now = now or utcnow()
    wait = 0.0
    for key, count, last in failures:
        free = FREE_FAILURES_PER_ADDRESS if key.startswith("addr:") else FREE_FAILURES
        if count < free:
            continue
        delay = min(MAX_WAIT, timedelta(seconds=2 ** min(count - free, 20)))
        wait = max(wait, (last + delay - now).total_seconds())
    return max(0.0, wait)
