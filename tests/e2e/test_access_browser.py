"""The staff pages of reuse in Debian's Chromium (Playwright, no browser downloaded): who read
a citizen's data, its CSV for the citizen, and the staff search on the search index; against
the app served over HTTP with the real S3 server and a SQLite index."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright import sync_api as playwright_api

from models.records import ExtractedField, FieldStatus, PageRef, Record, RecordStatus
from storage.embedded import S3Endpoint
from tests.e2e.service import app_served

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse 1"
AN = "079085001234"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: S3Endpoint) -> Iterator[dict]:
    """A record of Nguyễn Văn An in S3 and the index, a reviewer and an operator, an
    agency's key, and the app served on a free port."""
    from api.app import create_app
    from api.web.accounts import hash_password
    from models.accounts import Role
    from models.settings import Settings
    from storage.index import RecordIndex
    from storage.objects import ObjectStore
    from storage.records import RecordStore

    data = tmp_path_factory.mktemp("access-data")
    settings = Settings(data_dir=data, webhook_delivery=False, _env_file=None)
    store = ObjectStore(s3_endpoint, bucket_prefix=f"a{uuid.uuid4().hex[:8]}-")
    index = RecordIndex(f"sqlite:///{data / 'index.sqlite3'}")
    rid = f"card-{uuid.uuid4().hex[:6]}"
    fields = [ExtractedField(name="full_name", value="Nguyễn Văn An", confidence=0.99,
                             status=FieldStatus.accepted),
              ExtractedField(name="citizen_id", value=AN, confidence=0.99,
                             status=FieldStatus.accepted)]
    RecordStore(store, index).put_machine(Record(
        record_id=rid, dossier_id="D-1", batch_id="B1", doctype="cccd_front",
        status=RecordStatus.extracted, fields=fields, citizen_ids=[AN],
        pages=[PageRef(index=0, original_sha256="0" * 64, source_page=0)]))
    index.create_user("an", hash_password(PASSWORD), Role.reviewer, lang="vi")
    index.create_user("op", hash_password(PASSWORD), Role.operator)
    key, _ = index.create_api_key("portal", ["records:read"], agency="Sở Tư pháp")
    app = create_app(settings, store=store, index=index)
    try:
        with app_served(app) as base:
            yield {"base": base, "key": key, "record_id": rid}
    finally:
        index.close()



def login(browser, base: str, name: str):
    ctx = browser.new_context(viewport={"width": 1300, "height": 900}, locale="vi-VN",
                              accept_downloads=True)
    page = ctx.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
    return ctx, page


def test_staff_see_who_read_a_citizens_data_and_hand_over_the_csv(served, browser) -> None:
    """
    GIVEN an agency that read Nguyễn Văn An's records through /v1 for procedure 1.004227
    WHEN a reviewer opens the access log from the menu, types the ID and presses Enter,
         then exports the CSV; and an operator opens the page
    THEN the read is listed in Vietnamese (agency, procedure, purpose, record), a wrong ID
         is explained, the CSV holds the same read, and the operator gets 403
    """
    base = served["base"]
    r = httpx.get(f"{base}/v1/citizens/{AN}/records",
                  headers={"Authorization": f"Bearer {served['key']}",
                           "X-Purpose": "1.004227; %C4%90%C4%83ng%20k%C3%BD%20th%C6%B0%E1%BB%9Dng%20tr%C3%BA"})
    assert r.status_code == 200 and r.json()["count"] == 1

    ctx, page = login(browser, base, "an")
    page.click("text=Nhật ký truy cập")
    page.wait_for_url(f"{base}/access-log")
    page.fill("#citizen-id", "12345")
    page.keyboard.press("Enter")
    playwright_api.expect(page.locator("[role=alert]")).to_contain_text("12 chữ số")
    page.fill("#citizen-id", AN)
    page.keyboard.press("Enter")
    row = page.locator("#access-log tbody tr").first
    playwright_api.expect(row).to_contain_text("Sở Tư pháp")
    text = row.inner_text()
    assert "1.004227" in text and "Đăng ký thường trú" in text
    assert "tra cứu theo công dân" in text and served["record_id"] in text
    with page.expect_download() as got:
        page.click("#export-csv")
    rows = list(csv.reader(io.StringIO(Path(got.value.path()).read_text("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][1] == "Sở Tư pháp" and rows[1][4] == "1.004227"
    ctx.close()

    ctx, page = login(browser, base, "op")
    resp = page.goto(f"{base}/access-log?citizen_id={AN}")
    assert resp is not None and resp.status == 403
    ctx.close()


def test_the_staff_search_finds_by_name_without_diacritics(served, browser) -> None:
    """
    GIVEN the record of Nguyễn Văn An
    WHEN a reviewer searches the queue page for "nguyen van an"
    THEN the record is listed, found through the search index
    """
    ctx, page = login(browser, served["base"], "an")
    page.goto(f"{served['base']}/review?q=nguyen+van+an")
    playwright_api.expect(page.locator("#search")).to_have_value("nguyen van an")
    playwright_api.expect(page.locator("table.queue")).to_contain_text(served["record_id"])
    ctx.close()
