"""Batches end to end on real parts (embedded S3, SQLite index, Tesseract, the flow): any
error in one file is recorded on that file, the ledger tells per file, page and record, and
settings reach the flow."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.batches import BatchState, Stage
from models.records import FileStatus
from storage.embedded import S3Endpoint
from tests.e2e.test_pipeline import CARD, FORM, module_runtime

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: S3Endpoint) -> Iterator:
    yield from module_runtime(tmp_path_factory, s3_endpoint, "batches")


def test_an_unexpected_crash_on_one_page_is_recorded_on_its_file_and_the_rest_goes_on(
        runtime, tmp_path, monkeypatch):
    """GIVEN a batch of two dossiers where OCR of the first one's page crashes with a bug
    (not one of the pipeline's errors) WHEN the batch runs THEN that file fails with a plain
    message naming it, and the second dossier is digitized and registered as usual."""
    import ocr.pool
    from cli.ingest import ingest_paths

    first = tmp_path / "first"
    first.mkdir()
    shutil.copy(FORM, first / "form.png")
    second = shutil.copy(CARD, tmp_path / "card.png")
    real = ocr.pool.OcrPool.run
    crash_on = (first / "form.png").read_bytes()

    # Pages are read in the OCR worker processes: the fault goes in where the flow asks.
    def crashing(self, job):
        if Path(job.path).read_bytes() == crash_on:
            raise KeyError("bug in a library")
        return real(self, job)

    monkeypatch.setattr(ocr.pool.OcrPool, "run", crashing)
    report = ingest_paths([first, Path(second)], station="S", operator="op")
    by_name = {Path(f.path).name: f for f in report.files}
    bad, good = by_name["form.png"], by_name["card.png"]
    assert bad.status == FileStatus.failed and bad.error_kind == "InternalError"
    assert "form.png" in bad.error and "unexpected error" in bad.error and "KeyError" in bad.error
    assert good.status == FileStatus.accepted and good.record_ids
    assert runtime.index.find_file(good.sha256).record_ids == good.record_ids
    assert runtime.index.find_file(bad.sha256).status == FileStatus.failed

    status = runtime.ledger.status(report.batch_id)
    assert status.state == BatchState.finished and status.attempts == 1
    files = {Path(f.name).name: f for f in status.files}
    assert files["form.png"].stage == Stage.failed and "form.png" in files["form.png"].error
    assert files["form.png"].hint and [p.stage for p in files["form.png"].pages] == [Stage.failed]
    card = files["card.png"]
    assert card.stage in (Stage.done, Stage.needs_review)
    assert [p.stage for p in card.pages] == [card.stage]
    assert [r.record_id for r in card.records] == good.record_ids
    assert card.records[0].doctype == "cccd_front"


def test_a_crash_in_extraction_fails_that_dossier_only(runtime, tmp_path, monkeypatch):
    import extraction
    from cli.ingest import ingest_paths

    real = extraction.extract_documents
    calls = []

    def crashing(pages, doctypes, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError()
        return real(pages, doctypes, **kw)

    monkeypatch.setattr(extraction, "extract_documents", crashing)
    a = tmp_path / "a"
    a.mkdir()
    shutil.copy(ROOT / "sample_scans" / "cccd-front-skewed-phone.jpg", a / "p.jpg")
    b = tmp_path / "b"
    b.mkdir()
    shutil.copy(ROOT / "sample_scans" / "birth-registration-clean.png", b / "p.png")
    report = ingest_paths([a, b])
    statuses = [f.status for f in report.files]
    assert statuses.count(FileStatus.failed) == 1, report.files
    failed = report.failed[0]
    assert "MemoryError" in failed.error and failed.path.endswith("p.jpg")
    ok = next(f for f in report.files if f.status != FileStatus.failed)
    assert ok.record_ids


def test_dossier_workers_sets_the_flow_concurrency(tmp_path):
    code = ("from flows.digitize import digitize_batch; "
            "print(digitize_batch.task_runner._max_workers)")
    env = {"DOSSIER_WORKERS": "3", "DOSSIER_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path), "PREFECT_HOME": str(tmp_path / "p")}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "3"
