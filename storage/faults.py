"""Which storage faults are outages: the object store or the index unreachable for a while
(a server restarting, a network cut), as opposed to a fault of the data itself. An outage is
waited out and the work retried; it never fails a file."""

from __future__ import annotations

import urllib3
from minio.error import S3Error
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from models.errors import StorageError

__all__ = ["is_outage"]

_S3_BUSY = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"})


def _one(e: BaseException) -> bool:
    if isinstance(e, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True  # the database went away, is restarting, or is locked for too long
    if isinstance(e, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError):
        return True
    if isinstance(e, S3Error):
        status = getattr(e.response, "status", None)
        return e.code in _S3_BUSY or (status is not None and status >= 500)
    return False


def is_outage(e: BaseException) -> bool:
    """``e`` is a :class:`StorageError` (or the index's or S3's own error) caused by a store
    being unreachable or overloaded, not by what was asked of it."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if _one(cur):
            return True
        if isinstance(cur, StorageError) and getattr(cur, "outage", False):
            return True
        cur = cur.__cause__ or cur.__context__
    return False
