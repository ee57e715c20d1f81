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


@pytest.mark.parametrize(("settings", "threads"), [
    ({"DOSSIER_WORKERS": "3"}, "4"),
    ({"DOSSIER_WORKERS": "3", "DOSSIER_BATCH_PAGES_IN_FLIGHT": "6"}, "6")])
def test_pages_in_flight_set_the_flow_concurrency(tmp_path, settings, threads):
    """A batch keeps one page more than the OCR processes waiting for them (so none idles
    while a page is stored), or DOSSIER_BATCH_PAGES_IN_FLIGHT: the task runner a run of the
    flow gets (Prefect's flow engine runs each on a duplicate of the flow's)."""
    code = ("from flows.digitize import digitize_batch; "
            "print(digitize_batch.task_runner.duplicate()._max_workers)")
    env = {**settings, "DOSSIER_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path), "PREFECT_HOME": str(tmp_path / "p")}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == threads


def _accept_and_run(runtime, tmp_path, uploads, station):
    from flows.digitize import digitize_batch
    from flows.runtime import configure_prefect
    from storage.intake import accept_batch

    configure_prefect(runtime.settings)
    plan = accept_batch(uploads, store=runtime.store, ledger=runtime.ledger,
                        spool_dir=tmp_path / "spool", max_file_bytes=50_000_000,
                        station=station, operator="op")
    digitize_batch(plan.batch_id)
    return plan


def _unique(path: Path) -> bytes:
    """The sample's image as a PNG of its own: the same page, content no other test sent."""
    import io
    import uuid

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("test", uuid.uuid4().hex)
    out = io.BytesIO()
    with Image.open(path) as im:
        im.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _replace_and_run(runtime, tmp_path, batch_id, file_no, name, data):
    import io

    from flows.digitize import digitize_batch
    from storage.intake import Upload, accept_replacement

    new = accept_replacement(Upload(name=name, stream=io.BytesIO(data)), batch_id=batch_id,
                             file_no=file_no, store=runtime.store, ledger=runtime.ledger,
                             spool_dir=tmp_path / "spool", max_file_bytes=50_000_000,
                             station=None)
    digitize_batch(batch_id)
    return next(f for f in runtime.ledger.status(batch_id).files if f.file_no == new)


def test_replacements_at_two_stations_each_write_their_own_record(runtime, tmp_path):
    """GIVEN two stations each uploading a dossier whose only file is empty (refused)
    WHEN each operator replaces it with a different scan THEN each dossier gets its own record,
    and the second replacement leaves the first station's record as it was."""
    import io

    from models.records import Record
    from storage.intake import Upload

    one = _accept_and_run(runtime, tmp_path, [Upload(name="ho-so/p.png", stream=io.BytesIO())],
                          "S1")
    two = _accept_and_run(runtime, tmp_path, [Upload(name="ho-so/p.png", stream=io.BytesIO())],
                          "S2")
    assert runtime.ledger.status(one.batch_id).files[0].stage == Stage.failed
    card = _replace_and_run(runtime, tmp_path, one.batch_id, 1, "p.png", _unique(CARD))
    first = Record.from_json(runtime.store.get_record(card.records[0].record_id))
    form = _replace_and_run(runtime, tmp_path, two.batch_id, 1, "p.png", _unique(FORM))
    assert card.records and form.records
    assert {r.record_id for r in card.records}.isdisjoint(r.record_id for r in form.records)
    after = Record.from_json(runtime.store.get_record(card.records[0].record_id))
    assert after.doctype == "cccd_front" and after.batch_id == one.batch_id
    assert after.revision == first.revision == 1
    assert form.records[0].doctype != "cccd_front"


def test_the_same_folder_in_any_order_is_one_dossier_read_once(runtime, tmp_path):
    """GIVEN a folder of two pages sent as "trang 10" then "trang 2", and in the same batch
    another folder with the same pages sent the other way round WHEN the batch runs THEN the
    record's pages are in natural order, the second folder is a duplicate of the first (same
    records), and each page was read once."""
    import io

    from models.records import Record
    from storage.intake import Upload

    pages = {"trang 2.png": _unique(CARD), "trang 10.png": _unique(FORM)}
    uploads = [Upload(name=f"a/{n}", stream=io.BytesIO(pages[n]))
               for n in ("trang 10.png", "trang 2.png")]
    uploads += [Upload(name=f"b/{n}", stream=io.BytesIO(pages[n]))
                for n in ("trang 2.png", "trang 10.png")]
    plan = _accept_and_run(runtime, tmp_path, uploads, "S1")
    assert plan.dossiers[0].dossier_id == plan.dossiers[1].dossier_id
    status = runtime.ledger.status(plan.batch_id)
    by_name = {f.name: f for f in status.files}
    assert [f.name for f in status.files] == ["a/trang 2.png", "a/trang 10.png",
                                              "b/trang 2.png", "b/trang 10.png"]
    a_ids = [r.record_id for r in by_name["a/trang 2.png"].records]
    assert a_ids and [r.record_id for r in by_name["b/trang 2.png"].records] == a_ids
    assert {by_name[f"b/{n}"].stage for n in pages} == {Stage.duplicate}
    assert all(p.reads <= 1 for f in status.files for p in f.pages)
    first = Record.from_json(runtime.store.get_record(a_ids[0]))
    assert first.pages[0].original_sha256 == by_name["a/trang 2.png"].sha256
    # The same folder uploaded again later, in yet another order: nothing new.
    again = _accept_and_run(runtime, tmp_path, list(reversed(
        [Upload(name=f"c/{n}", stream=io.BytesIO(d)) for n, d in pages.items()])), "S2")
    files = runtime.ledger.status(again.batch_id).files
    assert {f.stage for f in files} == {Stage.duplicate}
    assert [r.record_id for r in files[0].records] == a_ids
