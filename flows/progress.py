"""Progress events from running tasks to whoever shows them (the CLI's progress bar)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ProgressEvent", "set_listener", "emit"]


@dataclass(frozen=True)
class ProgressEvent:
    kind: str  # "pages_planned" | "page_done" | "dossier_done" | "file_failed"
    dossier: str
    count: int = 1
    detail: str = ""


_listener: Callable[[ProgressEvent], None] | None = None
_lock = threading.Lock()


def set_listener(fn: Callable[[ProgressEvent], None] | None) -> None:
    global _listener
    _listener = fn


def emit(event: ProgressEvent) -> None:
    fn = _listener
    if fn is not None:
        with _lock:
            fn(event)
