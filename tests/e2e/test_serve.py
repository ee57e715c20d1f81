"""`dossier serve` as operators' scripts use it: zero configuration brings up a Prefect server
and a worker on 127.0.0.1; POST /v1/batches acknowledges durable originals, the batch runs as
a flow run of the digitize-batch deployment, GET /v1/batches/{id} follows it per file, page
and record; hostile files fail alone; a file is replaced; everything stops cleanly."""

from __future__ import annotations

import io
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from storage.embedded import S3Endpoint
from tests.e2e import service
from tests.e2e.test_pipeline import CARD, FORM, SAMPLES, cli_env, run_cli

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

MAX_FILE = 3_000_000
MAX_UPLOAD = 12_000_000


def _png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (w, h), 1).save(buf, format="PNG")
    return buf.getvalue()


def _encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    w.encrypt("secret")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: S3Endpoint) -> Iterator[dict]:
    """`dossier serve` with nothing configured but the suite's S3 server."""
    cwd = tmp_path_factory.mktemp("serve")
    env = cli_env(s3_endpoint, cwd / "data", f"v{uuid.uuid4().hex[:8]}-")
    env.update(DOSSIER_MAX_FILE_BYTES=str(MAX_FILE), DOSSIER_MAX_UPLOAD_BYTES=str(MAX_UPLOAD),
               DOSSIER_WORKERS="2")
    made = run_cli(["apikey", "create", "--name", "station-7", "--scope", "batches:write"], env,
                   cwd)
    assert made.returncode == 0, made.stderr
    reader = run_cli(["apikey", "create", "--name", "portal", "--scope", "records:read"], env,
                     cwd)
    proc, base = service.serve(env, cwd)
    try:
        yield {"proc": proc, "base": base, "cwd": cwd, "env": env,
               "key": made.stdout.strip().splitlines()[-1],
               "reader": reader.stdout.strip().splitlines()[-1]}
    finally:
        service.stop(proc)


@pytest.fixture(scope="module")
def batch(stack) -> dict:
    cut = CARD.read_bytes()
    files = [("dossier-a/card.png", CARD.read_bytes()), ("dossier-a/form.png", FORM.read_bytes()),
             ("mixed.pdf", (SAMPLES / "dossier-mixed-receipt-cccd-birth.pdf").read_bytes()),
             ("empty.png", b""), ("cut.jpg", cut[: len(cut) // 3]),
             ("locked.pdf", _encrypted_pdf()), ("bomb.png", _png(30_000, 30_000)),
             ("notes.jpg", "Giấy tờ này không phải ảnh".encode()),
             ("huge.tiff", os.urandom(MAX_FILE + 1))]
    r = service.upload(stack["base"], stack["key"], files, station="S-7")
    assert r.status_code == 202, r.text
    receipt = r.json()
    status = service.wait_finished(stack["base"], stack["key"], receipt["batch_id"])
    return {"receipt": receipt, "status": status}


def test_upload_is_acknowledged_with_durable_originals(stack, batch):
    from storage.objects import ObjectStore

    receipt = batch["receipt"]
    by_name = {f["name"]: f for f in receipt["files"]}
    assert by_name["dossier-a/card.png"]["dossier"] == "dossier-a"
    assert by_name["dossier-a/form.png"]["dossier"] == "dossier-a"
    assert by_name["mixed.pdf"]["dossier"] == "mixed.pdf"
    assert not by_name["empty.png"]["accepted"] and "empty" in by_name["empty.png"]["error"]
    assert not by_name["huge.tiff"]["accepted"]
    assert f"{MAX_FILE:,}" in by_name["huge.tiff"]["error"]
    env = stack["env"]
    store = ObjectStore(S3Endpoint(env["DOSSIER_S3_ENDPOINT"], env["DOSSIER_S3_ACCESS_KEY"],
                                   env["DOSSIER_S3_SECRET_KEY"]), env["DOSSIER_BUCKET_PREFIX"])
    assert store.get_original(by_name["dossier-a/card.png"]["sha256"]) == CARD.read_bytes()


def test_every_file_has_its_outcome_and_hostile_ones_fail_alone(batch):
    files = {f["name"]: f for f in batch["status"]["files"]}
    for good in ("dossier-a/card.png", "dossier-a/form.png", "mixed.pdf"):
        f = files[good]
        assert f["stage"] in ("done", "needs_review"), f
        assert f["pages"] and all(p["stage"] == f["stage"] for p in f["pages"])
        assert f["records"] and all(r["status"] in ("extracted", "needs_review")
                                    for r in f["records"])
    assert len(files["mixed.pdf"]["pages"]) == 4  # receipt, card, two form pages
    assert {r["doctype"] for r in files["dossier-a/card.png"]["records"]} >= {
        "cccd_front", "birth_registration"}
    want_kind = {"empty.png": "EmptyFileError", "cut.jpg": "CorruptFileError",
                 "locked.pdf": "EncryptedPdfError", "bomb.png": "ImageTooLargeError",
                 "notes.jpg": "UnsupportedFormatError", "huge.tiff": "TooLargeError"}
    for name, kind in want_kind.items():
        f = files[name]
        assert f["stage"] == "failed" and f["error_kind"] == kind, f
        assert f["error"].startswith(name) and f["hint"], f
    assert "qpdf --decrypt" in files["locked.pdf"]["hint"]


def test_a_failed_file_is_replaced_in_its_dossier(stack, batch):
    base, key = stack["base"], stack["key"]
    bid = batch["receipt"]["batch_id"]
    cut = next(f for f in batch["status"]["files"] if f["name"] == "cut.jpg")
    r = httpx.post(f"{base}/v1/batches/{bid}/files/{cut['file_no']}",
                   headers={"Authorization": f"Bearer {key}"},
                   files={"file": ("cut.jpg", (SAMPLES / "cccd-front-skewed-phone.jpg")
                                   .read_bytes())}, timeout=60)
    assert r.status_code == 202, r.text
    status = service.wait_finished(base, key, bid)
    files = {f["file_no"]: f for f in status["files"]}
    assert files[cut["file_no"]]["replaced_by"] == r.json()["file_no"]
    new = files[r.json()["file_no"]]
    assert new["name"] == "cut.jpg" and new["dossier"] == cut["dossier"]
    assert new["stage"] in ("done", "needs_review") and new["records"]
    # Finished dossiers are not run again: same records, not re-marked duplicates.
    card = next(f for f in status["files"] if f["name"] == "dossier-a/card.png")
    before = next(f for f in batch["status"]["files"] if f["name"] == "dossier-a/card.png")
    assert card["stage"] == before["stage"] and card["records"] == before["records"]
    assert status["attempts"] == 2
    listed = httpx.get(f"{base}/v1/batches?station=S-7",
                       headers={"Authorization": f"Bearer {key}"}).json()["batches"]
    assert [b["batch_id"] for b in listed] == [bid]
    assert listed[0]["failed"] == 5


def test_scopes_and_the_upload_limit(stack):
    base, key = stack["base"], stack["key"]
    assert httpx.post(f"{base}/v1/batches", files={"files": ("a.png", b"x")}).status_code == 401
    r = httpx.post(f"{base}/v1/batches", files={"files": ("a.png", b"x")},
                   headers={"Authorization": f"Bearer {stack['reader']}"})
    assert r.status_code == 403 and "batches:write" in r.json()["detail"]
    assert httpx.get(f"{base}/v1/batches/nope", headers={
        "Authorization": f"Bearer {key}"}).status_code == 404
    big = [(f"part-{i}.tiff", os.urandom(MAX_FILE - 10)) for i in range(5)]
    r = service.upload(base, key, big)
    assert r.status_code == 413, r.text
    assert f"{MAX_UPLOAD:,}" in r.json()["detail"]


def test_ingest_can_upload_to_a_running_server(stack, tmp_path):
    """`dossier ingest --api URL` streams the files to POST /v1/batches and follows the batch."""
    import json

    folder = tmp_path / "ho-so-api"
    folder.mkdir()
    (folder / "card.png").write_bytes(CARD.read_bytes())
    (folder / "scan.pdf").write_bytes(b"not a pdf at all")
    env = dict(stack["env"], DOSSIER_API_KEY=stack["key"])
    report = tmp_path / "r.json"
    p = run_cli(["ingest", str(folder), "--api", stack["base"], "--station", "S-9",
                 "--report", str(report)], env, tmp_path)
    assert p.returncode == 4, p.stdout + p.stderr
    assert stack["key"] not in p.stdout + p.stderr
    files = {f["path"]: f for f in json.loads(report.read_text())["files"]}
    assert files["ho-so-api/card.png"]["status"] in ("accepted", "duplicate")
    assert files["ho-so-api/card.png"]["record_ids"]
    assert files["ho-so-api/scan.pdf"]["status"] == "failed"
    assert "scan.pdf" in files["ho-so-api/scan.pdf"]["error"]
    listed = httpx.get(f"{stack['base']}/v1/batches?station=S-9",
                       headers={"Authorization": f"Bearer {stack['key']}"}).json()["batches"]
    assert [b["files"] for b in listed] == [2]


def test_ingest_reads_dossiers_through_the_same_intake(stack, tmp_path):
    """`dossier ingest` stores originals and registers the batch exactly as an upload does."""
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "card.png").write_bytes(CARD.read_bytes())
    env = dict(stack["env"], DOSSIER_DATA_DIR=str(tmp_path / "data2"))
    report = tmp_path / "r.json"
    p = run_cli(["ingest", str(folder), "--report", str(report)], env, tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    import json

    from storage.batches import BatchLedger
    from storage.index import RecordIndex

    batch_id = json.loads(report.read_text())["batch_id"]
    with RecordIndex(f"sqlite:///{tmp_path / 'data2' / 'index.sqlite3'}") as index:
        status = BatchLedger(index).status(batch_id)
    assert status.state.value == "finished"
    assert [Path(f.name).name for f in status.files] == ["card.png"]
    assert status.files[0].stage.value in ("duplicate", "done", "needs_review")


def test_operator_uploads_in_the_browser_and_replaces_a_broken_file(stack, tmp_path):
    """GIVEN an operator of station S-7 WHEN they log in, pick a folder and a PDF plus a
    broken scan, and upload THEN both dossiers reach done (or needs review) live, the broken
    file is reported with its name and what to do, replacing it finishes its dossier, and
    the dossier's records open."""
    import subprocess

    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.test_pipeline import DOSSIER_BIN

    made = subprocess.run([str(DOSSIER_BIN), "user", "create", "op7", "--role", "operator",
                           "--station", "S-7", "--lang", "vi"], input="correct horse 7\n",
                          env=stack["env"], cwd=stack["cwd"], capture_output=True, text=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "ho-so-1"
    folder.mkdir()
    (folder / "card.png").write_bytes(CARD.read_bytes())
    (folder / "form.png").write_bytes(FORM.read_bytes())
    pdf = tmp_path / "to-khai.pdf"
    pdf.write_bytes((SAMPLES / "birth-registration-scan-200dpi.pdf").read_bytes())
    broken = tmp_path / "hong.jpg"
    jpg = (SAMPLES / "cccd-front-skewed-phone.jpg").read_bytes()
    broken.write_bytes(jpg[: len(jpg) // 4])
    fixed = tmp_path / "fixed" / "hong.jpg"
    fixed.parent.mkdir()
    fixed.write_bytes(jpg)
    final = "[data-stage='done'], [data-stage='needs_review']"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"{stack['base']}/login")
            page.fill("input[name=username]", "op7")
            page.fill("input[name=password]", "correct horse 7")
            page.click("button[type=submit]")
            page.wait_for_url("**/upload")
            expect(page.locator("#station")).to_have_text("S-7")
            page.set_input_files("#pick-folder", str(folder))
            page.set_input_files("#pick-files", [str(pdf), str(broken)])
            expect(page.locator("#staged li")).to_have_count(4)
            page.click("#send")
            dossier = page.locator(".dossier[data-dossier='ho-so-1']")
            expect(dossier.locator("h3 .badge")).to_have_attribute(
                "data-stage", re.compile("^(done|needs_review)$"), timeout=300_000)
            expect(page.locator(".dossier[data-dossier='to-khai.pdf'] h3 .badge")
                   ).to_have_attribute("data-stage", re.compile("^(done|needs_review)$"),
                                       timeout=300_000)
            bad = page.locator(".file[data-name='hong.jpg']")
            expect(bad).to_have_attribute("data-stage", "failed", timeout=300_000)
            expect(bad.locator(".problem")).to_contain_text("hong.jpg")
            expect(bad.locator(".todo")).to_contain_text("thay tệp này")
            if os.environ.get("DOSSIER_SCREENSHOTS"):  # the README's picture, when asked for
                page.screenshot(path=str(Path(os.environ["DOSSIER_SCREENSHOTS"])
                                         / "upload-page.png"), full_page=True)

            with page.expect_file_chooser() as chooser:
                bad.locator("button.replace").click()
            chooser.value.set_files(str(fixed))
            # The rescan is the same card an earlier batch digitized: the same content is the
            # same dossier, so it ends as that dossier's duplicate, with its records.
            again = page.locator(".dossier[data-dossier='hong.jpg']")
            expect(again.locator(".file[data-name='hong.jpg']").and_(
                page.locator(f"{final}, [data-stage='duplicate']"))).to_have_count(
                    1, timeout=300_000)
            expect(again.locator(".problem")).to_have_count(0)

            dossier.locator("a.records").click()
            page.wait_for_url("**/upload/dossiers/*")
            rows = page.locator("#records tbody tr")
            expect(rows).to_have_count(2)
            expect(page.locator("#records")).to_contain_text("cccd_front")
            expect(page.locator("#records")).to_contain_text("birth_registration")
        finally:
            browser.close()


def test_serve_stops_its_prefect_server_and_worker(stack):
    import time

    proc = stack["proc"]
    children = service.descendants(proc.pid)
    names = " ".join(service.cmdline(c) for c in children)
    assert "prefect server start" in names and "dossier worker" in names
    os.kill(proc.pid, 15)  # SIGTERM to serve alone: it must stop what it started
    assert proc.wait(timeout=60) in (0, 130)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(service.alive(c) for c in children):
        time.sleep(0.2)
    assert not [service.cmdline(c) for c in children if service.alive(c)]
