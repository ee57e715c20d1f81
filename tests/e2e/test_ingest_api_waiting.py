"""`dossier ingest --api` tells the operator when the batch it follows waits for storage and
when it goes on: the S3 server a `dossier serve` uses is killed mid-batch and started again on
its address; the command says once that the batch waits and nothing is lost, once that storage
is back, and ends with every file digitized."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import httpx
import pytest

from storage.embedded import EmbeddedS3
from tests.e2e import service
from tests.e2e.test_pipeline import DOSSIER_BIN, cli_env, run_cli
from tests.e2e.test_self_healing import _pages

pytestmark = pytest.mark.e2e

WAITING = "Waiting for storage (the object store cannot be reached) — nothing is lost"
BACK = "Storage is back: the batch goes on by itself."


def _get(base: str, key: str, path: str) -> dict:
    r = httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _until(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s")


def test_ingest_api_says_when_the_batch_waits_for_storage_and_when_it_is_back(tmp_path):
    """GIVEN `dossier ingest --api` following a batch of six one-page dossiers on a `dossier
    serve` whose S3 server is the test's own WHEN the S3 server is killed with SIGKILL once a
    page is read, and started again on the same address after the batch's status says it
    waits THEN the command prints the waiting line once, then the line saying storage is
    back once, and exits 0 with every file digitized."""
    s3 = EmbeddedS3(tmp_path / "s3")
    endpoint = s3.ensure_running(timeout=60)
    env = cli_env(endpoint, tmp_path / "data", f"i{uuid.uuid4().hex[:8]}-")
    env.update(DOSSIER_WORKERS="1")
    made = run_cli(["apikey", "create", "--name", "station", "--scope", "batches:write"],
                   env, tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    batch = tmp_path / "batch"
    batch.mkdir()
    for name, content in _pages(6, 21):
        (batch / name).write_bytes(content)
    proc, base = service.serve(env, tmp_path)
    ingest = None
    try:
        ingest = subprocess.Popen(
            [str(DOSSIER_BIN), "ingest", str(batch), "--split-folders", "--api", base],
            env={**env, "DOSSIER_API_KEY": key}, cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        batch_id = _until(lambda: next(iter(b["batch_id"] for b in _get(
            base, key, "/v1/batches")["batches"]), None), 120, "the batch was not uploaded")

        def under_way() -> bool:
            s = _get(base, key, f"/v1/batches/{batch_id}")
            done = sum(p["stage"] not in ("queued", "reading")
                       for f in s["files"] for p in f["pages"])
            return s["state"] == "running" and 1 <= done < 6
        _until(under_way, 300, "the batch never got under way")

        os.kill(s3.pid(), signal.SIGKILL)
        _until(lambda: _get(base, key, f"/v1/batches/{batch_id}")["waiting_for"] == ["s3"], 20,
               "the status did not say the batch waits")
        time.sleep(5)  # the command looks every second
        assert ingest.poll() is None, ingest.communicate()[0][-3000:]
        assert s3.ensure_running(timeout=60).endpoint == endpoint.endpoint
        out, _ = ingest.communicate(timeout=400)
    finally:
        if ingest is not None and ingest.poll() is None:
            ingest.kill()
            ingest.wait()
        service.stop(proc)
        s3.stop()
    assert ingest.returncode == 0, out[-3000:]
    flat = " ".join(out.split())  # the console wraps long lines
    assert flat.count(WAITING) == 1 and flat.count(BACK) == 1, out[-3000:]
    assert flat.index(WAITING) < flat.index(BACK)
