"""A store outage is transient until proven otherwise: the S3 server killed mid-batch and kept
down for half a minute fails no file; the run waits it out and finishes by itself once the
server is back on its address, every file stored once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid

import pytest

from storage.embedded import EmbeddedS3
from tests.e2e.test_pipeline import DOSSIER_BIN, cli_env
from tests.e2e.test_self_healing import _pages

pytestmark = pytest.mark.e2e

OUTAGE_S = 30


def _ledger(data_dir):
    from storage.batches import BatchLedger
    from storage.index import RecordIndex

    return BatchLedger(RecordIndex(f"sqlite:///{data_dir / 'index.sqlite3'}"))


def test_an_s3_outage_mid_batch_fails_no_file_and_the_batch_finishes_when_it_is_back(tmp_path):
    """GIVEN `dossier ingest` digitizing four one-page dossiers against an S3 server WHEN the
    server is killed with SIGKILL after the first page and stays down 30 s THEN no file is
    marked failed meanwhile, and once it is back on the same address every file is digitized
    (exit 0), each page read once, and the progress bar ends at 4/4 pages (the dossiers tried
    again are not counted twice)."""
    s3 = EmbeddedS3(tmp_path / "s3")
    endpoint = s3.ensure_running(timeout=60)
    data = tmp_path / "data"
    env = cli_env(endpoint, data, f"o{uuid.uuid4().hex[:8]}-")
    env.update(DOSSIER_WORKERS="1")
    batch = tmp_path / "batch"
    batch.mkdir()
    for name, content in _pages(4, 9):
        (batch / name).write_bytes(content)
    report = tmp_path / "report.json"
    proc = subprocess.Popen([str(DOSSIER_BIN), "ingest", str(batch), "--split-folders",
                             "--report", str(report)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        status = None
        while status is None:
            assert time.monotonic() < deadline and proc.poll() is None, "no page was read"
            if (data / "index.sqlite3").exists():
                ledger = _ledger(data)
                try:
                    recent = ledger.recent(limit=1)
                    s = ledger.status(recent[0].batch_id) if recent else None
                finally:
                    ledger.index.close()
                pages = [p for f in s.files for p in f.pages] if s else []
                if any(p.stage.value not in ("queued", "reading") for p in pages):
                    status = s
            time.sleep(0.1)
        os.kill(s3.pid(), signal.SIGKILL)
        # The outage lasts OUTAGE_S: meanwhile no file may be failed for it.
        until = time.monotonic() + OUTAGE_S
        while time.monotonic() < until:
            ledger = _ledger(data)
            try:
                now = ledger.status(status.batch_id)
            finally:
                ledger.index.close()
            assert not [f.name for f in now.files if f.stage.value == "failed"], now
            time.sleep(0.5)
        assert s3.ensure_running(timeout=60).endpoint == endpoint.endpoint
        out, _ = proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        s3.stop()
    assert proc.returncode == 0, out[-3000:]
    assert re.findall(r"(\d+)/(\d+) pages", out)[-1] == ("4", "4"), out[-3000:]
    files = json.loads(report.read_text())["files"]
    assert len(files) == 4 and all(f["status"] == "accepted" and f["record_ids"] for f in files)
    ledger = _ledger(data)
    try:
        final = ledger.status(status.batch_id)
    finally:
        ledger.index.close()
    assert all(f.stage.value in ("done", "needs_review") for f in final.files)
    assert all(p.reads == 1 for f in final.files for p in f.pages)
