"""Process-wide handles the tasks share: settings, object store, index, document types.

Opened once per process; Prefect tasks get identifiers and keys, never images or clients.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from models.settings import Settings
from storage.private import private_dir

__all__ = ["configure_prefect", "Runtime", "get_runtime", "set_runtime"]


def configure_prefect(settings: Settings) -> None:
    """Environment Prefect reads at import: embedded by default, quiet, no analytics."""
    home = private_dir((settings.data_dir / "prefect").resolve())
    os.environ.setdefault("PREFECT_HOME", str(home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
    os.environ.setdefault("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")


class Runtime:
    def __init__(self, settings: Settings, doctypes_dir: Path | None = None):
        from extraction import load_doctypes
        from storage.batches import BatchLedger
        from storage.index import RecordIndex
        from storage.objects import open_object_store
        from storage.records import RecordStore

        self.settings = settings
        self.store = open_object_store(settings)
        self.index = RecordIndex(settings.resolved_index_url())
        self.ledger = BatchLedger(self.index)
        self.records = RecordStore(self.store, self.index)
        self.doctypes = load_doctypes(doctypes_dir or settings.doctypes_dir)
        self.cache_dir = private_dir((settings.data_dir / "cache" / "originals").resolve())

    def close(self) -> None:
        self.index.close()


_runtime: Runtime | None = None
_lock = threading.Lock()


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def get_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            from models.settings import get_settings

            _runtime = Runtime(get_settings())
        return _runtime
