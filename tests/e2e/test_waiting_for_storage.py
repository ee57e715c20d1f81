"""While a store is down the operator is told the batch waits for it and nothing is lost: the
S3 server `dossier serve` uses is killed mid-batch, the batch's status (`GET /v1/batches/{id}`
and the upload page in Chromium, in Vietnamese and in English) says it waits for storage, no
file fails; once the server is back on its address the page goes back to its progress and the
batch finishes, every page read once and every record stored once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import httpx
import pytest

from storage.embedded import EmbeddedS3
from tests.e2e import service
from tests.e2e.test_pipeline import DOSSIER_BIN, cli_env, run_cli
from tests.e2e.test_self_healing import _pages

pytestmark = pytest.mark.e2e

OUTAGE_S = 20
PASSWORD = "correct horse 9"
VI = "Đang chờ kho lưu trữ — không mất dữ liệu"
EN = "Waiting for storage — nothing is lost"


def _status(base: str, key: str, batch_id: str) -> dict:
    r = httpx.get(f"{base}/v1/batches/{batch_id}", headers={"Authorization": f"Bearer {key}"},
                  timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _until(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s")


def _log_in(browser, base: str, name: str, locale: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/upload")
    return context, page, errors


def test_the_upload_page_says_the_batch_waits_for_storage_while_s3_is_down(tmp_path, browser):
    """GIVEN `dossier serve` on an S3 server of the test's own, a batch of six one-page
    dossiers followed on the upload page by a Vietnamese and an English operator WHEN the S3
    server is killed with SIGKILL mid-batch and stays down 20 s THEN the status API says
    ``waiting_for: ["s3"]``, both pages say the batch waits for storage and nothing is lost
    (the progress drawn stays), no file fails; once the server is back on the same address
    the pages go back to the progress, and the batch finishes: every page read once, every
    record one version."""
    from playwright.sync_api import expect

    from storage.objects import ObjectStore

    s3 = EmbeddedS3(tmp_path / "s3")
    endpoint = s3.ensure_running(timeout=60)
    prefix = f"w{uuid.uuid4().hex[:8]}-"
    env = cli_env(endpoint, tmp_path / "data", prefix)
    env.update(DOSSIER_WORKERS="1")
    for name, lang in (("op-vi", "vi"), ("op-en", "en")):
        made = subprocess.run([str(DOSSIER_BIN), "user", "create", name, "--role", "operator",
                               "--station", "S-W", "--lang", lang], input=f"{PASSWORD}\n",
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
    made = run_cli(["apikey", "create", "--name", "station", "--scope", "batches:write"],
                   env, tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    proc, base = service.serve(env, tmp_path)
    contexts = []
    try:
        r = service.upload(base, key, _pages(6, 5), station="S-W")
        assert r.status_code == 202, r.text
        batch_id = r.json()["batch_id"]
        pages = []
        for name, locale in (("op-vi", "vi-VN"), ("op-en", "en-US")):
            context, page, errors = _log_in(browser, base, name, locale)
            contexts.append(context)
            page.goto(f"{base}/upload?batch={batch_id}")
            expect(page.locator(".dossier")).to_have_count(6, timeout=60_000)
            expect(page.locator("#waiting")).to_be_hidden()
            pages.append((page, errors))

        def mid_batch():
            s = _status(base, key, batch_id)
            stages = [p["stage"] for f in s["files"] for p in f["pages"]]
            done = sum(st not in ("queued", "reading") for st in stages)
            return s if s["state"] == "running" and 1 <= done < 6 else None
        _until(mid_batch, 300, "the batch never got under way")
        assert _status(base, key, batch_id)["waiting_for"] == []

        os.kill(s3.pid(), signal.SIGKILL)
        down_at = time.monotonic()
        waiting = _until(lambda: (s := _status(base, key, batch_id))["waiting_for"] and s, 20,
                         "the status API did not say the batch waits")
        assert waiting["waiting_for"] == ["s3"] and waiting["state"] == "running", waiting
        for (page, _), words in zip(pages, (VI, EN), strict=True):
            banner = page.locator("#waiting")
            expect(banner).to_be_visible(timeout=20_000)
            expect(banner).to_contain_text(words)
            expect(page.locator("#progress-card")).to_have_attribute("data-waiting", "s3")
            expect(page.locator(".dossier")).to_have_count(6)  # the progress drawn stays
        # The outage lasts OUTAGE_S: meanwhile no file fails for it and the batch still waits.
        while time.monotonic() < down_at + OUTAGE_S:
            s = _status(base, key, batch_id)
            assert not [(f["name"], f["error"]) for f in s["files"] if f["stage"] == "failed"], s
            assert s["state"] == "finished" or s["waiting_for"] == ["s3"], s
            time.sleep(1)
        assert s3.ensure_running(timeout=60).endpoint == endpoint.endpoint

        for page, _ in pages:
            expect(page.locator("#waiting")).to_be_hidden(timeout=30_000)
        final = service.wait_finished(base, key, batch_id, timeout=400)
        assert final["waiting_for"] == []
        for page, errors in pages:
            expect(page.locator(".dossier h3 .badge[data-stage='done'], "
                                ".dossier h3 .badge[data-stage='needs_review']")
                   ).to_have_count(6, timeout=60_000)
            expect(page.locator("#waiting")).to_be_hidden()
            assert not errors, errors
    finally:
        for context in contexts:
            context.close()
        service.stop(proc)
        s3.stop()
        s3 = None
    assert len(final["files"]) == 6
    for f in final["files"]:
        assert f["stage"] in ("done", "needs_review") and f["records"], f
        assert [p["reads"] for p in f["pages"]] == [1], f
    store = ObjectStore(EmbeddedS3(tmp_path / "s3").ensure_running(timeout=60), prefix)
    try:
        for f in final["files"]:
            for r in f["records"]:
                assert len(store.record_versions(r["record_id"])) == 1, r
    finally:
        EmbeddedS3(tmp_path / "s3").stop()
