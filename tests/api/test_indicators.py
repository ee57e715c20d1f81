"""The counter and the reform's indicators, on the real S3 server and SQLite/PostgreSQL: a
citizen looked up at the counter (ID typed or the chip card's QR content scanned) for a
procedure, the settled records shown with who settled each field, a PDF opened, a reuse
recorded, each in the access log; GET /v1/metrics/summary and Prometheus' /metrics counting
what the batch ledger, the records and the access log hold; and both pages in Chromium under
the Content-Security-Policy.

Batches are put through the ledger's own calls (as a worker does), records through the
record store (as the flow and the review do)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.web.accounts import hash_password
from api.web.counter_pages import citizen_id_from
from models.access import AccessAction
from models.accounts import Role
from models.batches import BatchDossier, BatchFile, BatchPlan, FileProblem, Stage
from models.records import (
    ExtractedField,
    FieldSource,
    FieldStatus,
    PageRef,
    Record,
    RecordStatus,
    utcnow,
)
from models.settings import Settings
from storage.access import AccessLog
from storage.batches import BatchLedger
from storage.embedded import S3Endpoint
from storage.index import RecordIndex
from storage.objects import ObjectStore
from storage.records import RecordStore
from tests.e2e.service import app_served

AN = "079085001234"
QR = f"{AN}|025123456|Nguyễn Văn An|02031985|Nam|12 Lê Lợi, Phường Bến Nghé, Quận 1|15082021"
PASSWORD = "correct horse 1"
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("DOSSIER_SCREENSHOTS")


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None, webhook_delivery=False,
                    access_archive_s=3600)


def _field(name: str, label: str, value: str, status: FieldStatus = FieldStatus.accepted,
           **kw: Any) -> ExtractedField:
    return ExtractedField(name=name, label=label, value=value, confidence=0.99, status=status,
                          **kw)


def _batch(ledger: BatchLedger, batch_id: str, station: str, uploaded_ago: timedelta,
           files: list[tuple[str, Stage, int]]) -> None:
    """A batch uploaded ``uploaded_ago``, run by a worker: each (dossier, outcome, pages)."""
    plan = BatchPlan(batch_id=batch_id, station=station, operator="op",
                     created_at=utcnow() - uploaded_ago,
                     dossiers=[BatchDossier(name=d, dossier_id=d, files=[
                         BatchFile(file_no=i, dossier=d, name=f"{d}.pdf",
                                   sha256=uuid.uuid4().hex * 2)])
                         for i, (d, _, _) in enumerate(files)])
    ledger.create(plan)
    assert ledger.claim(batch_id, "run-1", timedelta(minutes=1), worker="w:1")
    for i, (_, stage, pages) in enumerate(files):
        page_stage = Stage.failed if stage == Stage.failed else Stage.done
        ledger.set_pages(batch_id, i, range(pages), page_stage)
        problem = FileProblem(kind="CorruptFile", message="the file is damaged",
                              hint="scan it again") if stage == Stage.failed else None
        ledger.set_file(batch_id, i, stage, pages=pages, problem=problem)
    ledger.finish(batch_id, "run-1")


@pytest.fixture
def world(tmp_path: Path, s3_endpoint: S3Endpoint, index: RecordIndex
          ) -> Iterator[dict[str, Any]]:
    """Station Q1-03's batch (two dossiers, three pages) gave An's card (settled by the
    machine, with a PDF) and birth certificate (verified by lan, one field corrected);
    station Q5-01's batch has a failed file and a document waiting for review. A counter
    clerk, a reviewer, an admin; a portal key and a metrics key."""
    store = ObjectStore(s3_endpoint, bucket_prefix=f"t{uuid.uuid4().hex[:10]}-")
    ledger = BatchLedger(index)
    _batch(ledger, "B1", "Q1-03", timedelta(hours=2), [("D1", Stage.done, 2),
                                                       ("D2", Stage.needs_review, 1)])
    _batch(ledger, "B2", "Q5-01", timedelta(hours=1), [("D3", Stage.failed, 4),
                                                       ("D4", Stage.needs_review, 1)])
    pdf = b"%PDF-1.7 searchable " + uuid.uuid4().bytes
    pdf_key = f"pdf/{uuid.uuid4().hex}.pdf"
    store.put_derived(pdf_key, pdf, "application/pdf")
    page = [PageRef(index=0, original_sha256="0" * 64, source_page=0)]
    rs = RecordStore(store, index)
    card = Record(record_id=f"card-{uuid.uuid4().hex[:6]}", dossier_id="D1", batch_id="B1",
                  doctype="cccd_front", title="Căn cước công dân (mặt trước)",
                  status=RecordStatus.extracted, citizen_ids=[AN], pages=page,
                  station="Q1-03", pdf_key=pdf_key,
                  fields=[_field("full_name", "Họ và tên", "Nguyễn Văn An"),
                          _field("citizen_id", "Số định danh", AN, source=FieldSource.qr)])
    reviewed = utcnow() - timedelta(minutes=30)
    birth = Record(record_id=f"birth-{uuid.uuid4().hex[:6]}", dossier_id="D2", batch_id="B1",
                   doctype="birth_certificate", status=RecordStatus.verified,
                   citizen_ids=[AN], pages=page, station="Q1-03", reviewed_by="lan",
                   reviewed_at=reviewed,
                   fields=[_field("full_name", "Họ, chữ đệm, tên", "Nguyễn Văn An",
                                  FieldStatus.confirmed, reviewed_by="lan",
                                  reviewed_at=reviewed),
                           _field("place_of_birth", "Nơi sinh", "Bệnh viện Từ Dũ",
                                  FieldStatus.corrected, reviewed_by="lan",
                                  reviewed_at=reviewed, machine_value="Bệnh viện Tu Du")])
    waiting = Record(record_id=f"form-{uuid.uuid4().hex[:6]}", dossier_id="D4", batch_id="B2",
                     doctype="residence_form", status=RecordStatus.needs_review,
                     citizen_ids=[AN], pages=page, station="Q5-01",
                     created_at=utcnow() - timedelta(hours=1),
                     fields=[_field("full_name", "Họ và tên", "Nguyen Van An",
                                    FieldStatus.review)])
    for r in (card, birth, waiting):
        rs.put_machine(r)
    index.create_user("thu", hash_password(PASSWORD), Role.counter, station="UBND Phường 1",
                      lang="en")
    index.create_user("mai", hash_password(PASSWORD), Role.counter, station="UBND Phường 1")
    index.create_user("lan", hash_password(PASSWORD), Role.reviewer)
    index.create_user("root", hash_password(PASSWORD), Role.admin, lang="en")
    portal, _ = index.create_api_key("portal", ["records:read"], agency="Sở Tư pháp")
    metrics, _ = index.create_api_key("prometheus", ["metrics:read"])
    app = create_app(settings(tmp_path), store=store, index=index)
    yield {"app": app, "index": index, "store": store, "card": card, "birth": birth,
           "waiting": waiting, "pdf": pdf,
           "portal": {"Authorization": f"Bearer {portal}"},
           "metrics": {"Authorization": f"Bearer {metrics}"}}


def log_in(c: TestClient, name: str) -> str:
    c.get("/login")
    token = c.cookies["csrftoken"]
    r = c.post("/login", data={"username": name, "password": PASSWORD, "csrftoken": token},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    return token


def test_the_chip_cards_qr_content_gives_the_citizen_id() -> None:
    """
    GIVEN what a USB QR reader types for a chip card, an ID typed with spaces, and junk
    WHEN the counter reads them
    THEN the ID (and the card's name and birth date) come out; junk gives nothing
    """
    card = citizen_id_from(QR + "\n")
    assert card is not None and card.citizen_id == AN
    assert (card.name, card.date_of_birth) == ("Nguyễn Văn An", "02/03/1985")
    assert citizen_id_from(" 0790 8500 1234 ").citizen_id == AN
    assert citizen_id_from("07908500123") is None
    assert citizen_id_from("abc|def") is None


def test_the_counter_shows_settled_records_and_logs_lookup_pdf_and_reuse(
        world: dict[str, Any]) -> None:
    """
    GIVEN a counter clerk and a citizen with two settled records and one waiting for review
    WHEN the clerk looks the citizen up without a procedure, then scans the card's QR for
         procedure 1.004227, opens the card's PDF and records both documents as reused
    THEN without a procedure nothing is read or logged; with it only the settled records
         show, each field with who settled it (the machine, or lan who confirmed or
         corrected); the PDF comes from the object store; the lookup, the PDF and the reuse
         are in the citizen's access log with the procedure as purpose, and the staff
         page of the access log names them
    """
    card, birth, waiting = world["card"], world["birth"], world["waiting"]
    with TestClient(world["app"], base_url="http://127.0.0.1") as c:
        token = log_in(c, "thu")
        r = c.post("/counter", data={"citizen": QR, "csrftoken": token})
        assert r.status_code == 422 and "procedure code first" in r.text
        assert AccessLog(world["index"]).for_citizen(AN)[0] == []

        r = c.post("/counter", data={"citizen": QR, "procedure": "1.004227",
                                     "procedure_text": "Đăng ký thường trú",
                                     "csrftoken": token})
        assert r.status_code == 200
        html = r.text
        assert card.record_id in html and birth.record_id in html
        assert waiting.record_id not in html
        assert "Căn cước công dân (mặt trước)" in html and "Nơi sinh" in html
        assert "accepted by the machine" in html and "read from qr" in html
        assert re.search(r"corrected</span> lan", html) and "Bệnh viện Tu Du" in html
        assert html.count('type="checkbox" name="record"') == 2

        pdf_link = (f"/counter/records/{card.record_id}/pdf?procedure=1.004227"
                    f"&procedure_text={quote('Đăng ký thường trú')}")
        assert pdf_link.replace("&", "&amp;") in html
        r = c.get(pdf_link, follow_redirects=False)
        assert r.status_code == 303
        assert httpx.get(r.headers["location"]).content == world["pdf"]
        # A record not settled is not the counter's to open.
        assert c.get(f"/counter/records/{waiting.record_id}/pdf?procedure=1.004227",
                     follow_redirects=False).status_code == 404

        r = c.post("/counter/reuse", data={"citizen_id": AN, "procedure": "1.004227",
                                           "procedure_text": "Đăng ký thường trú",
                                           "record": [card.record_id, birth.record_id,
                                                      waiting.record_id],
                                           "csrftoken": token})
        assert r.status_code == 200 and "2 document(s) reused for procedure 1.004227" in r.text
        # Without the CSRF token nothing is recorded.
        assert c.post("/counter/reuse", data={"citizen_id": AN, "procedure": "1.004227",
                                              "record": [card.record_id]}
                      ).status_code == 403

    entries, _ = AccessLog(world["index"]).for_citizen(AN)
    assert [e.action for e in entries] == [AccessAction.reuse, AccessAction.pdf,
                                           AccessAction.counter_lookup]
    assert {(e.key_id, e.key_name, e.agency) for e in entries} == {
        ("user:thu", "thu", "UBND Phường 1")}
    assert {e.purpose.code for e in entries} == {"1.004227"}
    assert entries[0].purpose.text == "Đăng ký thường trú"
    assert sorted(entries[0].record_ids) == sorted([card.record_id, birth.record_id])
    assert entries[1].record_ids == [card.record_id]
    assert sorted(entries[2].record_ids) == sorted([card.record_id, birth.record_id])
    # The staff page of the access log says what the counter did.
    with TestClient(world["app"], base_url="http://127.0.0.1") as c:
        log_in(c, "root")
        page = c.get(f"/access-log?citizen_id={AN}").text
    assert page.count("counter lookup") == 1 and page.count("<td>reuse</td>") == 1


def test_the_counter_is_for_counter_staff_and_admins(world: dict[str, Any]) -> None:
    """
    GIVEN a reviewer, a counter clerk and an admin
    WHEN each opens /counter and the dashboard
    THEN the reviewer is refused both, the clerk gets the counter only (and lands on it),
         the admin both
    """
    with TestClient(world["app"], base_url="http://127.0.0.1") as c:
        log_in(c, "lan")
        assert c.get("/counter").status_code == 403
        assert c.get("/dashboard").status_code == 403
    with TestClient(world["app"], base_url="http://127.0.0.1") as c:
        c.get("/login")
        r = c.post("/login", data={"username": "thu", "password": PASSWORD,
                                   "csrftoken": c.cookies["csrftoken"]},
                   follow_redirects=False)
        assert r.headers["location"] == "/counter"
        assert c.get("/counter").status_code == 200
        assert c.get("/dashboard").status_code == 403
    with TestClient(world["app"], base_url="http://127.0.0.1") as c:
        log_in(c, "root")
        assert c.get("/counter").status_code == 200
        assert c.get("/dashboard").status_code == 200


def _reads(world: dict[str, Any], c: TestClient) -> None:
    """At the counter: An for 1.004227 (reused), An again for it (the same procedure), a
    citizen with nothing for 1.000894; a portal's lookup of An and of nobody."""
    token = log_in(c, "thu")
    for citizen, code in ((QR, "1.004227"), (AN, "1.004227"), ("001190000002", "1.000894")):
        assert c.post("/counter", data={"citizen": citizen, "procedure": code,
                                        "csrftoken": token}).status_code == 200
    assert c.post("/counter/reuse", data={"citizen_id": AN, "procedure": "1.004227",
                                          "record": [world["card"].record_id],
                                          "csrftoken": token}).status_code == 200
    why = {"X-Purpose": "2.000986"}
    for cid in (AN, "001190000003"):
        assert c.get(f"/v1/citizens/{cid}/records",
                     headers={**world["portal"], **why}).status_code == 200


def test_the_summary_counts_digitization_settling_backlog_reuse_and_reads(
        world: dict[str, Any]) -> None:
    """
    GIVEN the two stations' batches, the records, and reads at the counter and by a portal
    WHEN GET /v1/metrics/summary is asked without a key, with a key lacking the scope, and
         with a metrics:read key
    THEN 401, 403, then: Q1-03 digitized two dossiers of three pages today and Q5-01 one of
         one page (its failed file is not digitized); of three documents one settled by the
         machine and one after review, the median from upload to settled 1.75 h; one
         document waits for about an hour; two procedures at the counter, one reusing a
         record; three of five lookups found one; reads per agency
    """
    with TestClient(world["app"], base_url="http://127.0.0.1") as c:
        _reads(world, c)
        assert c.get("/v1/metrics/summary").status_code == 401
        assert c.get("/v1/metrics/summary", headers=world["portal"]).status_code == 403
        r = c.get("/v1/metrics/summary", headers=world["metrics"])
        assert r.status_code == 200, r.text
        s = r.json()
        assert c.get("/v1/metrics/summary?since=2026-13-01",
                     headers=world["metrics"]).status_code == 422
    today = utcnow().date().isoformat()
    assert sorted((d["station"], d["day"], d["dossiers"], d["pages"])
                  for d in s["digitized"]) == [("Q1-03", today, 2, 3), ("Q5-01", today, 1, 1)]
    assert (s["dossiers"], s["pages"]) == (3, 4)
    docs = s["documents"]
    assert (docs["documents"], docs["settled_by_machine"], docs["settled_after_review"],
            docs["waiting_review"], docs["rejected"]) == (3, 1, 1, 1, 0)
    assert docs["machine_share"] == docs["review_share"] == round(1 / 3, 4)
    assert abs(docs["median_upload_to_settled_seconds"] - 1.75 * 3600) < 120
    assert s["backlog"]["documents"] == 1
    assert 3500 < s["backlog"]["oldest_seconds"] < 3800
    assert [b["doctype"] for b in s["backlog"]["by_doctype"]] == ["residence_form"]
    reuse = s["reuse"]
    assert (reuse["procedures"], reuse["procedures_reusing"], reuse["reuse_rate"]) == \
        (2, 1, 0.5)
    assert reuse["records_reused"] == 1
    assert (reuse["lookups"], reuse["lookups_found"], reuse["lookup_hit_rate"]) == (5, 3, 0.6)
    agencies = {a["agency"]: a for a in s["reads_by_agency"]}
    assert agencies["UBND Phường 1"]["by_action"] == {"counter_lookup": 3, "reuse": 1}
    assert agencies["Sở Tư pháp"]["by_action"] == {"citizen_lookup": 2}
    # An earlier period holds none of it.
    with TestClient(world["app"], base_url="http://127.0.0.1") as c:
        old = c.get("/v1/metrics/summary?since=2020-01-01&until=2020-02-01",
                    headers=world["metrics"]).json()
    assert old["digitized"] == [] and old["reuse"]["reuse_rate"] is None
    assert old["documents"]["machine_share"] is None
    assert old["backlog"]["documents"] == 1  # the backlog is the one standing now


def test_prometheus_gets_the_pipelines_series_from_the_index(world: dict[str, Any]) -> None:
    """
    GIVEN the batches, records and reads above
    WHEN /metrics is scraped without a key, with one lacking metrics:read, then with one
    THEN 401, 403, then the text format with pages per station and final stage, failed
         files by kind, pages still queued, batches per state, the batches' queued and
         running seconds, records per status, the backlog and its age, reads per agency
    """
    with TestClient(world["app"], base_url="http://127.0.0.1") as c:
        _reads(world, c)
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers=world["portal"]).status_code == 403
        r = c.get("/metrics", headers=world["metrics"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(r.text) for s in fam.samples}

    def v(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert v("dossier_pages_total", station="Q1-03", stage="done") == 3
    assert v("dossier_pages_total", station="Q5-01", stage="failed") == 4
    assert v("dossier_files_failed_total", station="Q5-01", kind="CorruptFile") == 1
    assert v("dossier_queue_pages", stage="queued") == 0
    assert v("dossier_batches", state="finished") == 2
    assert v("dossier_batches", state="queued") == 0
    assert v("dossier_batch_phase_seconds_count", phase="queued") == 2
    assert 3 * 3600 - 120 < v("dossier_batch_phase_seconds_sum", phase="queued") < 3 * 3600 + 120
    assert v("dossier_batch_phase_seconds_count", phase="running") == 2
    assert v("dossier_records", status="needs_review") == 1
    assert v("dossier_records", status="verified") == 1
    assert v("dossier_review_backlog_documents", doctype="residence_form") == 1
    assert 3500 < v("dossier_review_backlog_oldest_seconds", doctype="residence_form") < 3800
    assert v("dossier_access_reads_total", agency="UBND Phường 1", action="reuse") == 1
    assert v("dossier_access_reads_total", agency="Sở Tư pháp", action="citizen_lookup") == 2
    # Only the pipeline's own series: no process's memory or CPU.
    assert not [k for k in samples if not k[0].startswith("dossier_")]


def test_a_scrape_counts_what_changed_since_its_horizon_and_agrees_with_a_full_count(
        world: dict[str, Any]) -> None:
    """
    GIVEN reads and a batch from yesterday, and a scrape cache whose horizon is a minute back
    WHEN it is scraped, new reads and a new batch's pages arrive, and it is scraped again
    THEN each scrape says what a count of the whole index says (yesterday's reads from the
         cache, the rest counted anew), and the horizon moves on
    """
    from models.access import AccessEntry, Purpose
    from storage import indicators

    index = world["index"]
    log = AccessLog(index)

    def read(at, agency: str) -> None:
        log.record(AccessEntry(access_id=uuid.uuid4().hex, at=at, key_id="k", key_name="k",
                               agency=agency, action=AccessAction.citizen_lookup,
                               purpose=Purpose(code="1.004227"), citizen_ids=[AN]))

    yesterday = utcnow() - timedelta(days=1)
    for _ in range(3):
        read(yesterday, "Sở Tư pháp")
    _batch(BatchLedger(index), "B3", "Q1-03", timedelta(days=1), [("D5", Stage.done, 5)])
    cache = indicators.CounterCache(lag=timedelta(minutes=1))

    def same() -> indicators.Totals:
        cached, full = indicators.totals(index, cache), indicators.totals(index)
        assert (cached.pages, cached.files_failed, cached.reads) == \
            (full.pages, full.files_failed, full.reads)
        return cached

    first = same()
    assert first.reads[("Sở Tư pháp", "citizen_lookup")] == 3
    assert first.pages[("Q1-03", "done")] == 3 + 5
    horizon = cache.horizon
    read(utcnow(), "Sở Tư pháp")
    read(utcnow(), "UBND Phường 1")
    _batch(BatchLedger(index), "B4", "Q9-99", timedelta(0), [("D6", Stage.failed, 2)])
    second = same()
    assert second.reads[("Sở Tư pháp", "citizen_lookup")] == 4
    assert second.reads[("UBND Phường 1", "citizen_lookup")] == 1
    assert second.pages[("Q9-99", "failed")] == 2
    assert second.files_failed[("Q9-99", "CorruptFile")] == 1
    assert cache.horizon is not None and horizon is not None and cache.horizon >= horizon


# -- in Chromium ------------------------------------------------------------------------------


@pytest.fixture
def served(world: dict[str, Any]) -> Iterator[str]:
    if world["index"].backend != "sqlite":
        pytest.skip("the browser test runs once, on SQLite")
    with app_served(world["app"]) as base:
        yield base


_WATCH_CSP = """window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));"""


@pytest.mark.e2e
def test_the_counter_and_the_dashboard_work_in_chromium_under_the_csp(
        world: dict[str, Any], served: str) -> None:
    """
    GIVEN the app served over HTTP and Debian's Chromium kept to it
    WHEN a counter clerk (in Vietnamese) types a procedure, scans the chip card's QR (typed
         like a USB reader, ending with Enter), ticks the card and records the reuse; then
         an admin opens the dashboard, and switches it to Vietnamese
    THEN the settled documents show with their fields, the reuse is confirmed; the
         dashboard shows the reuse rate and its charts, in either language; no CSP
         violation, nothing from outside
    """
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (installs Debian's chromium)")
    outside: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.add_init_script(_WATCH_CSP)

            def only_here(route: Any) -> None:
                if route.request.url.startswith(served):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_here)
            page.goto(f"{served}/login")
            page.fill("input[name=username]", "mai")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/counter")
            page.fill("#procedure", "1.004227")
            page.fill("#procedure-text", "Đăng ký thường trú")
            page.click("#citizen")
            page.keyboard.type(QR)
            page.keyboard.press("Enter")
            playwright.expect(page.locator("#citizen-id")).to_have_text(AN)
            playwright.expect(page.locator("#card-name")).to_have_text("Nguyễn Văn An")
            playwright.expect(page.locator("article.reusable")).to_have_count(2)
            # The procedure stays; the next scan goes straight into the ID field.
            playwright.expect(page.locator("#citizen")).to_be_focused()
            if SCREENSHOTS:
                page.screenshot(path=f"{SCREENSHOTS}/counter.png", full_page=True)
            page.check(f"input[name=record][value='{world['card'].record_id}']")
            page.click("#record-reuse")
            playwright.expect(page.locator("#notice")).to_have_text(
                "Đã ghi nhận: 1 giấy tờ được tái sử dụng cho thủ tục 1.004227.")
            csp_counter = page.evaluate("window.__csp")
            page.context.clear_cookies()
            page.goto(f"{served}/login")
            page.fill("input[name=username]", "root")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/review")
            page.click("text=Indicators")
            page.wait_for_url("**/dashboard")
            playwright.expect(page.locator("#tile-reuse b")).to_have_text("100.0 %")
            playwright.expect(page.locator("#tile-dossiers b")).to_have_text("3")
            assert page.locator("svg.chart").count() == 5
            assert page.locator("svg.chart rect.s0").count() > 0
            if SCREENSHOTS:
                page.screenshot(path=f"{SCREENSHOTS}/dashboard.png", full_page=True)
            page.select_option("select[name=lang]", "vi")  # app.js sends the form
            playwright.expect(page.locator("h1")).to_have_text("Chỉ số cải cách")
            csp_dashboard = page.evaluate("window.__csp")
        finally:
            browser.close()
    assert (csp_counter, csp_dashboard) == ([], [])
    assert outside == []
