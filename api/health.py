"""``/healthz``: which part of the service is up. Each part is probed with a short timeout:
the object store (an authenticated call), the index (``SELECT 1``), the Prefect API, and the
workers (online in the work pool, as Prefect sees their heartbeats). The answer names parts
and their state only, never an address."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import httpx
import urllib3

from models.settings import Settings

__all__ = ["health", "stores_down", "with_waiting"]

log = logging.getLogger(__name__)

UP, DOWN, UNKNOWN, UNCONFIGURED = "up", "down", "unknown", "not configured"
_TIMEOUT = 2.0


def _s3(store: Any) -> str:
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=_TIMEOUT, read=_TIMEOUT),
                               retries=False)
    try:
        store.endpoint.client(http_client=http).bucket_exists(store.records_bucket)
    except Exception as e:  # noqa: BLE001 - any failure means the store is not usable
        log.warning("health: object store: %s", e)
        return DOWN
    finally:
        http.clear()
    return UP


def _index(index: Any) -> str:
    try:
        index.ping()
    except Exception as e:  # noqa: BLE001 - any failure means the index is not usable
        log.warning("health: index: %s", e)
        return DOWN
    return UP


def _prefect(settings: Settings) -> tuple[str, str, int]:
    """(Prefect's state, the workers' state, workers online)."""
    api = os.environ.get("PREFECT_API_URL")
    if not api:
        return UNCONFIGURED, UNCONFIGURED, 0
    try:
        with httpx.Client(base_url=api.rstrip("/"), timeout=_TIMEOUT) as c:
            if c.get("/health").status_code != 200:
                return DOWN, UNKNOWN, 0
            r = c.post(f"/work_pools/{settings.work_pool}/workers/filter", json={})
            r.raise_for_status()
            online = sum(w.get("status") == "ONLINE" for w in r.json())
    except (httpx.HTTPError, ValueError) as e:
        log.warning("health: Prefect: %s", e)
        return DOWN, UNKNOWN, 0
    return UP, (UP if online else DOWN), online


def health(settings: Settings, store: Any, index: Any) -> tuple[int, dict[str, Any]]:
    """The HTTP status (503 when a part is down) and the body."""
    prefect, workers, online = _prefect(settings)
    parts = {"s3": _s3(store), "index": _index(index), "prefect": prefect, "workers": workers}
    down = sorted(k for k, v in parts.items() if v == DOWN)
    body: dict[str, Any] = {"status": "degraded" if down else "ok", "parts": parts,
                            "workers_online": online}
    if down:
        body["down"] = down
    return (503 if down else 200), body


_probing = threading.Lock()
_STORES_MAX_AGE_S = 3.0


def stores_down(state: Any) -> list[str]:
    """The stores (``"s3"``, ``"index"``) this process cannot reach now: while one is down, an
    unfinished batch waits for it (its worker retries, nothing is lost). Probed at most every
    few seconds, the answer shared by every request of the process (``state``: the app's)."""
    with _probing:
        seen = getattr(state, "stores_down_seen", None)
        if seen is not None and time.monotonic() - seen[0] < _STORES_MAX_AGE_S:
            return list(seen[1])
        down = [name for name, state_of in (("s3", lambda: _s3(state.store)),
                                            ("index", lambda: _index(state.index)))
                if state_of() == DOWN]
        state.stores_down_seen = (time.monotonic(), down)
        return list(down)


def with_waiting(state: Any, status: Any) -> Any:
    """The batch's status (:class:`models.batches.BatchStatus`) with the stores it waits for,
    if it is unfinished."""
    from models.batches import BatchState

    if status.state != BatchState.finished:
        status.waiting_for = stores_down(state)
    return status
