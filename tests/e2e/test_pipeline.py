"""End to end on real parts: the Prefect flow over the embedded S3 server, a SQLite index,
real Tesseract, the REST API, and the ``dossier`` command in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from models.records import FileStatus, IngestReport, Record
from models.settings import Settings
from storage.embedded import S3Endpoint
from tests.pages import BIRTH_FORM, render, save

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_scans"
CARD = SAMPLES / "cccd-front-clean.png"
FORM = SAMPLES / "birth-registration-clean.png"
DOSSIER_BIN = Path(sys.executable).parent / "dossier"


def truth(path: Path) -> dict:
    return json.loads(Path(f"{path}.truth.json").read_text(encoding="utf-8"))


def settings_for(data_dir: Path, s3: S3Endpoint, prefix: str) -> Settings:
    return Settings(data_dir=data_dir, s3_endpoint=s3.endpoint, s3_access_key=s3.access_key,
                    s3_secret_key=s3.secret_key, bucket_prefix=prefix, _env_file=None)


def module_runtime(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: S3Endpoint,
                   name: str) -> Iterator:
    """A runtime of its own (buckets, SQLite index, Prefect home), installed for the flow."""
    from flows.runtime import Runtime, set_runtime

    data = tmp_path_factory.mktemp(f"{name}-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PREFECT_HOME", str(data / "prefect"))
        rt = Runtime(settings_for(data, s3_endpoint, f"{name[0]}{uuid.uuid4().hex[:8]}-"))
        set_runtime(rt)
        try:
            yield rt
        finally:
            set_runtime(None)
            rt.close()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: S3Endpoint) -> Iterator:
    yield from module_runtime(tmp_path_factory, s3_endpoint, "e2e")


def ingest(paths: list[Path], **kw) -> IngestReport:
    from cli.ingest import ingest_paths

    return ingest_paths(paths, station="test-station", operator="tester", **kw)


@pytest.fixture(scope="module")
def first_batch(runtime) -> IngestReport:
    return ingest([CARD, FORM])


def records_of(runtime, result) -> list[Record]:
    return [Record.from_json(runtime.store.get_record(r)) for r in result.record_ids]


def test_originals_are_stored_by_content_hash(runtime, first_batch):
    assert [f.status for f in first_batch.files] == [FileStatus.accepted] * 2
    for f, path in zip(first_batch.files, (CARD, FORM), strict=True):
        assert f.error is None and f.pages == 1
        assert runtime.store.get_original(f.sha256) == path.read_bytes()
        assert runtime.index.find_file(f.sha256).status == FileStatus.accepted


def test_card_record_in_store_and_index(runtime, first_batch):
    want = truth(CARD)["documents"][0]["fields"]
    (rec,) = records_of(runtime, first_batch.files[0])
    assert rec.doctype == "cccd_front" and rec.schema_version >= 1
    assert rec.station == "test-station" and rec.operator == "tester"
    for name in ("citizen_id", "date_of_birth", "sex", "nationality"):
        f = rec.field(name)
        assert f is not None and f.value == want[name], name
        assert f.raw and 0 < f.confidence <= 1 and f.page == 0 and f.bbox is not None
    assert want["citizen_id"] in rec.citizen_ids
    found = runtime.index.records_for_citizen(want["citizen_id"])
    assert [e.record_id for e in found] == [rec.record_id]
    assert found[0].doctype == "cccd_front"
    assert found[0].summary["date_of_birth"] == want["date_of_birth"]


def test_form_record_names_every_person(runtime, first_batch):
    want = truth(FORM)["documents"][0]["fields"]
    (rec,) = records_of(runtime, first_batch.files[1])
    assert rec.doctype == "birth_registration"
    for name in ("declarant_id", "mother_id", "father_id", "declaration_date"):
        assert rec.field(name).value == want[name], name
    for cid in {want["declarant_id"], want["mother_id"], want["father_id"]}:
        assert rec.record_id in [e.record_id for e in runtime.index.records_for_citizen(cid)]
    # The cleaned page and the OCR words are kept beside the original.
    page = rec.pages[0]
    words = json.loads(runtime.store.get_derived(page.ocr_key))
    assert any(want["declarant_id"] in line["text"].replace(" ", "") for line in words["lines"])
    assert all(w["bbox"] and 0 <= w["confidence"] <= 1
               for line in words["lines"] for w in line["words"])
    assert page.cleaned_key and runtime.store.get_derived(page.cleaned_key)[:2] == b"\xff\xd8"


def test_the_form_settles_with_no_person_once_its_held_values_are_read_again(runtime,
                                                                           first_batch):
    """The clean birth registration holds two values a little under the threshold (a
    residence, a place of birth); the flow reads their lines again, both read alike, and the
    record is stored settled: every field accepted, the second readings kept beside them.
    (Without the second reading the same form waits for a clerk: the review page's tests.)"""
    from models.records import FieldSource, FieldStatus, RecordStatus

    want = truth(FORM)["documents"][0]["fields"]
    (rec,) = records_of(runtime, first_batch.files[1])
    assert rec.status == RecordStatus.extracted
    assert all(f.status == FieldStatus.accepted for f in rec.fields if f.value is not None)
    again = [f for f in rec.fields if any(r.source == FieldSource.reread for r in f.readings)]
    assert again
    for f in again:
        assert f.value == want[f.name], f.name
        assert [r.value for r in f.readings if r.source == FieldSource.reread][0]


def test_a_stored_page_s_lines_are_read_again_in_the_ocr_pool(runtime, first_batch):
    """The flow's second reading (extraction.reread): lines of the stored cleaned page,
    each read alone by the OCR pool, say what the page's first reading said where Tesseract
    was sure of every word; a page with no stored image is not read again."""
    from extraction.reread import same_reading
    from flows.stages import line_reader
    from models.ocr import PageOCR, union_box
    from models.records import ExtractedField

    (rec,) = records_of(runtime, first_batch.files[1])
    ref = rec.pages[0]
    page = PageOCR.from_dict(json.loads(runtime.store.get_derived(ref.ocr_key)))
    sure = [line for line in page.lines
            if len(line.words) >= 3 and min(w.confidence for w in line.words) > 0.93][:4]
    assert sure
    read = line_reader([ref, ref.model_copy(update={"cleaned_key": None})], [page, page])
    texts = read(0, [union_box([w.bbox for w in line.words]) for line in sure])
    assert texts is not None and len(texts) == len(sure)
    agree = [same_reading(ExtractedField(name="x", value=line.text, raw=line.text), text)
             for line, text in zip(sure, texts, strict=True)]
    assert sum(agree) >= len(sure) - 1, (texts, [line.text for line in sure])
    assert read(1, [sure[0].words[0].bbox]) is None


def test_api_needs_a_key_and_returns_the_records(runtime, first_batch):
    from api.app import create_app

    cid = truth(CARD)["documents"][0]["fields"]["citizen_id"]
    key, _ = runtime.index.create_api_key("portal", ["records:read"])
    other, _ = runtime.index.create_api_key("stats", ["stats:read"])
    app = create_app(runtime.settings, store=runtime.store, index=runtime.index)
    with TestClient(app) as client:
        url = f"/v1/citizens/{cid}/records"
        assert client.get(url).status_code == 401
        assert client.get(url, headers={"Authorization": "Bearer not-a-key"}).status_code == 401
        assert client.get(url, headers={"Authorization": f"Bearer {other}"}).status_code == 403
        # Citizen data is read for a purpose (a procedure code), else a plain 400.
        assert client.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 400
        auth = {"Authorization": f"Bearer {key}", "X-Purpose": "1.004227"}
        r = client.get(url, params={"status": "all"}, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        assert [x["record_id"] for x in body["records"]] == first_batch.files[0].record_ids
        # By default only settled records: nothing pending review reaches another agency.
        default = client.get(url, headers=auth).json()
        assert [x["record_id"] for x in default["records"]] == [
            x["record_id"] for x in body["records"]
            if x["settled"] and x["status"] in ("extracted", "verified")]
        assert all(f["status"] in ("accepted", "confirmed", "corrected", "not_on_document")
                   for x in default["records"] for f in x["fields"])
        star, _ = runtime.index.create_api_key("everything", ["*"])
        assert client.get(url, headers={"Authorization": f"Bearer {star}",
                                        "X-Purpose": "1.004227"}).status_code == 200
        assert client.get(url, params={"status": "bogus"}, headers=auth).status_code == 422
        fields = {f["name"]: f["value"] for f in body["records"][0]["fields"]}
        assert fields["citizen_id"] == cid
        rid = first_batch.files[1].record_ids[0]
        assert client.get(f"/v1/records/{rid}", headers=auth).json()["record_id"] == rid
        assert len(client.get(f"/v1/records/{rid}/versions", headers=auth).json()["versions"]) == 1
        assert client.get("/v1/records/nope-01", headers=auth).status_code == 404
        assert client.get("/v1/citizens/123/records", headers=auth).status_code == 422


def test_searchable_pdf_is_served_with_words_where_the_ocr_found_them(runtime, first_batch):
    """GIVEN a digitized form WHEN its PDF is fetched over the API THEN the text layer gives
    the OCR's words, in its reading order, on the OCR boxes."""
    import io

    import pdfplumber

    from api.app import create_app
    from models.ocr import PageOCR

    (rec,) = records_of(runtime, first_batch.files[1])
    assert rec.pdf_key
    key, _ = runtime.index.create_api_key("pdf-reader", ["originals:read"])
    auth = {"Authorization": f"Bearer {key}", "X-Purpose": "1.004227"}
    app = create_app(runtime.settings, store=runtime.store, index=runtime.index)
    with TestClient(app) as client:
        url = f"/v1/records/{rec.record_id}/pdf"
        assert client.get(url).status_code == 401
        # A short-lived URL of the object store; the PDF comes from there, not the API.
        presigned = client.get(url, headers=auth, follow_redirects=False)
        assert presigned.status_code == 307
        r = httpx.get(presigned.headers["location"])
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert client.get("/v1/records/nope-01/pdf", headers=auth).status_code == 404
    ocr = PageOCR.from_dict(json.loads(runtime.store.get_derived(rec.pages[0].ocr_key)))
    k = 72.0 / ocr.dpi
    with pdfplumber.open(io.BytesIO(r.content)) as pdf:
        assert len(pdf.pages) == 1
        page = pdf.pages[0]
        assert page.width == pytest.approx(ocr.width * k, abs=0.5)
        extracted = page.extract_words()
        text = page.extract_text()
    assert [w["text"] for w in extracted] == [w.text for w in ocr.words]
    for got, want in zip(extracted, ocr.words, strict=True):
        x0, y0, x1, y1 = want.bbox
        assert got["x0"] == pytest.approx(x0 * k, abs=1.0)
        assert got["x1"] == pytest.approx(x1 * k, abs=1.0)
        # vertically the word sits on its line: its middle inside the OCR box's rows
        mid = (got["top"] + got["bottom"]) / 2
        assert y0 * k - 3 <= mid <= y1 * k + 3
    want_id = truth(FORM)["documents"][0]["fields"]["declarant_id"]
    assert want_id in text.replace(" ", "")
    assert text.splitlines()[:2] == [line.text for line in ocr.lines[:2]]


def test_reingest_creates_nothing_new(runtime, first_batch):
    before_ids = sorted(runtime.store.record_ids())
    before_rows = runtime.index.count_records()
    again = ingest([CARD, FORM])
    assert [f.status for f in again.files] == [FileStatus.duplicate] * 2
    assert [f.record_ids for f in again.files] == [f.record_ids for f in first_batch.files]
    assert sorted(runtime.store.record_ids()) == before_ids
    assert runtime.index.count_records() == before_rows
    for rid in before_ids:
        assert len(runtime.store.record_versions(rid)) == 1


def test_corrupt_file_fails_alone_and_the_rest_is_stored(runtime, tmp_path):
    folder = tmp_path / "dossier-with-bad-page"
    folder.mkdir()
    good = save(render(BIRTH_FORM), folder / "page-1.png")
    (folder / "page-2.pdf").write_bytes(b"%PDF-1.7\nthis is not a pdf at all")
    (folder / "page-3.jpg").write_bytes(CARD.read_bytes()[:4000])  # truncated download
    lone_bad = tmp_path / "empty.tiff"
    lone_bad.write_bytes(b"")
    report = ingest([folder, lone_bad])
    by_name = {Path(f.path).name: f for f in report.files}
    assert by_name["page-1.png"].status == FileStatus.accepted
    assert runtime.store.get_original(by_name["page-1.png"].sha256) == good.read_bytes()
    for bad in ("page-2.pdf", "page-3.jpg", "empty.tiff"):
        f = by_name[bad]
        assert f.status == FileStatus.failed and bad in f.error, f
        assert f.error_kind
    (rec,) = records_of(runtime, by_name["page-1.png"])
    assert rec.doctype == "birth_registration"
    assert rec.field("declarant_id").value == "079085001234"
    assert {Path(f.path).name for f in report.failed} == {"page-2.pdf", "page-3.jpg", "empty.tiff"}


def test_a_scanned_stack_is_cut_into_dossiers_at_separator_sheets(runtime, tmp_path):
    """GIVEN one PDF scanned from a stack: a separator sheet, a card, a sheet, a form, a card
    WHEN it is ingested as one file THEN it gives two dossiers (one record, then two), the
    sheets none, and the uploaded dossier lists them all."""
    import pypdfium2
    from PIL import Image

    from extraction.separator import render_separator_sheet

    sheet_pdf = render_separator_sheet(tmp_path / "sheet.pdf")
    sheet = pypdfium2.PdfDocument(str(sheet_pdf))[0].render(scale=200 / 72).to_pil().convert("L")
    card, form = Image.open(CARD).convert("RGB"), Image.open(FORM).convert("RGB")
    pages = [sheet, card, sheet, form, card]
    stack = tmp_path / "stack.pdf"
    pages[0].save(stack, save_all=True, append_images=pages[1:], resolution=200.0)
    (result,) = ingest([stack]).files
    assert result.status == FileStatus.accepted and result.pages == 5
    records = records_of(runtime, result)
    one, two = f"{result.dossier_id}.1", f"{result.dossier_id}.2"
    assert [(r.dossier_id, r.doctype) for r in records] == [
        (one, "cccd_front"), (two, "birth_registration"), (two, "cccd_front")]
    assert [p.source_page for r in records for p in r.pages] == [1, 3, 4]
    assert all(runtime.store.derived_exists(r.pdf_key) for r in records)
    assert records[0].field("citizen_id").value == truth(CARD)["documents"][0]["fields"][
        "citizen_id"]
    listed = runtime.ledger.dossier_records(result.dossier_id)
    assert [e.record_id for e in listed] == result.record_ids


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(DOSSIER_BIN), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_cli_ingest_report_records_and_reindex(s3_endpoint, tmp_path):
    assert DOSSIER_BIN.exists(), "the dossier command is not installed in this environment"
    env = cli_env(s3_endpoint, tmp_path / "data", f"c{uuid.uuid4().hex[:8]}-")
    card = shutil.copy(CARD, tmp_path / "card.png")
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"not a pdf")
    report_file = tmp_path / "report.json"
    p = run_cli(["ingest", str(card), str(bad), "--station", "S1", "--operator", "op",
                 "--report", str(report_file)], env, tmp_path)
    assert p.returncode == 4, p.stdout + p.stderr
    assert s3_endpoint.secret_key not in p.stdout + p.stderr
    report = json.loads(report_file.read_text(encoding="utf-8"))
    files = {Path(f["path"]).name: f for f in report["files"]}
    assert files["card.png"]["status"] == "accepted" and files["card.png"]["record_ids"]
    assert files["scan.pdf"]["status"] == "failed" and "scan.pdf" in files["scan.pdf"]["error"]
    assert "scan.pdf" in p.stdout + p.stderr

    cid = truth(CARD)["documents"][0]["fields"]["citizen_id"]
    listed = run_cli(["records", "--citizen-id", cid, "--json"], env, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [r["record_id"] for r in json.loads(listed.stdout)] == files["card.png"]["record_ids"]

    # The index is a projection: drop it and rebuild it from the records in S3.
    (tmp_path / "data" / "index.sqlite3").unlink()
    assert run_cli(["records", "--citizen-id", cid], env, tmp_path).returncode == 8
    rebuilt = run_cli(["reindex"], env, tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = run_cli(["records", "--citizen-id", cid, "--json"], env, tmp_path)
    assert [r["record_id"] for r in json.loads(again.stdout)] == files["card.png"]["record_ids"]

    created = run_cli(["apikey", "create", "--name", "portal", "--scope", "records:read"], env,
                      tmp_path)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1].strip()
    listed_keys = run_cli(["apikey", "list"], env, tmp_path)
    assert "portal" in listed_keys.stdout and key not in listed_keys.stdout

    # `dossier serve`: the real server process, queried over HTTP.
    port = free_port()
    auditor = run_cli(["apikey", "create", "--name", "inspector", "--scope", "access-log:read"],
                      env, tmp_path).stdout.strip().splitlines()[-1].strip()
    # Two web processes on one port (uvicorn workers), each logging without citizen IDs.
    server = subprocess.Popen([str(DOSSIER_BIN), "serve", "--port", str(port),
                               "--web-workers", "2"], env=env,
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz", server)
        url = f"{base}/v1/citizens/{cid}/records"
        assert httpx.get(url).status_code == 401
        auth = {"Authorization": f"Bearer {key}", "X-Purpose": "1.004227"}
        r = httpx.get(url, params={"status": "all"}, headers=auth)
        assert r.status_code == 200 and r.json()["count"] == 1
        # The audit trail came back with the reindex: the machine's extraction event.
        rid = r.json()["records"][0]["record_id"]
        audit = httpx.get(f"{base}/v1/records/{rid}/audit", headers=auth).json()["events"]
        assert [(e["action"], e["actor"]) for e in audit] == [("extracted", "machine")]
        # Both reads are in the citizen's access log, whichever process answered them.
        log = httpx.get(f"{base}/v1/citizens/{cid}/access-log",
                        headers={"Authorization": f"Bearer {auditor}"}).json()
        assert [(e["action"], e["purpose"]["code"]) for e in log["entries"]] == [
            ("record", "1.004227"), ("citizen_lookup", "1.004227")]
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert "/v1/citizens/" in out  # requests are logged ...
    assert cid not in out  # ... without the citizen ID


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {timeout} s")


def cli_env(s3: S3Endpoint, data_dir: Path, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOSSIER_", "PREFECT_"))}
    env.update(DOSSIER_DATA_DIR=str(data_dir), DOSSIER_S3_ENDPOINT=s3.endpoint,
               DOSSIER_S3_ACCESS_KEY=s3.access_key, DOSSIER_S3_SECRET_KEY=s3.secret_key,
               DOSSIER_BUCKET_PREFIX=prefix)
    return env


def test_killed_ingest_resumes_without_loss_or_duplicates(s3_endpoint, tmp_path):
    from storage.index import RecordIndex
    from storage.objects import ObjectStore

    prefix = f"k{uuid.uuid4().hex[:8]}-"
    env = cli_env(s3_endpoint, tmp_path / "data", prefix)
    batch = tmp_path / "batch"
    batch.mkdir()
    for name in ("cccd-front-clean.png", "birth-registration-clean.png",
                 "cccd-front-skewed-phone.jpg", "dossier-mixed-receipt-cccd-birth.pdf"):
        shutil.copy(SAMPLES / name, batch / name)
    store = ObjectStore(s3_endpoint, prefix)
    cmd = [str(DOSSIER_BIN), "ingest", str(batch), "--split-folders"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    # Kill the whole process group (the command and its Prefect server) like a power cut,
    # once some pages are done but before the batch is.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        done = list(store.client.list_objects(store.derived_bucket, prefix="ocr/", recursive=True))
        if len(done) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, 9)
    assert proc.wait(timeout=30) == -9, "the batch finished before it could be interrupted"

    again = subprocess.run([*cmd, "--report", str(tmp_path / "r.json")], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert {Path(f["path"]).name for f in report["files"]} == {p.name for p in batch.iterdir()}
    assert all(f["status"] in ("accepted", "duplicate") for f in report["files"])
    record_ids = sorted({r for f in report["files"] for r in f["record_ids"]})
    assert len(record_ids) >= 6  # 1 + 1 + 1 + the mixed dossier's documents
    assert sorted(store.record_ids()) == record_ids
    assert all(len(store.record_versions(r)) == 1 for r in record_ids)
    with RecordIndex(f"sqlite:///{tmp_path / 'data' / 'index.sqlite3'}") as index:
        assert index.count_records() == len(record_ids)
        cid = truth(CARD)["documents"][0]["fields"]["citizen_id"]
        assert len(index.records_for_citizen(cid)) == 1
        for f in report["files"]:
            assert index.find_file(f["sha256"]).record_ids == f["record_ids"]
