"""The served app against bad and hostile requests: CSRF (token, same origin, no skipping for
sessions), bodies without a Content-Type, control characters in names, plain 5xx answers
with a request id (nothing internal in any body), private files under the data dir whatever
the umask, the security headers, /docs without a CDN; and, in Debian's Chromium, the login
and upload pages working under the Content-Security-Policy.

The app runs in-process over the suite's S3 server and a real SQLite file or the PostgreSQL
server; the only faults injected are Prefect being unreachable (a batch then stays queued,
as in production) and, where a test says so, a store or index that fails."""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.app import create_app
from api.web.accounts import hash_password
from models.accounts import Role
from models.settings import Settings
from storage.batches import BatchLedger
from storage.embedded import S3Endpoint
from storage.index import RecordIndex
from storage.objects import ObjectStore
from tests.e2e.service import app_served

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "api" / "web" / "templates"
DOSSIER_BIN = Path(sys.executable).parent / "dossier"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse 1"
BASE = "http://127.0.0.1"
# What no answer may ever show: database and S3 addresses, SQL, keys, tracebacks.
INTERNALS = re.compile(r"postgresql|sqlite|psycopg|SELECT |INSERT |\[SQL|s3://|127\.0\.0\.1|"
                       r"Traceback|File \"|originals/|5432", re.IGNORECASE)


def _png(size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (size, size), 255).save(buf, format="PNG")
    return buf.getvalue()


def prefect_down(batch_id: str) -> str:
    """Injected fault: Prefect cannot be reached, so the accepted batch waits in the queue."""
    raise ConnectionError("Prefect is not reachable in this test")


def make_app(settings: Settings, store: ObjectStore, index: RecordIndex):
    app = create_app(settings, store=store, index=index)
    app.state.submit_batch = prefect_down
    return app


def settings_for(data_dir: Path, **kw: Any) -> Settings:
    return Settings(data_dir=data_dir, _env_file=None, **kw)


def add_people(index: RecordIndex) -> str:
    """An operator speaking Vietnamese, one speaking English, a reviewer; an upload key."""
    index.create_user("op", hash_password(PASSWORD), Role.operator, station="S1", lang="vi")
    index.create_user("op-en", hash_password(PASSWORD), Role.operator, station="S1", lang="en")
    index.create_user("lan", hash_password(PASSWORD), Role.reviewer)
    key, _ = index.create_api_key("station", ["batches:write"])
    return key


def log_in(c: TestClient, name: str) -> str:
    """Log in through the form; returns the CSRF token the page carries."""
    c.get("/login")
    token = c.cookies["csrftoken"]
    r = c.post("/login", data={"username": name, "password": PASSWORD, "csrftoken": token},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    return token


def raw_multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart body written byte for byte (clients escape control characters in file
    names; a hostile one does not)."""
    boundary = f"b{uuid.uuid4().hex}"
    body = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"'.encode()
        if filename is not None:
            disp += b'; filename="' + filename.encode() + b'"'
        body += (f"--{boundary}\r\n".encode() + b"Content-Disposition: " + disp + b"\r\n"
                 + (b"Content-Type: image/png\r\n" if filename is not None else b"")
                 + b"\r\n" + data + b"\r\n")
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def assert_plain(r, status: int) -> dict:
    """An error answer that says what happened in words, with its request id and nothing
    internal."""
    assert r.status_code == status, r.text
    assert not INTERNALS.search(r.text), r.text
    body = r.json()
    assert body["detail"] and body["request_id"] == r.headers["x-request-id"]
    return body


@pytest.fixture
def sqlite_index(tmp_path: Path) -> Iterator[RecordIndex]:
    idx = RecordIndex(f"sqlite:///{tmp_path / 'data' / 'index.sqlite3'}")
    try:
        yield idx
    finally:
        idx.close()


@pytest.fixture
def client(tmp_path: Path, object_store: ObjectStore, sqlite_index: RecordIndex
           ) -> Iterator[tuple[TestClient, str]]:
    key = add_people(sqlite_index)
    app = make_app(settings_for(tmp_path / "data"), object_store, sqlite_index)
    with TestClient(app, base_url=BASE) as c:
        yield c, key


# -- 1. CSRF ------------------------------------------------------------------------------

def test_a_multipart_post_without_the_csrf_token_is_refused_with_a_plain_403(client) -> None:
    """
    GIVEN an operator logged in on the upload page
    WHEN files are posted as multipart without the CSRF token, then with it
    THEN the first gets 403 saying (in Vietnamese) to reload the page; the second is accepted
    """
    c, _ = client
    token = log_in(c, "op")
    files = {"files": ("trang-1.png", _png(), "image/png")}
    refused = c.post("/upload", files=files)
    body = assert_plain(refused, 403)
    assert body["kind"] == "CsrfError" and "tải lại trang" in body["hint"]
    ok = c.post("/upload", files=files, headers={"x-csrftoken": token})
    assert ok.status_code == 202, ok.text


def test_a_session_with_an_authorization_header_is_still_checked(client) -> None:
    """
    GIVEN a logged-in reviewer, and a station's API key
    WHEN the session posts a page form, and /v1, with an Authorization header but no token;
         and the key alone posts to /v1 with no cookie at all
    THEN both session requests are refused (403); the API-key request is accepted
    """
    c, key = client
    log_in(c, "lan")
    bearer = {"Authorization": f"Bearer {key}"}
    r = c.post("/me/lang", data={"lang": "en"}, headers=bearer, follow_redirects=False)
    assert_plain(r, 403)
    r = c.post("/v1/batches", files={"files": ("a.png", _png(), "image/png")}, headers=bearer)
    assert_plain(r, 403)
    with TestClient(c.app, base_url=BASE) as api:  # another system: no cookies, a key
        r = api.post("/v1/batches", files={"files": ("a.png", _png(), "image/png")},
                     headers=bearer)
        assert r.status_code == 202, r.text


def test_a_post_from_another_site_is_refused_even_with_the_token(client) -> None:
    """
    GIVEN a logged-in reviewer and the page's token
    WHEN a form is posted with the Origin of another site, or with only its Referer, then
         with this site's Origin
    THEN the other site's posts get 403 in plain words; this site's goes through
    """
    c, _ = client
    token = log_in(c, "lan")
    form = {"lang": "en", "csrftoken": token}
    for header in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                   {"Referer": "http://evil.example/page"}):
        r = c.post("/me/lang", data=form, headers=header, follow_redirects=False)
        assert_plain(r, 403)
    r = c.post("/me/lang", data=form, headers={"Origin": BASE}, follow_redirects=False)
    assert r.status_code == 303


# -- 2. Bodies without a Content-Type --------------------------------------------------------

def test_a_post_without_content_type_is_told_what_to_send(client) -> None:
    """
    GIVEN a station's API key and a logged-in operator
    WHEN POST /v1/batches, the replace endpoint and the upload page get a body with no
         Content-Type
    THEN each answers 415 naming multipart/form-data and the part to use
    """
    c, key = client
    bearer = {"Authorization": f"Bearer {key}"}
    with TestClient(c.app, base_url=BASE) as api:
        r = api.post("/v1/batches", content=b"some bytes", headers=bearer)
        body = assert_plain(r, 415)
        assert "multipart/form-data" in body["hint"] and "'files'" in body["hint"]
        r = api.post("/v1/batches/B1/files/1", content=b"", headers=bearer)
        body = assert_plain(r, 415)
        assert "'file'" in body["hint"]
        r = api.post("/v1/batches", content=b"x", headers={**bearer, "Content-Type":
                                                            "multipart/form-data"})
        assert_plain(r, 415)  # no boundary: not parseable either
    token = log_in(c, "op-en")
    r = c.post("/upload", content=b"x", headers={"x-csrftoken": token})
    assert "multipart/form-data" in assert_plain(r, 415)["hint"]


# -- 3. Names, plain 5xx, request ids --------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.postgres)])
def test_control_characters_in_names_are_dropped(backend, request, tmp_path, object_store
                                                 ) -> None:
    """
    GIVEN the index on SQLite and on PostgreSQL (which refuses NUL in text)
    WHEN a batch comes with a NUL and other control characters in a file name and the
         station, beside a file with a plain name
    THEN the batch is accepted (202) and stored with the names cleaned
    """
    url = (f"sqlite:///{tmp_path / 'index.sqlite3'}" if backend == "sqlite"
           else request.getfixturevalue("postgres_schema_url"))
    with RecordIndex(url) as index:
        key = add_people(index)
        app = make_app(settings_for(tmp_path / "data"), object_store, index)
        body, ctype = raw_multipart([
            ("station", None, b"S\x00-1\x1b"),
            ("files", "ho\x00so/trang\x01 1\u202e.png", _png(32)),
            ("files", "plain.png", _png(40))])
        with TestClient(app, base_url=BASE) as c:
            r = c.post("/v1/batches", content=body, headers={
                "Content-Type": ctype, "Authorization": f"Bearer {key}"})
            assert r.status_code == 202, r.text
        status = BatchLedger(index).status(r.json()["batch_id"])
        assert sorted(f.name for f in status.files) == ["hoso/trang 1.png", "plain.png"]
        assert status.station == "S-1"


def test_an_overlong_station_is_refused_with_a_400(client) -> None:
    c, key = client
    with TestClient(c.app, base_url=BASE) as api:
        r = api.post("/v1/batches", data={"station": "S" * 201},
                     files={"files": ("a.png", _png(), "image/png")},
                     headers={"Authorization": f"Bearer {key}"})
    assert "station" in assert_plain(r, 400)["detail"]


@pytest.mark.postgres
def test_a_lost_database_answers_a_plain_503_and_logs_the_detail(
        postgres_schema_url, tmp_path, object_store, caplog) -> None:
    """
    GIVEN the app on a PostgreSQL index
    WHEN the index's schema disappears (injected fault) and a station, then an operator's
         page, make requests
    THEN each gets 503 with a plain message, what to do and a request id (also in
         X-Request-ID) and nothing of the database; the log has the SQL error under that id
    """
    schema = re.search(r"search_path%3D(\w+)", postgres_schema_url).group(1)
    with RecordIndex(postgres_schema_url) as index:
        key = add_people(index)
        app = make_app(settings_for(tmp_path / "data"), object_store, index)
        with TestClient(app, base_url=BASE) as c:
            token = log_in(c, "op")
            with psycopg.connect(postgres_schema_url.split("?")[0].replace(
                    "postgresql+psycopg", "postgresql"), autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            with caplog.at_level(logging.ERROR, logger="api.errors"):
                with TestClient(app, base_url=BASE) as api:
                    r = api.get("/v1/batches", headers={"Authorization": f"Bearer {key}"})
                body = assert_plain(r, 503)
                assert body["kind"] == "Unavailable" and "request id" in body["hint"]
                page = c.post("/upload", files={"files": ("a.png", _png(), "image/png")},
                              headers={"x-csrftoken": token, "accept": "application/json"})
                assert "quản trị" in assert_plain(page, 503)["hint"]  # in the operator's words
        logged = [rec.getMessage() for rec in caplog.records
                  if body["request_id"] in rec.getMessage()]
        assert logged and "does not exist" in logged[0]


def test_an_unreachable_object_store_answers_a_plain_503(tmp_path, s3_endpoint,
                                                         sqlite_index, caplog) -> None:
    """
    GIVEN the app whose S3 server stops answering (injected fault: its client points at a
          closed port)
    WHEN a batch is uploaded
    THEN 503 with a plain message and no S3 address or object key; the log has them
    """
    store = ObjectStore(s3_endpoint, f"t{uuid.uuid4().hex[:10]}-", retry_delays=())
    key = add_people(sqlite_index)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = S3Endpoint(f"127.0.0.1:{closed.getsockname()[1]}", s3_endpoint.access_key,
                      s3_endpoint.secret_key)
    store.client = dead.client()
    app = make_app(settings_for(tmp_path / "data"), store, sqlite_index)
    with caplog.at_level(logging.ERROR, logger="api.errors"), \
            TestClient(app, base_url=BASE) as c:
        r = c.post("/v1/batches", files={"files": ("a.png", _png(), "image/png")},
                   headers={"Authorization": f"Bearer {key}"})
    closed.close()
    body = assert_plain(r, 503)
    assert [m for m in caplog.messages if body["request_id"] in m and "s3://" in m]


def test_an_unexpected_error_answers_a_plain_500_with_a_request_id(client, caplog) -> None:
    """
    GIVEN the app whose index fails in an unforeseen way (injected fault)
    WHEN a client calls /v1
    THEN 500 with a plain message and the request id; the traceback is in the log only
    """
    c, key = client

    def broken(*_: Any) -> None:
        raise RuntimeError("boom at postgresql://dossier:secret@db/records")

    c.app.state.index.verify_api_key = broken
    with caplog.at_level(logging.ERROR), TestClient(c.app, base_url=BASE) as api:
        r = api.get("/v1/batches", headers={"Authorization": f"Bearer {key}",
                                           "X-Request-ID": "lb-0123456789"})
    body = assert_plain(r, 500)
    assert body["request_id"] == "lb-0123456789" and "boom" not in r.text
    crash = [rec for rec in caplog.records if "lb-0123456789" in rec.getMessage()]
    assert crash and crash[0].exc_info and "boom" in str(crash[0].exc_info[1])


def test_upload_failures_are_said_in_the_operators_language(tmp_path, object_store,
                                                            sqlite_index) -> None:
    """
    GIVEN a limit of 20,000 bytes per upload, operators who speak Vietnamese and English
    WHEN each sends more than that from the upload page
    THEN the 413 says so in their language, with the limit written their way
    """
    add_people(sqlite_index)
    app = make_app(settings_for(tmp_path / "data", max_upload_bytes=20_000), object_store,
                   sqlite_index)
    big = {"files": ("big.tiff", os.urandom(30_000), "image/tiff")}
    with TestClient(app, base_url=BASE) as c:
        token = log_in(c, "op")
        vi = assert_plain(c.post("/upload", files=big, headers={"x-csrftoken": token}), 413)
    with TestClient(app, base_url=BASE) as c:
        token = log_in(c, "op-en")
        en = assert_plain(c.post("/upload", files=big, headers={"x-csrftoken": token}), 413)
    assert "20.000" in vi["detail"] and "vượt" in vi["detail"] and "ít tệp hơn" in vi["hint"]
    assert "20,000" in en["detail"] and "over the limit" in en["detail"]


# -- 4. Private files ------------------------------------------------------------------------

def loose_paths(root: Path) -> list[str]:
    """Everything under ``root`` that someone other than its owner could read or enter."""
    out = []
    for p in [root, *root.rglob("*")]:
        mode = p.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        want = 0o700 if stat.S_ISDIR(mode) else 0o600
        if stat.S_IMODE(mode) & ~want or stat.S_IMODE(mode) & 0o077:
            out.append(f"{p.relative_to(root.parent)} {stat.S_IMODE(mode):o}")
    return out


def test_files_under_the_data_dir_are_private_under_umask_022(tmp_path, object_store) -> None:
    """
    GIVEN umask 022 (files 0644, folders 0755 by default)
    WHEN the app creates its data dir, SQLite index and secret, an operator uploads through
         the spool, a worker caches the original, and `dossier user create` makes another
         data dir
    THEN every file there is 0600 and every folder 0700
    """
    from flows.runtime import Runtime, set_runtime
    from flows.stages import local_original

    data = tmp_path / "data"
    old = os.umask(0o022)
    try:
        settings = settings_for(data, s3_endpoint=object_store.endpoint.endpoint,
                                s3_access_key=object_store.endpoint.access_key,
                                s3_secret_key=object_store.endpoint.secret_key,
                                bucket_prefix=object_store.bucket_prefix)
        with RecordIndex(settings.resolved_index_url()) as index:
            add_people(index)
            with TestClient(make_app(settings, object_store, index), base_url=BASE) as c:
                token = log_in(c, "op")
                r = c.post("/upload", files={"files": ("a.png", _png(), "image/png")},
                           headers={"x-csrftoken": token})
                assert r.status_code == 202, r.text
            sha = BatchLedger(index).status(r.json()["batch_id"]).files[0].sha256
        runtime = Runtime(settings)
        set_runtime(runtime)
        try:
            assert local_original(sha).read_bytes() == _png()
        finally:
            set_runtime(None)
            runtime.close()
        made = subprocess.run([str(DOSSIER_BIN), "user", "create", "mai", "--role", "admin"],
                              input=f"{PASSWORD}\n", capture_output=True, text=True,
                              env={**os.environ, "DOSSIER_DATA_DIR": str(tmp_path / "cli")},
                              cwd=tmp_path, timeout=120, umask=0o022)
        assert made.returncode == 0, made.stderr
    finally:
        os.umask(old)
    names = {p.name for p in data.rglob("*")}
    assert {"index.sqlite3", "secret_key", "spool", "originals", sha} <= names, names
    assert loose_paths(data) == []
    assert (tmp_path / "cli" / "index.sqlite3").exists()
    assert loose_paths(tmp_path / "cli") == []


def test_the_embedded_s3_server_keeps_its_files_private_under_umask_022(tmp_path) -> None:
    """
    GIVEN umask 022
    WHEN the embedded S3 server is started under a new data dir and stores a scan
    THEN its folder, credentials, log and stored objects are private (but SeaweedFS's volume
         descriptors, ``*.vif``, which it chmods 0644 itself and which hold no data, only
         the volume's format, inside the 0700 folders)
    """
    from storage.embedded import EmbeddedS3

    old = os.umask(0o022)
    server = EmbeddedS3(tmp_path / "data")
    try:
        store = ObjectStore(server.ensure_running(timeout=60), "p-")
        scan = tmp_path / "scan.png"
        scan.write_bytes(_png())
        store.put_original(scan, filename="scan.png", content_type="image/png")
    finally:
        server.stop()
        os.umask(old)
    assert [p for p in loose_paths(tmp_path / "data") if ".vif " not in p] == []


# -- 5. Headers and scripts ------------------------------------------------------------------

def test_every_answer_has_the_security_headers_and_a_request_id(client) -> None:
    c, _ = client
    for r in (c.get("/login"), c.get("/v1/batches"), c.get("/static/app.css")):
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] in ("same-origin", "no-referrer")
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    assert c.get("/v1/batches").json()["request_id"]  # the 401 names it too


def test_the_templates_have_no_inline_script() -> None:
    """Inline <script> (other than JSON data) and on...= handlers would be blocked by the
    Content-Security-Policy: they belong in static files."""
    inline = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
    handler = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
    found = [f"{t.name}: {m.group(0)}" for t in sorted(TEMPLATES.glob("*.html"))
             for rx in (inline, handler) for m in rx.finditer(t.read_text())]
    assert found == []


# -- 6. /docs offline ------------------------------------------------------------------------

def test_docs_are_served_by_the_app_itself(client) -> None:
    c, _ = client
    r = c.get("/docs")
    assert r.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))]
    for a in assets:
        if a.startswith("/"):
            assert c.get(a).status_code == 200, a
    assert c.get("/openapi.json").json()["info"]["title"] == "Dossier record store"


# -- 5 and 3 in the browser ------------------------------------------------------------------


@pytest.fixture
def served(tmp_path, object_store, sqlite_index) -> Iterator[str]:
    add_people(sqlite_index)
    app = make_app(settings_for(tmp_path / "data", max_upload_bytes=200_000), object_store,
                   sqlite_index)
    with app_served(app) as base:
        yield base


# Every Content-Security-Policy violation the page sees, kept for the test to read.
_WATCH_CSP = """window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));"""


@pytest.mark.e2e
def test_login_upload_and_docs_work_in_chromium_under_the_csp(served, tmp_path) -> None:
    """
    GIVEN the app served over HTTP, Debian's Chromium with no way out of 127.0.0.1
    WHEN an operator logs in, uploads a scan, uploads too much, switches to English, and
         opens /docs
    THEN the scan is received, the refusal is said in Vietnamese, the language changes,
         Swagger UI shows the API; no Content-Security-Policy violation, no outside request
    """
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (installs Debian's chromium)")
    scan = tmp_path / "trang-1.png"
    scan.write_bytes(_png())
    big = tmp_path / "big.tiff"
    big.write_bytes(os.urandom(300_000))
    console: list[str] = []
    outside: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.add_init_script(_WATCH_CSP)
            page.on("console", lambda m: console.append(m.text))

            def only_here(route) -> None:
                if route.request.url.startswith(served):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_here)
            page.goto(f"{served}/login")
            assert page.evaluate("window.__csp") == []
            # The watch works: a script put in the page is blocked and seen.
            page.evaluate("""() => { const s = document.createElement("script");
                s.textContent = "window.ran = 1"; document.body.append(s); }""")
            page.wait_for_function("window.__csp.length > 0")
            assert page.evaluate("window.ran") is None
            page.evaluate("window.__csp = []")
            assert [m for m in console if "Content Security Policy" in m]
            console.clear()
            page.fill("input[name=username]", "op")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/upload")
            page.set_input_files("#pick-files", str(scan))
            page.click("#send")
            playwright.expect(page.locator("#notice")).to_have_text(
                "Đã nhận và lưu an toàn.", timeout=30_000)
            playwright.expect(page.locator("#progress-card")).to_be_visible()
            page.set_input_files("#pick-files", str(big))
            page.click("#send")
            playwright.expect(page.locator("#notice")).to_contain_text("vượt giới hạn",
                                                                       timeout=30_000)
            playwright.expect(page.locator("#notice")).to_contain_text("200.000")
            csp_upload = page.evaluate("window.__csp")
            page.select_option("select[name=lang]", "en")  # app.js sends the form
            playwright.expect(page.locator("h1")).to_have_text("Upload scans")
            csp_lang = page.evaluate("window.__csp")
            page.goto(f"{served}/docs")
            playwright.expect(page.locator(".swagger-ui .info .title")).to_contain_text(
                "Dossier record store", timeout=30_000)
            playwright.expect(page.locator(".opblock-summary-path").first).to_be_visible()
            csp_docs = page.evaluate("window.__csp")
        finally:
            browser.close()
    assert (csp_upload, csp_lang, csp_docs) == ([], [], [])
    assert [m for m in console if "Content Security Policy" in m] == []
    assert outside == []
