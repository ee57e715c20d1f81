"""Events and webhooks end to end, on SQLite and PostgreSQL: the app (its own delivery
thread) and separate delivery processes POST to a real HTTP receiver on 127.0.0.1, which
checks each signature with the code ``docs/api.md`` gives receivers and the order of what
arrives; the receiver goes down (503, then refusing connections) and comes back; the feed
pages; scopes and bad requests get plain 4xx answers.

The only faults injected are the receiver's own (it answers 503, redirects or is down) and,
where a test says so, a delivery process that dies between a receiver's 2xx and noting it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from models.batches import BatchDossier, BatchFile, BatchPlan
from models.errors import StorageError
from models.records import utcnow
from models.settings import Settings
from storage.batches import BatchLedger
from storage.index import RecordIndex
from storage.objects import ObjectStore
from storage.webhooks import WebhookDelivery, Webhooks, delivering

ROOT = Path(__file__).resolve().parents[2]


def documented_verify() -> Callable[[str, str, bytes], bool]:
    """The receiver's check exactly as docs/api.md shows it."""
    doc = (ROOT / "docs" / "api.md").read_text()
    code = re.search(r"```python\n(.*?)```", doc, re.S)
    assert code is not None, "docs/api.md shows no Python"
    lines = code.group(1).strip().splitlines()
    assert len(lines) <= 12, "the receiver's check should stay about ten lines"
    space: dict[str, Any] = {}
    exec(code.group(1), space)  # noqa: S102 - our own documentation
    return space["verify"]


VERIFY = documented_verify()


class Receiver:
    """A webhook receiver on 127.0.0.1: ``mode`` is how it answers ("up": 204, "503",
    "redirect"); :meth:`down` closes its port (connections refused), :meth:`up` opens it."""

    def __init__(self) -> None:
        self.mode = "up"
        self.delay = 0.0  # seconds before answering, the event already taken
        self.secrets: dict[str, str] = {}  # path -> the subscription's secret
        self.got: dict[str, list[dict[str, Any]]] = {}  # path -> events taken, as they came
        self.bad: list[str] = []  # anything a receiver would refuse: a bad signature, ...
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.take(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
        self.server = None

    def take(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        with self.lock:
            path, mode = h.path, self.mode
            if path not in self.secrets:
                self.bad.append(f"a POST to {path}")
            elif not VERIFY(self.secrets[path], h.headers.get("X-Dossier-Signature", ""), body):
                self.bad.append(f"a bad signature on {path}")
            event = json.loads(body)
            if h.headers.get("X-Dossier-Event-Id") != event["id"]:
                self.bad.append("the event id header differs from the body's")
            if mode == "up":
                self.got.setdefault(path, []).append(event)
        time.sleep(self.delay)
        if mode == "redirect":
            h.send_response(302)
            h.send_header("Location", self.url("/elsewhere"))
        else:
            h.send_response(204 if mode == "up" else 503)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def ids(self, path: str = "/hook") -> list[str]:
        with self.lock:
            return [e["id"] for e in self.got.get(path, [])]

    def close(self) -> None:
        if self.server is not None:
            self.down()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def wait_for(cond: Callable[[], Any], what: str, timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def plan(batch_id: str) -> BatchPlan:
    return BatchPlan(batch_id=batch_id, station="S1", operator="op", dossiers=[
        BatchDossier(name="d", dossier_id=f"D-{batch_id}", files=[
            BatchFile(file_no=1, dossier="d", name="d/a.png", sha256="a" * 64, size=3)])])


def fast_settings(tmp_path: Path, **kw: Any) -> Settings:
    # The receiver runs on this machine: allowed here, refused by default.
    values: dict[str, Any] = {"webhook_poll_s": 0.05, "webhook_retry_base_s": 0.05,
                              "webhook_retry_max_s": 0.4, "webhook_timeout_s": 3.0,
                              "webhook_allow_local": True}
    values.update(kw)
    return Settings(data_dir=tmp_path / "data", _env_file=None, **values)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_receiver_down_for_a_while_still_gets_every_event_in_order(
        tmp_path: Path, index: RecordIndex, object_store: ObjectStore,
        receiver: Receiver) -> None:
    """
    GIVEN the app (delivering from its own thread) and a subscription to every event type
    WHEN batches change state while the receiver is up, then answering 503, then refusing
         connections, then up again
    THEN every event arrives, signed, in cursor order, the same id for any one sent twice;
         the delivery log shows each failed attempt (503, the refused connection) and the
         deliveries; the subscription ends with nothing failing
    """
    key, _ = index.create_api_key("portal", ["webhooks:manage", "events:read"])
    ledger = BatchLedger(index)
    with TestClient(create_app(fast_settings(tmp_path), store=object_store,
                               index=index)) as c:
        r = c.post("/v1/webhooks", headers=auth(key),
                   json={"url": receiver.url(), "types": ["*"]})
        assert r.status_code == 201, r.text
        hook = r.json()
        assert hook["secret"].startswith("whsec_") and hook["types"] == ["*"]
        receiver.secrets["/hook"] = hook["secret"]

        for i in range(3):
            ledger.create(plan(f"B{i}"))
        wait_for(lambda: len(set(receiver.ids())) == 3, "the first three events")

        receiver.mode = "503"
        for i in range(3, 6):
            ledger.create(plan(f"B{i}"))

        def log() -> list[dict[str, Any]]:
            got = c.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=auth(key))
            assert got.status_code == 200, got.text
            return got.json()["deliveries"]

        wait_for(lambda: sum(d["status_code"] == 503 for d in log()) >= 3, "three 503s")
        receiver.down()
        wait_for(lambda: sum(d["status_code"] is None and d["outcome"] == "failed"
                             for d in log()) >= 2, "two refused connections")
        failing = c.get(f"/v1/webhooks/{hook['id']}", headers=auth(key)).json()
        assert failing["failing_since"] and failing["attempts"] >= 5
        for i in range(6, 8):
            ledger.create(plan(f"B{i}"))
        receiver.mode = "up"
        receiver.up()
        wait_for(lambda: len(set(receiver.ids())) == 8, "all eight events")

        feed = c.get("/v1/events", headers=auth(key)).json()["events"]
        assert [e["batch_id"] for e in feed] == [f"B{i}" for i in range(8)]
        got = receiver.got["/hook"]
        assert receiver.bad == []
        cursors = [int(e["cursor"]) for e in got]
        assert cursors == sorted(cursors), "events arrived out of order"
        first_seen = list(dict.fromkeys(e["id"] for e in got))
        assert first_seen == [e["id"] for e in feed]
        for e in got:  # a duplicate is the same event, recognizable by its id
            assert e == next(f for f in feed if f["id"] == e["id"])

        entries = log()
        outcomes = {d["outcome"] for d in entries}
        assert outcomes == {"delivered", "failed"}
        refused = [d for d in entries if d["outcome"] == "failed" and d["status_code"] is None]
        assert all(d["error"] for d in refused)
        stuck = [d for d in entries if d["event_id"] == feed[3]["id"]]
        assert sorted(d["attempt"] for d in stuck) == list(range(1, len(stuck) + 1))
        assert wait_for(lambda: c.get(f"/v1/webhooks/{hook['id']}", headers=auth(key))
                        .json()["cursor"] == feed[-1]["cursor"], "the cursor at the end")
        now = c.get(f"/v1/webhooks/{hook['id']}", headers=auth(key)).json()
        assert now["failing_since"] is None and now["attempts"] == 0


def test_several_delivery_processes_send_each_event_once_in_order(
        tmp_path: Path, index: RecordIndex, receiver: Receiver) -> None:
    """
    GIVEN three subscriptions and two delivery processes running at once
    WHEN sixty events are written meanwhile
    THEN each subscription gets each of its events exactly once (no attempt is made twice
         at once: the subscription is leased), in order, and only the types it asked for
    """
    _, info = index.create_api_key("portal", ["webhooks:manage"])
    hooks = Webhooks(index, allow_local=True)
    subs = {"/a": ["*"], "/b": ["batch.queued"], "/c": ["record.*"]}
    for path, types in subs.items():
        receiver.secrets[path] = hooks.create(info.key_id, receiver.url(path), types).secret
    code = ("import sys, time\n"
            "from storage.index import RecordIndex\n"
            "from storage.webhooks import WebhookDelivery\n"
            "d = WebhookDelivery(RecordIndex(sys.argv[1]), poll_s=0.02, allow_local=True).start()\n"
            "sys.stdin.read()\n"
            "d.stop()\n")
    url = index.engine.url.render_as_string(hide_password=False)
    procs = [subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT,
                              stdin=subprocess.PIPE) for _ in range(2)]
    try:
        ledger = BatchLedger(index)
        for i in range(60):
            ledger.create(plan(f"B{i:02d}"))
        wait_for(lambda: len(receiver.ids("/a")) >= 60 and len(receiver.ids("/b")) >= 60,
                 "sixty events at /a and /b")
        for p in procs:  # each stops once its delivery in flight is noted
            p.stdin.close()  # type: ignore[union-attr]
            p.wait(30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert receiver.bad == []
    a, b = receiver.got["/a"], receiver.got["/b"]
    assert [e["batch_id"] for e in a] == [f"B{i:02d}" for i in range(60)]
    assert [e["id"] for e in b] == [e["id"] for e in a]
    assert "/c" not in receiver.got


def test_a_lost_acknowledgement_is_sent_again_and_a_day_of_failing_is_given_up(
        index: RecordIndex, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    GIVEN a subscription
    WHEN a delivery process dies between the receiver's 2xx and noting it; then the
         receiver redirects (never followed); then an event has been failing for a day
    THEN once the dead process's lease runs out another one sends the same event again
         (same id: at least once); the redirect is a failed attempt; the day-old failure is
         given up, logged as such, and the next event goes
    """
    _, info = index.create_api_key("portal", ["webhooks:manage"])
    hooks = Webhooks(index, allow_local=True)
    hook = hooks.create(info.key_id, receiver.url(), ["batch.*"])
    receiver.secrets["/hook"] = hook.secret
    ledger = BatchLedger(index)
    ledger.create(plan("B0"))

    dying = WebhookDelivery(index, allow_local=True)
    dying.lease = timedelta(seconds=0.3)

    def crash(*args: Any, **kw: Any) -> bool:
        raise StorageError("the process died here")

    with monkeypatch.context() as m:
        m.setattr(Webhooks, "settle", crash)
        m.setattr(Webhooks, "release", lambda self, claim: None)  # a dead process releases
        with pytest.raises(StorageError):
            dying.run_once()
    assert len(receiver.ids()) == 1
    other = WebhookDelivery(index, retry_base_s=60.0, allow_local=True)
    wait_for(lambda: other.run_once() > 0, "the lease to run out")
    assert receiver.ids() == [receiver.ids()[0]] * 2  # the same event, twice

    receiver.mode = "redirect"
    ledger.create(plan("B1"))
    other.run_once()
    attempts = hooks.deliveries(info.key_id, hook.id)
    assert attempts[0].status_code == 302 and "redirect" in (attempts[0].error or "")
    assert attempts[0].outcome == "failed"

    # Time passes for the delivery: its clock is moved on, the rows keep what was written.
    passed = [timedelta()]
    monkeypatch.setattr("storage.webhooks.utcnow", lambda: utcnow() + passed[0])
    receiver.mode = "503"
    passed[0] = timedelta(hours=25)  # B1 has been failing for more than a day
    ledger.create(plan("B2"))
    other.run_once()  # B1 fails once more, now past a day: given up; B2 fails (503)
    receiver.mode = "up"
    passed[0] += timedelta(seconds=other.retry_max_s + 1)  # B2's retry is due
    other.run_once()
    assert [e["batch_id"] for e in receiver.got["/hook"]] == ["B0", "B0", "B2"]
    log = hooks.deliveries(info.key_id, hook.id)
    assert [(d.outcome.value, d.type) for d in log][:3] == [
        ("delivered", "batch.queued"), ("failed", "batch.queued"), ("gave_up", "batch.queued")]
    assert not receiver.bad
    other.stop()
    dying.stop()


def test_a_worker_delivers_webhooks_while_it_runs(tmp_path: Path, receiver: Receiver) -> None:
    """
    GIVEN the settings of a `dossier worker` and a subscription
    WHEN a batch changes state while the worker's delivery runs (`delivering`)
    THEN the receiver gets the event; with DOSSIER_WEBHOOK_DELIVERY=false nothing starts
    """
    settings = fast_settings(tmp_path)
    index = RecordIndex(settings.resolved_index_url())
    try:
        _, info = index.create_api_key("portal", ["webhooks:manage"])
        receiver.secrets["/hook"] = Webhooks(index, allow_local=True).create(
            info.key_id, receiver.url(), ["batch.queued"]).secret
        with delivering(settings) as delivery:
            assert delivery is not None
            BatchLedger(index).create(plan("B0"))
            wait_for(lambda: receiver.ids(), "the worker's delivery")
        with delivering(fast_settings(tmp_path, webhook_delivery=False)) as delivery:
            assert delivery is None
    finally:
        index.close()
    assert [e["batch_id"] for e in receiver.got["/hook"]] == ["B0"] and not receiver.bad


def test_an_index_outage_is_waited_out_with_backoff_and_said_once(
        receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    """
    GIVEN a delivery (four threads polling every 50 ms) on an index in a PostgreSQL cluster
          of the test's own, and a subscription that has had an event delivered
    WHEN the postmaster is killed with SIGKILL while an event's POST is in flight (so its
         thread can neither note it nor release its lease), stays down 4 s, and is started
         again
    THEN the delivery logs one warning when the index goes and one when it is back, its
         threads try the index less and less often meanwhile (not 80 rounds a second), and
         within seconds (not once the lease the outage left runs out, 30 s) the event in
         flight is sent again (at least once) and one made after the restart is delivered
    """
    import logging
    import os

    from tests.e2e.postgres import PrivatePostgres, server_bin

    if os.environ.get("DOSSIER_TEST_NO_POSTGRES"):
        pytest.skip("DOSSIER_TEST_NO_POSTGRES is set")
    bin_dir = server_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server installed (/usr/lib/postgresql/*/bin/postgres)")
    pg = PrivatePostgres(bin_dir)
    delivery: WebhookDelivery | None = None
    index: RecordIndex | None = None
    try:
        pg.start()
        index = RecordIndex(pg.url)
        _, info = index.create_api_key("portal", ["webhooks:manage"])
        receiver.secrets["/hook"] = Webhooks(index, allow_local=True).create(
            info.key_id, receiver.url(), ["batch.queued"]).secret
        ledger = BatchLedger(index)
        delivery = WebhookDelivery(index, poll_s=0.05, outage_max_s=0.8, allow_local=True)
        caplog.set_level(logging.DEBUG, logger="storage.webhooks")
        delivery.start()
        ledger.create(plan("B0"))
        wait_for(lambda: receiver.ids(), "the first event")

        def said(level: int, words: str) -> int:
            return sum(r.name == "storage.webhooks" and r.levelno == level
                       and words in r.getMessage() for r in caplog.records)

        receiver.delay = 2.0
        ledger.create(plan("B1"))
        wait_for(lambda: len(receiver.ids()) == 2, "the second event in flight")
        pg.kill()
        time.sleep(4.0)
        receiver.delay = 0.0
        rounds = said(logging.DEBUG, "still unreachable")
        assert said(logging.WARNING, "the index is unreachable") == 1, caplog.text
        # Without backoff, 4 threads every 50 ms: 320 rounds in 4 s; with it, about 30.
        assert 4 <= rounds <= 60, rounds

        pg.start()

        def created() -> bool:  # the test's own first write may meet a connection of before
            try:
                ledger.create(plan("B2"))
            except StorageError:
                return False
            return True

        wait_for(created, "a write to the restarted index")
        wait_for(lambda: len(receiver.ids()) == 4, "the events after the restart", 15)
        wait_for(lambda: said(logging.WARNING, "answers again"), "the recovery said")
        warnings = [r.getMessage() for r in caplog.records
                    if r.name == "storage.webhooks" and r.levelno >= logging.WARNING]
        assert len(warnings) == 2, warnings
        assert [e["batch_id"] for e in receiver.got["/hook"]] == ["B0", "B1", "B1", "B2"]
        assert not receiver.bad
    finally:
        if delivery is not None:
            delivery.stop()
        if index is not None:
            index.close()
        pg.stop()


@pytest.fixture
def api(tmp_path: Path, object_store: ObjectStore) -> Iterator[tuple[TestClient, RecordIndex]]:
    index = RecordIndex(f"sqlite:///{tmp_path / 'data' / 'index.sqlite3'}")
    try:
        with TestClient(create_app(fast_settings(tmp_path, webhook_delivery=False),
                                   store=object_store, index=index)) as c:
            yield c, index
    finally:
        index.close()


def plain(r: Any, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body["detail"], str) and body["request_id"], body
    return body["detail"]


def test_the_feed_pages_in_order_and_says_where_to_go_on(
        api: tuple[TestClient, RecordIndex]) -> None:
    """
    GIVEN seven events
    WHEN a reader pages through the feed three at a time from the start
    THEN it gets all seven in order, each page's `next` leading to the next page, the last
         saying there is no more; asking from the end gives nothing and the same cursor;
         `type` narrows the feed
    """
    c, index = api
    key, _ = index.create_api_key("portal", ["events:read"])
    ledger = BatchLedger(index)
    for i in range(7):
        ledger.create(plan(f"B{i}"))
    got, cursor, pages = [], "0", 0
    while True:
        r = c.get("/v1/events", params={"after": cursor, "limit": 3}, headers=auth(key))
        assert r.status_code == 200, r.text
        page = r.json()
        got += [e["batch_id"] for e in page["events"]]
        cursor, pages = page["next"], pages + 1
        if not page["has_more"]:
            break
    assert got == [f"B{i}" for i in range(7)] and pages == 3
    end = c.get("/v1/events", params={"after": cursor}, headers=auth(key)).json()
    assert end == {"events": [], "next": cursor, "has_more": False}
    only = c.get("/v1/events", params={"type": "batch.running"}, headers=auth(key)).json()
    assert only["events"] == []


def test_scopes_are_enforced_and_bad_requests_answered_in_plain_words(
        api: tuple[TestClient, RecordIndex]) -> None:
    """
    GIVEN keys with and without the events:read and webhooks:manage scopes
    WHEN they call the feed and the webhook endpoints, well and badly
    THEN no key is 401, a key without the scope 403 naming it, and each bad request a 400
         that says what to send; a webhook belongs to its key alone, its secret is shown
         only once, and a deleted one is gone with its log
    """
    c, index = api
    reader, _ = index.create_api_key("reader", ["records:read"])
    events, _ = index.create_api_key("feed", ["events:read"])
    manager, _ = index.create_api_key("portal", ["webhooks:manage"])
    other, _ = index.create_api_key("other agency", ["webhooks:manage"])

    assert c.get("/v1/events").status_code == 401
    assert c.get("/v1/webhooks").status_code == 401
    assert "events:read" in plain(c.get("/v1/events", headers=auth(reader)), 403)
    assert "webhooks:manage" in plain(c.get("/v1/webhooks", headers=auth(events)), 403)
    assert "webhooks:manage" in plain(
        c.post("/v1/webhooks", headers=auth(events),
               json={"url": "https://example.org/h", "types": ["*"]}), 403)

    for params, words in [({"after": "abc"}, "cursor"), ({"after": "-1"}, "cursor"),
                          ({"limit": "0"}, "limit"), ({"limit": "5000"}, "limit"),
                          ({"limit": "x"}, "limit"), ({"type": "record.nope"}, "unknown")]:
        assert words in plain(c.get("/v1/events", params=params, headers=auth(events)), 400)

    def create(body: Any = None, *, raw: bytes | None = None) -> Any:
        if raw is not None:
            return c.post("/v1/webhooks", content=raw,
                          headers={**auth(manager), "Content-Type": "application/json"})
        return c.post("/v1/webhooks", headers=auth(manager), json=body)

    for body, words in [
            ({"url": "ftp://example.org/h", "types": ["*"]}, "only http and https"),
            ({"url": "https://user:pw@example.org/h", "types": ["*"]}, "credentials"),
            ({"url": "https://user@example.org/h", "types": ["*"]}, "credentials"),
            ({"url": "example.org/h", "types": ["*"]}, "http"),
            ({"url": "https:///h", "types": ["*"]}, "no host"),
            ({"url": "https://example.org:99999/h", "types": ["*"]}, "port"),
            ({"url": "https://example.org/h", "types": []}, "at least one event type"),
            ({"url": "https://example.org/h", "types": ["record.read"]}, "unknown event type"),
            ({"url": "https://example.org/h"}, "types"),
            ({"types": ["*"]}, "url"),
            ({"url": "https://example.org/h", "types": ["*"], "secret": "x"}, "unknown field"),
            (["https://example.org/h"], "JSON object")]:
        assert words in plain(create(body), 400), body
    assert "not JSON" in plain(create(raw=b"{url"), 400)
    # A cursor the feed has not reached yet conflicts with it: 409, as the OpenAPI says.
    assert "past" in plain(create({"url": "https://example.org/h", "types": ["*"],
                                   "after": "999999"}), 409)

    made = create({"url": "https://portal.example.org/events", "types": ["record.verified"]})
    assert made.status_code == 201, made.text
    hook = made.json()
    listed = c.get("/v1/webhooks", headers=auth(manager)).json()["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    assert c.get("/v1/webhooks", headers=auth(other)).json()["webhooks"] == []
    for method, path in [("GET", f"/v1/webhooks/{hook['id']}"),
                         ("GET", f"/v1/webhooks/{hook['id']}/deliveries"),
                         ("DELETE", f"/v1/webhooks/{hook['id']}")]:
        plain(c.request(method, path, headers=auth(other)), 404)
    assert c.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=auth(manager)).json()[
        "deliveries"] == []
    assert c.delete(f"/v1/webhooks/{hook['id']}", headers=auth(manager)).status_code == 204
    plain(c.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=auth(manager)), 404)
    assert c.get("/v1/webhooks", headers=auth(manager)).json()["webhooks"] == []


def test_this_machine_is_no_receiver_unless_allowed(
        tmp_path: Path, object_store: ObjectStore, receiver: Receiver) -> None:
    """
    GIVEN the app with its defaults
    WHEN a key subscribes a URL on this machine (loopback, a link-local metadata address),
         or a subscription made where that was allowed is delivered where it is not
    THEN the subscription is refused with a 400 that says why, and the delivery is a failed
         attempt naming the address, with nothing sent
    """
    index = RecordIndex(f"sqlite:///{tmp_path / 'data' / 'index.sqlite3'}")
    try:
        key, info = index.create_api_key("portal", ["webhooks:manage"])
        settings = Settings(data_dir=tmp_path / "data", _env_file=None, webhook_delivery=False)
        with TestClient(create_app(settings, store=object_store, index=index)) as c:
            for url in (receiver.url(), "http://localhost:8080/h", "http://[::1]/h",
                        "http://169.254.169.254/latest/meta-data", "http://0.0.0.0/h"):
                r = c.post("/v1/webhooks", headers=auth(key), json={"url": url, "types": ["*"]})
                assert "this machine" in plain(r, 400), url
            r = c.post("/v1/webhooks", headers=auth(key),
                       json={"url": "http://10.20.30.40/h", "types": ["*"]})
            assert r.status_code == 201, r.text  # an agency's private network is fine
            assert c.delete(f"/v1/webhooks/{r.json()['id']}",
                            headers=auth(key)).status_code == 204
        hook = Webhooks(index, allow_local=True).create(info.key_id, receiver.url(),
                                                        ["batch.*"])
        receiver.secrets["/hook"] = hook.secret
        BatchLedger(index).create(plan("B0"))
        strict = WebhookDelivery(index)
        strict.run_once()
        strict.stop()
        log = Webhooks(index).deliveries(info.key_id, hook.id)
        assert [d.outcome.value for d in log] == ["failed"]
        assert "127.0.0.1" in (log[0].error or "") and receiver.ids() == []
    finally:
        index.close()


def test_a_revoked_keys_webhooks_stop(index: RecordIndex, receiver: Receiver) -> None:
    """
    GIVEN a subscription that has been receiving events
    WHEN its API key is revoked
    THEN no further event is sent to it
    """
    _, info = index.create_api_key("portal", ["webhooks:manage"])
    receiver.secrets["/hook"] = Webhooks(index, allow_local=True).create(
        info.key_id, receiver.url(), ["*"]).secret
    delivery = WebhookDelivery(index, allow_local=True)
    ledger = BatchLedger(index)
    ledger.create(plan("B0"))
    assert delivery.run_once() == 1
    index.revoke_api_key(info.key_id)
    ledger.create(plan("B1"))
    assert delivery.run_once() == 0
    delivery.stop()
    assert [e["batch_id"] for e in receiver.got["/hook"]] == ["B0"]
