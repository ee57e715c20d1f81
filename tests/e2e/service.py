"""Helpers for tests that run the real processes: `dossier serve`, `dossier worker`, a
Prefect server; each started in a session of its own and stopped by its process group."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.measure import descendants as descendants  # every process below a pid
from tests.e2e.test_pipeline import DOSSIER_BIN, free_port

FINAL = {"done", "needs_review", "duplicate", "failed"}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    out = log.open("ab")
    try:
        return subprocess.Popen([str(DOSSIER_BIN), *args], env=env, cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        out.close()


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        raise AssertionError(f"{proc.args} did not stop within {timeout} s") from None


def serve(env: dict[str, str], cwd: Path, *extra: str, timeout: float = 180,
          healthy: bool = True) -> tuple[subprocess.Popen, str]:
    """`dossier serve` started and answering; ``healthy``: every part up (/healthz 200), else
    only answering (a replica whose workers are not started yet says 503)."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    proc = start(["serve", "--port", str(port), *extra], env, cwd, log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dossier serve exited: {log.read_text()[-3000:]}")
        try:
            code = httpx.get(f"{base}/healthz", timeout=5).status_code
            if code == 200 or (code == 503 and not healthy):
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop(proc)
    raise AssertionError(f"dossier serve did not answer in {timeout} s: {log.read_text()[-3000:]}")


def upload(base: str, key: str, files: list[tuple[str, bytes]], **fields: str) -> httpx.Response:
    parts = [("files", (name, io.BytesIO(data), "application/octet-stream"))
             for name, data in files]
    return httpx.post(f"{base}/v1/batches", headers={"Authorization": f"Bearer {key}"},
                      files=parts, data=fields, timeout=120)


def wait_finished(base: str, key: str, batch_id: str, timeout: float = 400) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = httpx.get(f"{base}/v1/batches/{batch_id}",
                           headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
        live = [f for f in status["files"] if f["replaced_by"] is None]
        if status["state"] == "finished" and all(f["stage"] in FINAL for f in live):
            return status
        time.sleep(0.5)
    raise AssertionError(f"batch {batch_id} did not finish in {timeout} s: {status}")


@contextmanager
def app_served(app: Any) -> Iterator[str]:
    """The app served over HTTP by uvicorn on a free 127.0.0.1 port, from a thread of this
    process; yields its base URL and stops it on exit."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
