"""Storage: the S3 object store (source of truth), the SQL index (a rebuildable projection),
and the embedded S3 server used when no object store is configured.

Submodules import their drivers (minio, SQLAlchemy) only when used, so importing
``storage`` itself is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "EmbeddedS3",
    "S3Endpoint",
    "ObjectStore",
    "OriginalRef",
    "OriginalInfo",
    "RecordVersion",
    "open_object_store",
    "RecordIndex",
]

_HOME = {
    "EmbeddedS3": "storage.embedded",
    "S3Endpoint": "storage.embedded",
    "ObjectStore": "storage.objects",
    "OriginalRef": "storage.objects",
    "OriginalInfo": "storage.objects",
    "RecordVersion": "storage.objects",
    "open_object_store": "storage.objects",
    "RecordIndex": "storage.index",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
