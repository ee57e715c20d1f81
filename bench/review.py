"""``dossier bench --review``: how the review workspace feels with a full index.

Measured on this machine, with the app served over HTTP by uvicorn in this process, the
embedded S3 server and ``records`` records stored through the record store (in S3 and a
SQLite index), as a flow stores them:
- review page ready: in headless Chromium, from navigation to the page image loaded and every
  field rendered with its box (p50/p95 over ``opens`` documents);
- save: one field correction (``POST /review/{id}/fields``: the record's new version and its
  audit event to S3, the index row updated) (p50/p95);
- approve: a document's four field decisions and its approval stored as one version
  (``POST /review/{id}/approve``, what Ctrl+Enter sends) (p50/p95);
- keystrokes to verify a ten-field document with two corrections, counted while a script
  drives the page with the keyboard only.

Waits are for selectors and expectations: the pages' Content-Security-Policy forbids the eval
behind Playwright's ``wait_for_function``.
"""

from __future__ import annotations

import re
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import cv2

from models.accounts import Role
from models.ocr import BBox
from models.records import (
    ExtractedField,
    FieldStatus,
    PageRef,
    Record,
    RecordStatus,
    utcnow,
)

__all__ = ["ReviewBenchResult", "run_review_bench"]

SAMPLE_PAGE = Path(__file__).resolve().parents[1] / "sample_scans" / "birth-registration-clean.png"
PASSWORD = "bench password"
CHROMIUM = "/usr/bin/chromium"
_NAMES = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Quốc Cường", "Phạm Thu Dung", "Hoàng Minh Em"]


@dataclass
class ReviewBenchResult:
    records: int
    opens: int
    page_ready_ms: list[float]
    save_ms: list[float]
    approve_ms: list[float]
    keystrokes: int
    typed_characters: int

    @staticmethod
    def _p(values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] \
            if len(values) > 1 else values[0]

    def markdown(self) -> str:
        return "\n".join([
            "# Review workspace benchmark", "",
            f"Index: {self.records:,} records (SQLite); app over HTTP on 127.0.0.1; "
            "embedded S3 server; headless Chromium.", "",
            "| measure | n | p50 | p95 |", "|---|---|---|---|",
            f"| review page ready (image + fields) | {len(self.page_ready_ms)} | "
            f"{self._p(self.page_ready_ms, 50):.0f} ms | {self._p(self.page_ready_ms, 95):.0f} ms |",
            f"| save one field | {len(self.save_ms)} | {self._p(self.save_ms, 50):.0f} ms | "
            f"{self._p(self.save_ms, 95):.0f} ms |",
            f"| approve with four field decisions (one version) | {len(self.approve_ms)} | "
            f"{self._p(self.approve_ms, 50):.0f} ms | {self._p(self.approve_ms, 95):.0f} ms |", "",
            f"Keystrokes to verify a ten-field document with two corrections: "
            f"{self.keystrokes} key presses plus {self.typed_characters} typed characters.",
        ])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _page_boxes() -> tuple[bytes, list[BBox]]:
    img = cv2.imread(str(SAMPLE_PAGE), cv2.IMREAD_GRAYSCALE)
    ok, png = cv2.imencode(".png", img)
    assert ok
    h, w = img.shape[:2]
    boxes = [(int(w * 0.2), int(h * (0.1 + 0.07 * i)), int(w * 0.7), int(h * (0.13 + 0.07 * i)))
             for i in range(10)]
    return png.tobytes(), boxes


def _record(i: int, cleaned_key: str, boxes: list[BBox]) -> Record:
    """A ten-field document: four fields waiting for a person, six accepted."""
    name = _NAMES[i % len(_NAMES)]
    values = [("full_name", name, "person_name"), ("date_of_birth", "1985-03-02", "date"),
              ("citizen_id", f"0790850{i % 100000:05d}", "citizen_id"),
              ("sex", "Nam", "text"), ("nationality", "Việt Nam", "text"),
              ("place_of_origin", "Xã Xuân Lam, Tỉnh Hà Tĩnh", "text"),
              ("residence", "Xóm Mới, Xã Phú Châu, Thành phố Hà Nội", "text"),
              ("ethnicity", "Kinh", "text"), ("issue_date", "2021-07-01", "date"),
              ("issue_place", "Cục Cảnh sát", "text")]
    fields = [ExtractedField(name=n, label=n, value=v.upper() if n == "full_name" else v, raw=v,
                             confidence=0.6 if k < 4 else 0.99, page=0, bbox=boxes[k],
                             status=FieldStatus.review if k < 4 else FieldStatus.accepted)
              for k, (n, v, _) in enumerate(values)]
    now = utcnow()
    return Record(record_id=f"BENCH{i:06d}-01", dossier_id=f"BENCH{i:06d}", batch_id="bench",
                  doctype="cccd_front", status=RecordStatus.needs_review, fields=fields,
                  pages=[PageRef(index=0, original_sha256="0" * 64, source_page=0,
                                 cleaned_key=cleaned_key)],
                  citizen_ids=[values[2][1]], station="S1", created_at=now, updated_at=now)


def run_review_bench(records: int = 10_000, opens: int = 40,
                     progress: Callable[[str], None] = lambda m: None) -> ReviewBenchResult:
    import httpx
    import uvicorn
    from playwright.sync_api import expect, sync_playwright

    from api.app import create_app
    from api.web.accounts import hash_password
    from models.settings import Settings
    from storage.embedded import EmbeddedS3
    from storage.index import RecordIndex
    from storage.objects import ObjectStore
    from storage.records import RecordStore

    work = Path(tempfile.mkdtemp(prefix="review-bench-"))
    s3 = EmbeddedS3(work / "s3")
    try:
        endpoint = s3.ensure_running(timeout=60)
        store = ObjectStore(endpoint, bucket_prefix="bench-")
        index = RecordIndex(f"sqlite:///{work / 'index.sqlite3'}")
        png, boxes = _page_boxes()
        cleaned_key = "cleaned/bench/0000.png"
        store.put_derived(cleaned_key, png, "image/png")
        progress(f"storing {records:,} records")
        front_door = RecordStore(store, index)  # as a flow stores a machine extraction
        for i in range(records):
            rec = _record(i, cleaned_key, boxes)
            rec.created_at = rec.updated_at = utcnow() - timedelta(minutes=records - i)
            front_door.put_machine(rec)
        for name in ("clerk", "other"):
            index.create_user(name, hash_password(PASSWORD), Role.reviewer)
        settings = Settings(data_dir=work / "data", _env_file=None)
        app = create_app(settings, store=store, index=index)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        ready: list[float] = []
        saves: list[float] = []
        approves: list[float] = []
        keys = typed = 0
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync"])
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"{base}/login")
                page.fill("input[name=username]", "clerk")
                page.fill("input[name=password]", PASSWORD)
                page.keyboard.press("Enter")
                page.wait_for_url(lambda u: "/login" not in u)
                progress(f"opening {opens} review pages in Chromium")
                for i in range(opens):
                    rid = f"BENCH{i:06d}-01"
                    t0 = time.perf_counter()
                    page.goto(f"{base}/review/{rid}")
                    # The first field gets the focus once the page image has loaded.
                    page.locator("#field-list [data-name]:focus").wait_for()
                    expect(page.locator("#field-list input")).to_have_count(10)
                    expect(page.locator("#image-wrap .box")).to_have_count(10)
                    ready.append((time.perf_counter() - t0) * 1000)
                    page.evaluate(f"fetch('/review/{rid}/skip', {{method: 'POST', headers: "
                                  "{'x-csrftoken': document.querySelector("
                                  "'meta[name=csrf-token]').content}})")

                progress("verifying a ten-field document with two corrections by keyboard")
                rid = f"BENCH{opens:06d}-01"
                page.goto(f"{base}/review/{rid}")
                page.locator("#field-list [data-name='full_name']:focus").wait_for()
                corrections = {"full_name": _NAMES[opens % len(_NAMES)],
                               "citizen_id": "079085001234"}
                for _ in range(4):
                    name = page.evaluate("document.activeElement.dataset.name")
                    if name in corrections:
                        page.keyboard.press("Control+a")
                        page.keyboard.insert_text(corrections[name])
                        keys += 1
                        typed += len(corrections[name])
                    page.keyboard.press("Enter")
                    keys += 1
                    try:  # decided on the page; stored with the approval
                        expect(page.locator(f"#field-{name}")).to_have_class(
                            re.compile(r"\bst-(confirmed|corrected)\b"), timeout=15_000)
                    except AssertionError:
                        raise RuntimeError(
                            f"field {name} was not saved: "
                            f"{page.inner_text(f'#msg-{name}')!r} "
                            f"{page.inner_text('#status-line')!r} "
                            f"{page.get_attribute(f'#field-{name}', 'class')} "
                            f"{page.input_value(f'#input-{name}')!r}") from None
                page.keyboard.press("Control+Enter")
                keys += 1
                page.wait_for_url(lambda u: not u.endswith(rid))
                browser.close()

            progress(f"timing {opens} saves")
            client = httpx.Client(base_url=base)
            client.get("/login")
            token = client.cookies["csrftoken"]
            client.post("/login", data={"username": "other", "password": PASSWORD,
                                        "csrftoken": token})
            for i in range(opens + 1, opens * 2 + 1):
                rid = f"BENCH{i:06d}-01"
                t0 = time.perf_counter()
                r = client.post(f"/review/{rid}/fields", headers={"x-csrftoken": token},
                                json={"revision": 1, "decisions": [
                                    {"field": "full_name", "action": "correct",
                                     "value": _NAMES[(i + 1) % len(_NAMES)]}]})
                saves.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
            progress(f"timing {opens} approvals with four field decisions")
            for i in range(opens * 2 + 1, opens * 3 + 1):
                rid = f"BENCH{i:06d}-01"
                t0 = time.perf_counter()
                r = client.post(f"/review/{rid}/approve", headers={"x-csrftoken": token},
                                json={"revision": 1, "decisions": [
                                    {"field": "full_name", "action": "correct",
                                     "value": _NAMES[(i + 1) % len(_NAMES)]},
                                    {"field": "date_of_birth", "action": "confirm"},
                                    {"field": "citizen_id", "action": "confirm"},
                                    {"field": "sex", "action": "confirm"}]})
                approves.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
            client.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            index.close()
        return ReviewBenchResult(records=records, opens=opens, page_ready_ms=ready,
                                 save_ms=saves, approve_ms=approves, keystrokes=keys,
                                 typed_characters=typed)
    finally:
        s3.stop()
        shutil.rmtree(work, ignore_errors=True)
