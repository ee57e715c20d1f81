"""The review workspace as clerks use it: real headless Chromium (Debian's, driven by
Playwright) against the real app served over HTTP, over dossiers ingested through the flow
into the S3 server and a SQLite index. Two browser contexts act as two clerks."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from models.records import FieldStatus, Record, RecordStatus
from storage.embedded import S3Endpoint

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_scans"
# Documents whose extraction leaves work for a clerk: a full form, a phone photo of a card,
# a fax-quality registration.
DOCS = [SAMPLES / "birth-registration-clean.png", SAMPLES / "cccd-front-skewed-phone.jpg",
        SAMPLES / "enterprise-registration-fax-200x100.png"]
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse 1"
LEASE_MINUTES = 0.1  # six seconds, so the expiry of a lease can be watched
SETTLED = ("st-accepted", "st-confirmed", "st-corrected", "st-not_on_document")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: S3Endpoint) -> Iterator[dict]:
    """Dossiers ingested through the flow, users, and the app served on a free port."""
    import uvicorn

    from api.app import create_app
    from api.web.accounts import hash_password
    from cli.ingest import ingest_paths
    from flows.runtime import Runtime, set_runtime
    from models.accounts import Role
    from models.settings import Settings

    data = tmp_path_factory.mktemp("review-data")
    settings = Settings(data_dir=data, s3_endpoint=s3_endpoint.endpoint,
                        s3_access_key=s3_endpoint.access_key,
                        s3_secret_key=s3_endpoint.secret_key,
                        bucket_prefix=f"r{uuid.uuid4().hex[:8]}-", lease_minutes=LEASE_MINUTES,
                        _env_file=None)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PREFECT_HOME", str(data / "prefect"))
        rt = Runtime(settings)
        set_runtime(rt)
        try:
            report = ingest_paths(DOCS, station="Q1", operator="op")
            assert not report.failed, report.failed
            for name, role in [("an", Role.reviewer), ("binh", Role.reviewer),
                               ("op", Role.operator), ("ad", Role.admin)]:
                rt.index.create_user(name, hash_password(PASSWORD), role)
            key, _ = rt.index.create_api_key("portal", ["records:read"])
            app = create_app(settings, store=rt.store, index=rt.index)
            port = _free_port()
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                   log_level="warning"))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            deadline = time.monotonic() + 30
            while not server.started:
                assert time.monotonic() < deadline, "the app did not start"
                time.sleep(0.05)
            try:
                yield {"base": f"http://127.0.0.1:{port}", "rt": rt, "key": key,
                       "report": report}
            finally:
                server.should_exit = True
                thread.join(timeout=10)
        finally:
            set_runtime(None)
            rt.close()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (installs Debian's chromium)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield b
        finally:
            b.close()


class Clerk:
    """One person in a browser context of their own, with the page's errors collected."""

    def __init__(self, browser, base: str, name: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1400, "height": 900},
                                           locale="vi-VN")
        self.errors: list[str] = []
        self.page = self.new_page()
        self.page.goto(f"{base}/login")
        self.page.fill("input[name=username]", name)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(lambda url: "/login" not in url)

    def new_page(self):
        page = self.context.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page

    def close(self) -> None:
        self.context.close()


# Waits are for selectors and expectations: the pages' Content-Security-Policy forbids the
# eval behind wait_for_function's polling.
def wait_focused(page, name: str | None = None) -> None:
    """Until a field (``name``, or any) has the focus."""
    which = f"[data-name='{name}']" if name else "[data-name]"
    page.locator(f"#field-list {which}:focus").wait_for()


def wait_status(page, name: str, status: str) -> None:
    page.locator(f"#field-{name}.st-{status}").wait_for()


def open_record(page, base: str, record_id: str) -> None:
    page.goto(f"{base}/review/{record_id}")
    page.locator("#field-list [data-name]:focus, #banner:not([hidden])").first.wait_for()


def claim_page(page, base: str, record_id: str) -> None:
    """Open a record for review, waiting out a lease another test's clerk left behind."""
    deadline = time.monotonic() + LEASE_MINUTES * 60 + 15
    while True:
        open_record(page, base, record_id)
        if page.locator("#banner").is_hidden():
            return
        assert time.monotonic() < deadline, page.inner_text("#banner")
        page.wait_for_timeout(1000)


def field_states(page) -> list[tuple[str, str]]:
    """(field name, status class) of every field on the review page, in order."""
    return page.eval_on_selector_all(
        "#field-list li", "els => els.map(e => [e.id.slice(6), "
        "[...e.classList].find(c => c.startsWith('st-'))])")


def focused(page) -> str | None:
    return page.evaluate("document.activeElement && document.activeElement.dataset.name || null")


def unresolved(page) -> list[str]:
    return [n for n, st in field_states(page) if st not in SETTLED]


def queue_ids(stack) -> list[str]:
    return [e.record_id for e in stack["rt"].index.review_queue()]


def stored(stack, record_id: str) -> Record:
    return Record.from_json(stack["rt"].store.get_record(record_id))


def test_pages_need_a_login_the_right_role_and_csrf(stack, browser) -> None:
    """
    GIVEN the app with an operator, a reviewer and an admin
    WHEN pages are opened without a session, with the wrong role, a wrong password, or a
         form posted without its CSRF token
    THEN the login page, a clear 403 page, an error, and a refusal come back
    """
    base = stack["base"]
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"{base}/review")
    assert "/login" in page.url and page.locator("input[name=password]").is_visible()
    page.fill("input[name=username]", "an")
    page.fill("input[name=password]", "wrong password")
    page.keyboard.press("Enter")
    assert page.locator(".alert").inner_text() == "Sai tên đăng nhập hoặc mật khẩu."
    # A form post without the CSRF token is refused before it reaches the app.
    r = ctx.request.post(f"{base}/login", form={"username": "an", "password": PASSWORD})
    assert r.status == 403
    ctx.close()

    op = Clerk(browser, base, "op")
    resp = op.page.goto(f"{base}/review")
    assert resp is not None and resp.status == 403
    assert "Không được phép" in op.page.inner_text("h1")
    assert op.page.goto(f"{base}/admin/users").status == 403
    op.close()
    admin = Clerk(browser, base, "ad")
    assert admin.page.goto(f"{base}/admin/users").status == 200
    assert "binh" in admin.page.inner_text("table")
    admin.close()


def test_two_clerks_never_get_the_same_document_and_leases_expire(stack, browser) -> None:
    """
    GIVEN two reviewers on the queue page
    WHEN both ask for the next document at once, and the second opens the first one's
    THEN they get different documents, the second sees it is taken (read-only), and once the
         first clerk's page is gone and the lease expires, the second can claim it
    """
    base = stack["base"]
    assert len(queue_ids(stack)) >= 2
    an, binh = Clerk(browser, base, "an"), Clerk(browser, base, "binh")
    for c in (an, binh):
        c.page.goto(f"{base}/review")
    for c in (an, binh):  # both clicks go out before either page has loaded the answer
        c.page.evaluate("document.getElementById('next-document').click()")
    for c in (an, binh):
        c.page.wait_for_url(f"{base}/review/*")
    mine, theirs = an.page.url.rsplit("/", 1)[1], binh.page.url.rsplit("/", 1)[1]
    assert mine != theirs

    other = binh.new_page()
    open_record(other, base, mine)
    banner = other.locator("#banner")
    assert banner.is_visible() and "an" in banner.inner_text()
    assert other.locator("#field-list input").first.get_attribute("readonly") is not None

    an.page.close()  # the first clerk goes away: nothing renews the lease any more
    claim_page(other, base, mine)
    entry = stack["rt"].index.get_record(mine)
    assert entry is not None and entry.lease_user == "binh"
    for p, rid in ((other, mine), (binh.page, theirs)):  # give both documents back
        p.keyboard.press("Alt+s")
        p.wait_for_url(lambda url, rid=rid: not url.endswith(rid))
    assert an.errors == [] and binh.errors == []
    an.close()
    binh.close()


def test_a_clerk_verifies_a_document_with_the_keyboard_alone(stack, browser) -> None:
    """
    GIVEN a birth registration needing review
    WHEN a clerk works through it with the keyboard only
    THEN the first unresolved field has focus and its box is drawn where the stored box is;
         Ctrl+Enter does nothing while fields are unresolved; Esc restores the OCR value;
         Enter during an IME composition does not move on; Enter saves and moves to the next
         unresolved field; a name typed with combining marks is stored NFC; Ctrl+Enter then
         approves and opens the next document; the API returns the correction with its
         provenance and the audit trail the exact old and new values; no console errors
    """
    base, rt = stack["base"], stack["rt"]
    record_id = stack["report"].files[0].record_ids[0]
    assert stored(stack, record_id).doctype == "birth_registration"
    clerk = Clerk(browser, base, "an")
    page = clerk.page
    claim_page(page, base, record_id)
    if os.environ.get("DOSSIER_SCREENSHOTS"):
        page.screenshot(path=str(Path(os.environ["DOSSIER_SCREENSHOTS"]) / "review-page.png"))

    todo = unresolved(page)
    assert todo and focused(page) == todo[0]
    rec = stored(stack, record_id)

    # The focused field's box: stored box times the display scale, inside the viewport.
    with_box = next(n for n in todo if rec.field(n).bbox is not None)
    if focused(page) != with_box:
        while focused(page) != with_box:
            page.keyboard.press("Tab")
    x0, y0, x1, y1 = rec.field(with_box).bbox
    img = page.locator("#page-image").bounding_box()
    natural = page.evaluate("document.getElementById('page-image').naturalWidth")
    s = img["width"] / natural
    box = page.locator(f"#box-{with_box}")
    assert "active" in (box.get_attribute("class") or "")
    b = box.bounding_box()
    for got, want in [(b["x"] - img["x"], x0 * s), (b["y"] - img["y"], y0 * s),
                      (b["width"], (x1 - x0) * s), (b["height"], (y1 - y0) * s)]:
        assert abs(got - want) <= 4, (got, want)
    assert 0 <= b["y"] and b["y"] + b["height"] <= page.viewport_size["height"]
    assert 0 <= b["x"] and b["x"] + b["width"] <= page.viewport_size["width"]

    # Ctrl+Enter while a field is unresolved: nothing happens.
    page.keyboard.press("Control+Enter")
    assert page.url.endswith(record_id) and stored(stack, record_id).revision == rec.revision

    # Esc restores the machine's value.
    name = focused(page)
    before = page.input_value(f"#input-{name}")
    page.keyboard.press("Control+a")
    page.keyboard.type("XYZ")
    page.keyboard.press("Escape")
    assert page.input_value(f"#input-{name}") == before

    # Enter while an input method composes: no save, no move.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.imeSetComposition", {"text": "Nguy", "selectionStart": 4,
                                         "selectionEnd": 4})
    page.keyboard.press("Enter")
    assert focused(page) == name and stored(stack, record_id).revision == rec.revision
    cdp.send("Input.insertText", {"text": ""})
    page.fill(f"#input-{name}", before)

    # A name typed with combining marks (as some keyboards send it) is stored NFC.
    from extraction import load_doctypes

    kinds = {f.name: f.type for d in load_doctypes() if d.id == rec.doctype for f in d.fields}
    order = [n for n, _ in field_states(page)]
    name_field = next(n for n in order if kinds.get(n) == "person_name"
                      and rec.field(n).value)
    step = "Tab" if order.index(name_field) > order.index(focused(page)) else "Shift+Tab"
    while focused(page) != name_field:
        page.keyboard.press(step)
    typed = unicodedata.normalize("NFD", "Nguyễn Văn An")
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(typed)
    page.keyboard.press("Enter")
    wait_status(page, name_field, "corrected")
    nfc = unicodedata.normalize("NFC", "Nguyễn Văn An")
    assert nfc != typed and stored(stack, record_id).field(name_field).value == nfc
    if unresolved(page):
        assert focused(page) in unresolved(page)

    # Work through every unresolved field: valid values kept with Enter, the rest marked
    # not on the document; each time focus goes to the next unresolved field.
    for _ in range(60):
        todo = unresolved(page)
        if not todo:
            break
        current = focused(page)
        assert current in todo, (current, todo)
        expected_next = [n for n in todo if n != current]
        expected_next.sort(key=lambda n: (order.index(n) <= order.index(current),
                                          order.index(n)))
        revision = stored(stack, record_id).revision
        page.keyboard.press("Enter")
        expect(page.locator("#status-line")).not_to_have_text("Đang lưu…")
        if stored(stack, record_id).revision == revision:  # refused: not a valid value
            assert page.inner_text(f"#msg-{current}")
            page.keyboard.press("Alt+m")
            expect(page.locator(f"#field-{current}")).not_to_have_class(
                re.compile(r"\bst-(review|missing)\b"))
        if expected_next:
            wait_focused(page, expected_next[0])
    assert unresolved(page) == []

    page.keyboard.press("Control+Enter")
    page.wait_for_url(lambda url: not url.endswith(record_id))
    done = stored(stack, record_id)
    assert done.status == RecordStatus.verified and done.reviewed_by == "an"
    assert all(f.settled for f in done.fields)

    # Read back through /v1 with an API key: the correction, its provenance, the audit.
    auth = {"Authorization": f"Bearer {stack['key']}"}
    got = httpx.get(f"{base}/v1/records/{record_id}", headers=auth).json()
    assert got["status"] == "verified" and got["settled"] is True
    audit = httpx.get(f"{base}/v1/records/{record_id}/audit", headers=auth).json()["events"]
    assert [e["action"] for e in audit][-1] == "verified"
    f = next(x for x in got["fields"] if x["name"] == name_field)
    assert f["value"] == nfc and f["status"] == "corrected" and f["source"] == "person"
    assert f["reviewed_by"] == "an" and f["machine_value"] == rec.field(name_field).value
    [ev] = [e for e in audit if e["field"] == name_field]
    assert (ev["action"], ev["old_value"], ev["new_value"], ev["actor"]) == (
        "corrected", rec.field(name_field).value, nfc, "an")
    accepted = [x for x in got["fields"] if x["status"] == "accepted"]
    assert all(x["reviewed_by"] is None for x in accepted)
    for cid in done.citizen_ids:
        listed = httpx.get(f"{base}/v1/citizens/{cid}/records", headers=auth).json()
        assert record_id in [x["record_id"] for x in listed["records"]]
    assert rt.index.get_record(record_id).status == RecordStatus.verified
    stats = httpx.get(f"{base}/v1/review/stats", headers=auth).json()
    mine = next(r for r in stats["reviewers"] if r["key"] == "an")
    assert mine["documents"] >= 1 and mine["fields_decided"] >= 1
    assert 0 < mine["fields_corrected_share"] <= 1
    page.goto(f"{base}/review/stats")
    assert "an" in page.inner_text("table")
    page.goto(f"{base}/review/{record_id}/history")
    assert nfc in page.inner_text("table.audit")
    assert clerk.errors == []
    clerk.close()


def test_a_stale_save_shows_the_conflict_and_overwrites_nothing(stack, browser) -> None:
    """
    GIVEN one clerk with the same document open in two tabs
    WHEN the first tab saves a field and the second, still showing the old revision, saves
    THEN the second gets the conflict banner with a reload offer and the stored record keeps
         the first tab's change
    """
    base = stack["base"]
    record_id = stack["report"].files[1].record_ids[0]
    clerk = Clerk(browser, base, "an")
    first, second = clerk.page, clerk.new_page()
    claim_page(first, base, record_id)
    open_record(second, base, record_id)
    name = focused(first)
    assert name is not None and focused(second) == name
    first.keyboard.press("Alt+m")
    wait_status(first, name, "not_on_document")
    after_first = stored(stack, record_id)
    second.keyboard.press("Alt+m")
    second.locator("#btn-reload").wait_for()
    assert second.locator("#banner").is_visible()
    again = stored(stack, record_id)
    assert again.revision == after_first.revision
    assert again.field(name).status == FieldStatus.not_on_document
    if os.environ.get("DOSSIER_SCREENSHOTS"):
        second.screenshot(path=str(Path(os.environ["DOSSIER_SCREENSHOTS"]) / "conflict.png"))
    clerk.close()


def test_reject_needs_a_reason(stack, browser) -> None:
    """
    GIVEN a document under review
    WHEN the clerk presses Alt+R and submits without a reason, then with one
    THEN the first is refused with a message; the second returns the document to the counter
    """
    base = stack["base"]
    record_id = stack["report"].files[2].record_ids[0]
    clerk = Clerk(browser, base, "binh")
    page = clerk.page
    if os.environ.get("DOSSIER_SCREENSHOTS"):
        page.goto(f"{base}/review")
        page.screenshot(path=str(Path(os.environ["DOSSIER_SCREENSHOTS"]) / "review-queue.png"),
                        full_page=True)
    claim_page(page, base, record_id)
    page.keyboard.press("Alt+r")
    assert page.locator("#reject-dialog").is_visible()
    page.click("#reject-confirm")
    assert page.inner_text("#reject-msg")
    assert stored(stack, record_id).status != RecordStatus.rejected
    page.fill("#reject-reason", "Trang 2 bị thiếu, scan lại")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: not url.endswith(record_id))
    rec = stored(stack, record_id)
    assert rec.status == RecordStatus.rejected and rec.reject_reason == "Trang 2 bị thiếu, scan lại"
    assert clerk.errors == []
    clerk.close()
