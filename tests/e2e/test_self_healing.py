"""`dossier serve` heals itself, on the real stack it starts with nothing configured (its own
embedded S3 server, Prefect server, SQLite index and warm worker): a worker killed with SIGKILL
mid-batch is started again and its batch is taken over; the embedded S3 server killed
mid-batch is started again on the same address and every file finishes, none failed. Each
ends with every acknowledged file stored exactly once, with nobody's help."""

from __future__ import annotations

import io
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.e2e import service
from tests.e2e.test_pipeline import run_cli

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STALE_S = 10
SAMPLES = ["cccd-front-clean.png", "birth-registration-clean.png", "cccd-front-skewed-phone.jpg"]


def _pages(n: int, tag: int) -> list[tuple[str, bytes]]:
    """``n`` distinct one-page scans (a sample with one pixel changed), one dossier each."""
    base = [Image.open(ROOT / "sample_scans" / s).convert("RGB") for s in SAMPLES]
    out = []
    for i in range(n):
        img = base[i % len(base)].copy()
        img.putpixel((i, tag), (i * 37 % 256, tag * 11 % 256, 7))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        out.append((f"scan-{tag}-{i:02d}.png", buf.getvalue()))
    return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Zero configuration: `dossier serve` starts the embedded S3 server itself."""
    cwd = tmp_path_factory.mktemp("healing")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "PREFECT_"))}
    env.update(DOSSIER_DATA_DIR=str(cwd / "data"), DOSSIER_WORKERS="2",
               DOSSIER_BATCH_HEARTBEAT_S="1", DOSSIER_BATCH_STALE_S=str(STALE_S))
    made = run_cli(["apikey", "create", "--name", "station", "--scope", "batches:write"],
                   env, cwd)
    assert made.returncode == 0, made.stderr
    proc, base = service.serve(env, cwd)
    try:
        yield {"proc": proc, "base": base, "env": env, "cwd": cwd,
               "key": made.stdout.strip().splitlines()[-1]}
    finally:
        service.stop(proc)
        run_cli(["stop"], env, cwd)


def _workers(serve_pid: int) -> list[int]:
    return [p for p in service.descendants(serve_pid)
            if "worker" in service.cmdline(p).split() and service.alive(p)]


def _status(stack: dict, batch_id: str) -> dict:
    return httpx.get(f"{stack['base']}/v1/batches/{batch_id}",
                     headers={"Authorization": f"Bearer {stack['key']}"}, timeout=30).json()


def _wait(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s")


def _mid_batch(stack: dict, batch_id: str) -> dict:
    """Once some pages of the batch are read and others are not."""
    def check():
        s = _status(stack, batch_id)
        stages = [p["stage"] for f in s["files"] for p in f["pages"]]
        done = sum(st not in ("queued", "reading") for st in stages)
        return s if s["state"] == "running" and done >= 1 and len(stages) > done else None
    return _wait(check, 300, "the batch never got under way")


def _stored_once(stack: dict, final: dict) -> None:
    """Every file done with its records; each record one version, no stray record."""
    from flows.runtime import Runtime
    from models.settings import Settings

    record_ids = set()
    for f in final["files"]:
        assert f["stage"] in ("done", "needs_review"), f
        assert f["records"], f
        record_ids.update(r["record_id"] for r in f["records"])
        assert all(p["reads"] <= 2 for p in f["pages"]), f
    settings = Settings(data_dir=Path(stack["env"]["DOSSIER_DATA_DIR"]))
    rt = Runtime(settings)
    try:
        for rid in record_ids:
            assert len(rt.store.record_versions(rid)) == 1, rid
        for f in final["files"]:
            stored = {e.record_id for e in rt.ledger.dossier_records(f["dossier_id"])}
            assert stored == {r["record_id"] for r in f["records"]}, f
    finally:
        rt.close()


def test_a_worker_killed_mid_batch_is_restarted_and_its_batch_finishes(stack):
    """GIVEN a batch being read by the worker `dossier serve` started WHEN that worker is
    killed with SIGKILL (with its OCR processes) THEN serve starts another, the batch is taken
    over and finishes within DOSSIER_BATCH_STALE_S + 30 s, nothing lost or duplicated."""
    r = service.upload(stack["base"], stack["key"], _pages(8, 1), station="S-1")
    assert r.status_code == 202, r.text
    batch_id = r.json()["batch_id"]
    _mid_batch(stack, batch_id)
    [victim] = _workers(stack["proc"].pid)
    doomed = [victim, *service.descendants(victim)]
    for pid in doomed:
        os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    new = _wait(lambda: [p for p in _workers(stack["proc"].pid) if p != victim], 30,
                "serve did not start another worker")
    assert victim not in new
    final = service.wait_finished(stack["base"], stack["key"], batch_id, timeout=STALE_S + 60)
    assert time.monotonic() - killed_at <= STALE_S + 30
    assert final["attempts"] == 2
    _stored_once(stack, final)


def test_the_s3_server_killed_mid_batch_comes_back_where_it_was_and_every_file_finishes(stack):
    """GIVEN a batch being read WHEN the embedded S3 server is killed with SIGKILL THEN it is
    started again on the same address, no file is failed for the outage, every file finishes,
    and /healthz says all is up again."""
    server_json = Path(stack["env"]["DOSSIER_DATA_DIR"]) / "s3" / "server.json"
    before = json.loads(server_json.read_text())
    r = service.upload(stack["base"], stack["key"], _pages(8, 2), station="S-2")
    assert r.status_code == 202, r.text
    batch_id = r.json()["batch_id"]
    _mid_batch(stack, batch_id)
    os.kill(before["pid"], signal.SIGKILL)

    def restarted():
        try:
            now = json.loads(server_json.read_text())
        except (OSError, ValueError):
            return None
        return now if now["pid"] != before["pid"] and service.alive(now["pid"]) else None
    after = _wait(restarted, 60, "the S3 server was not started again")
    assert after["endpoint"] == before["endpoint"]
    final = service.wait_finished(stack["base"], stack["key"], batch_id, timeout=300)
    _stored_once(stack, final)
    health = _wait(lambda: (h := httpx.get(f"{stack['base']}/healthz", timeout=30)).status_code
                   == 200 and h, 60, "/healthz did not come back to 200")
    assert health.json()["parts"] == {"s3": "up", "index": "up", "prefect": "up",
                                      "workers": "up"}
    # An upload after the outage is acknowledged by the same serve.
    again = service.upload(stack["base"], stack["key"], _pages(1, 3))
    assert again.status_code == 202, again.text
    service.wait_finished(stack["base"], stack["key"], again.json()["batch_id"], timeout=120)


def test_the_prefect_server_killed_comes_back_on_its_port_and_uploads_go_on(stack):
    """GIVEN the Prefect server `dossier serve` started WHEN it is killed with SIGKILL THEN
    serve starts it again on the same address, and an upload made afterwards is digitized."""
    info_file = Path(stack["env"]["DOSSIER_DATA_DIR"]) / "prefect-server.json"
    before = json.loads(info_file.read_text())
    os.killpg(before["pid"], signal.SIGKILL)

    def back():
        try:
            now = json.loads(info_file.read_text())
        except (OSError, ValueError):
            return None
        if now["pid"] == before["pid"] or not service.alive(now["pid"]):
            return None
        try:
            return now if httpx.get(f"{now['api_url']}/health", timeout=2).status_code == 200 \
                else None
        except httpx.TransportError:
            return None
    after = _wait(back, 120, "the Prefect server was not started again")
    assert after["api_url"] == before["api_url"]
    r = service.upload(stack["base"], stack["key"], _pages(1, 4))
    assert r.status_code == 202, r.text
    final = service.wait_finished(stack["base"], stack["key"], r.json()["batch_id"], timeout=240)
    _stored_once(stack, final)


def test_healthz_names_the_part_that_is_down_without_addresses(tmp_path, monkeypatch):
    """GIVEN an app whose object store and Prefect API do not answer (nothing listens on
    their ports) WHEN /healthz is asked THEN 503 names S3 and Prefect as down, the index as up,
    and shows no address."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from models.settings import Settings
    from storage.embedded import S3Endpoint
    from storage.index import RecordIndex
    from storage.objects import ObjectStore
    from tests.e2e.test_pipeline import free_port

    dead = S3Endpoint(f"127.0.0.1:{free_port()}", "AK", "SK")
    store = ObjectStore.__new__(ObjectStore)
    store.endpoint, store.records_bucket = dead, "records"
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")
    settings = Settings(data_dir=tmp_path)
    index = RecordIndex(settings.resolved_index_url())
    try:
        with TestClient(create_app(settings, store=store, index=index)) as client:
            r = client.get("/healthz")
    finally:
        index.close()
    assert r.status_code == 503
    body = r.json()
    assert body["parts"] == {"s3": "down", "index": "up", "prefect": "down",
                             "workers": "unknown"}
    assert "127.0.0.1" not in r.text and "sqlite" not in r.text
