"""The index database restarting mid-batch fails no file: `dossier ingest` digitizes a batch
with its index on a PostgreSQL cluster of the test's own, whose postmaster is killed with
SIGKILL after the first page and started again on the same port 20 s later (crash recovery);
the run waits it out, finishes by itself, and every file is stored exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from storage.embedded import S3Endpoint
from tests.e2e.postgres import PrivatePostgres, server_bin
from tests.e2e.test_pipeline import DOSSIER_BIN, cli_env
from tests.e2e.test_self_healing import _pages

pytestmark = pytest.mark.e2e

OUTAGE_S = 20


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster this test may kill (never the shared one on port 5432)."""
    if os.environ.get("DOSSIER_TEST_NO_POSTGRES"):
        pytest.skip("DOSSIER_TEST_NO_POSTGRES is set")
    bin_dir = server_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server installed (/usr/lib/postgresql/*/bin/postgres)")
    pg = PrivatePostgres(bin_dir)
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()


def _ledger(url: str):
    from storage.batches import BatchLedger
    from storage.index import RecordIndex

    return BatchLedger(RecordIndex(url))


def test_the_index_database_killed_mid_batch_fails_no_file_and_the_batch_finishes(
        private_postgres: PrivatePostgres, s3_endpoint: S3Endpoint, tmp_path):
    """GIVEN `dossier ingest` digitizing six one-page dossiers with its index on PostgreSQL
    WHEN the postmaster is killed with SIGKILL once a page is read, and started again on the
    same port 20 s later THEN the run finishes by itself (exit 0), every file accepted with
    its records, none failed, every page read once, and every record stored once: one object
    version, one index row, named by exactly one file."""
    from sqlalchemy import text

    from storage.objects import ObjectStore

    pg = private_postgres
    prefix = f"p{uuid.uuid4().hex[:8]}-"
    env = cli_env(s3_endpoint, tmp_path / "data", prefix)
    env.update(DOSSIER_WORKERS="1", DOSSIER_INDEX_URL=pg.url)
    batch = tmp_path / "batch"
    batch.mkdir()
    for name, content in _pages(6, 13):
        (batch / name).write_bytes(content)
    report = tmp_path / "report.json"
    proc = subprocess.Popen([str(DOSSIER_BIN), "ingest", str(batch), "--split-folders",
                             "--report", str(report)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        batch_id = None
        while batch_id is None:
            assert time.monotonic() < deadline and proc.poll() is None, "no page was read"
            ledger = _ledger(pg.url)
            try:
                recent = ledger.recent(limit=1)
                s = ledger.status(recent[0].batch_id) if recent else None
            finally:
                ledger.index.close()
            pages = [p for f in s.files for p in f.pages] if s else []
            if any(p.stage.value not in ("queued", "reading") for p in pages):
                batch_id = s.batch_id
            time.sleep(0.2)
        assert len(pages) < 6 or not all(p.stage.value in ("done", "needs_review")
                                         for p in pages), "the batch finished too soon"
        pg.kill()
        killed_at = time.monotonic()
        # The database stays down OUTAGE_S: the run must neither exit nor give up meanwhile.
        while time.monotonic() < killed_at + OUTAGE_S:
            assert proc.poll() is None, proc.stdout.read()[-3000:] if proc.stdout else ""
            time.sleep(0.5)
        pg.start()
        out, _ = proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out[-4000:]
    assert "waits for the store" in out, "the run never met the outage"
    files = json.loads(report.read_text())["files"]
    assert len(files) == 6, files
    assert all(f["status"] == "accepted" and f["record_ids"] for f in files), files
    ledger = _ledger(pg.url)
    try:
        final = ledger.status(batch_id)
        assert final.state.value == "finished"
        assert all(f.stage.value in ("done", "needs_review") for f in final.files), final
        assert all(p.reads == 1 for f in final.files for p in f.pages), final
        record_ids = [r for f in files for r in f["record_ids"]]
        assert len(record_ids) == len(set(record_ids)) == len(files)
        with ledger.index.engine.connect() as c:
            rows = c.execute(text("SELECT record_id FROM records")).scalars().all()
            named = c.execute(text("SELECT count(*) FROM batch_files WHERE batch_id = :b"),
                              {"b": batch_id}).scalar()
        assert sorted(rows) == sorted(record_ids)
        assert named == 6
    finally:
        ledger.index.close()
    store = ObjectStore(s3_endpoint, prefix)
    for rid in record_ids:
        assert len(store.record_versions(rid)) == 1, rid


def test_served_the_index_killed_mid_batch_is_waited_for_on_the_page_and_the_batch_finishes(
        private_postgres: PrivatePostgres, s3_endpoint: S3Endpoint, tmp_path, browser):
    """GIVEN `dossier serve` with its index on PostgreSQL and a batch followed on the upload
    page WHEN the postmaster is killed with SIGKILL mid-batch and started again 20 s later
    THEN meanwhile the page says the batch waits for storage (the index), `/v1` answers 503
    (never 401 for a key it cannot check), no file fails; afterwards the page goes back to
    the progress and the batch finishes by itself, every page read once, every record stored
    once."""
    import httpx
    from playwright.sync_api import expect

    from storage.objects import ObjectStore
    from tests.e2e import service
    from tests.e2e.test_pipeline import run_cli
    from tests.e2e.test_waiting_for_storage import PASSWORD, VI, _log_in, _status, _until

    pg = private_postgres
    prefix = f"q{uuid.uuid4().hex[:8]}-"
    env = cli_env(s3_endpoint, tmp_path / "data", prefix)
    env.update(DOSSIER_WORKERS="1", DOSSIER_INDEX_URL=pg.url)
    made = subprocess.run([str(DOSSIER_BIN), "user", "create", "op-pg", "--role", "operator",
                           "--station", "S-P", "--lang", "vi"], input=f"{PASSWORD}\n",
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    made = run_cli(["apikey", "create", "--name", "station", "--scope", "batches:write"],
                   env, tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    proc, base = service.serve(env, tmp_path)
    context = None
    try:
        r = service.upload(base, key, _pages(6, 17), station="S-P")
        assert r.status_code == 202, r.text
        batch_id = r.json()["batch_id"]
        context, page, errors = _log_in(browser, base, "op-pg", "vi-VN")
        page.goto(f"{base}/upload?batch={batch_id}")
        expect(page.locator(".dossier")).to_have_count(6, timeout=60_000)

        def mid_batch():
            s = _status(base, key, batch_id)
            stages = [p["stage"] for f in s["files"] for p in f["pages"]]
            done = sum(st not in ("queued", "reading") for st in stages)
            return s if s["state"] == "running" and 1 <= done < 6 else None
        _until(mid_batch, 300, "the batch never got under way")

        pg.kill()
        killed_at = time.monotonic()
        banner = page.locator("#waiting")
        expect(banner).to_be_visible(timeout=20_000)
        expect(banner).to_contain_text(VI)
        expect(page.locator("#progress-card")).to_have_attribute("data-waiting", "index")
        expect(page.locator(".dossier")).to_have_count(6)  # the progress drawn stays
        r = httpx.get(f"{base}/v1/batches/{batch_id}",
                      headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert r.status_code == 503 and r.json()["kind"] == "Unavailable", r.text
        health = httpx.get(f"{base}/healthz", timeout=30)
        assert health.status_code == 503 and "index" in health.json()["down"], health.text
        while time.monotonic() < killed_at + OUTAGE_S:
            assert proc.poll() is None, "dossier serve exited"
            time.sleep(0.5)
        pg.start()

        expect(banner).to_be_hidden(timeout=30_000)
        final = service.wait_finished(base, key, batch_id, timeout=400)
        expect(page.locator(".dossier h3 .badge[data-stage='done'], "
                            ".dossier h3 .badge[data-stage='needs_review']")
               ).to_have_count(6, timeout=60_000)
        assert not errors, errors
    finally:
        if context is not None:
            context.close()
        service.stop(proc)
    assert final["waiting_for"] == [] and len(final["files"]) == 6
    for f in final["files"]:
        assert f["stage"] in ("done", "needs_review") and f["records"], f
        assert [p["reads"] for p in f["pages"]] == [1], f
    store = ObjectStore(s3_endpoint, prefix)
    for f in final["files"]:
        for r in f["records"]:
            assert len(store.record_versions(r["record_id"])) == 1, r
