"""Webhooks: subscriptions of API keys to event types, delivered from the outbox
(:mod:`storage.events`), signed, in order, retried, at least once.

Each subscription keeps a cursor: the last event it has handled. A delivery process claims a
subscription with events past its cursor (a lease on the row, taken with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; SQLite serializes writers), POSTs the next events one by one, and
moves the cursor past each one the receiver took (2xx). The first failure stops the run: the
same event is tried again after a backoff that doubles up to a cap, so a receiver gets its
events in order, and once it has failed for longer than the retry window (a day), that event
is given up and the next one goes. A process that dies between a receiver's 2xx and moving
the cursor sends that event again once its lease runs out: at least once, recognizable by
the ``X-Dossier-Event-Id``. Every attempt is a row of the delivery log.

While the index itself is unreachable (its database restarting, a network cut) nothing can be
claimed or noted: each delivery thread waits longer after each failed round, doubling from
the poll interval up to ``outage_max_s``, and goes back to polling once a round succeeds,
first releasing what the outage left leased to it (so deliveries go on at once rather than when
that lease runs out). The process says so once when the outage starts and once when it ends,
not on every round.

A delivery is ``POST url`` with the event as JSON, ``X-Dossier-Event-Id``,
``X-Dossier-Event-Type`` and ``X-Dossier-Signature: t=<unix time>,v1=<hex>``, the HMAC-SHA256
of ``"<t>." + body`` under the subscription's secret (see ``docs/api.md``). Redirects are
never followed, and URLs with credentials are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.errors import ConflictError, InvalidInputError, NotFoundError, StorageError
from models.events import (
    EVENT_TYPES,
    DeliveryAttempt,
    DeliveryOutcome,
    Event,
    WebhookCreated,
    WebhookInfo,
)
from models.records import utcnow
from storage.db import Base, PortableJSON, UTCDateTime
from storage.db.accounts import ApiKeyRow
from storage.events import SEQ, EventRow, to_event
from storage.index import RecordIndex

__all__ = ["WebhookRow", "DeliveryRow", "Webhooks", "WebhookDelivery", "sign", "check_url",
           "check_types", "delivering", "SIGNATURE_HEADER", "EVENT_ID_HEADER", "MAX_PER_KEY"]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Dossier-Signature"
EVENT_ID_HEADER = "X-Dossier-Event-Id"
EVENT_TYPE_HEADER = "X-Dossier-Event-Type"
MAX_PER_KEY = 20
MAX_URL_CHARS = 2000
_WILDCARDS = {"*", "record.*", "batch.*"}


class WebhookRow(Base):
    __tablename__ = "webhooks"

    webhook_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("api_keys.key_id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    types: Mapped[list[str]] = mapped_column(PortableJSON)
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeliveryRow(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = {"sqlite_autoincrement": True}

    attempt_id: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("webhooks.webhook_id", ondelete="CASCADE"), index=True)
    event_seq: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


# -- what a subscription may be ------------------------------------------------------------

def _local(address: str) -> bool:
    """This machine or its link (loopback, link-local such as a cloud's metadata service,
    unspecified, multicast): no place for another agency's key to make the app send to.
    Private networks (10/8, 192.168/16, ...) are where agencies' systems live: allowed."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address.lower().rstrip(".") in ("localhost", "localhost.localdomain") or \
            address.lower().rstrip(".").endswith(".localhost")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast


def local_address(host: str, port: int) -> str | None:
    """The first local address (see :func:`_local`) ``host`` names or resolves to, if any."""
    if _local(host):
        return host
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None  # unresolvable: the POST itself fails and says so
    return next((str(a[4][0]) for a in found if _local(str(a[4][0]))), None)


def check_url(url: str, *, allow_local: bool = False) -> str:
    """The URL a subscription may deliver to: http(s), a host, no credentials, and (unless
    ``allow_local``) not this machine."""
    url = url.strip()
    if not url:
        raise InvalidInputError("the webhook needs a url", hint="send an http or https URL")
    if len(url) > MAX_URL_CHARS:
        raise InvalidInputError(f"the url is over {MAX_URL_CHARS} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidInputError("the url contains spaces or control characters",
                                hint="percent-encode them")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInputError(f"only http and https URLs can receive webhooks, not "
                                f"{parts.scheme or 'a URL without a scheme'!s}",
                                hint="e.g. https://portal.example.gov.vn/dossier-events")
    if "@" in parts.netloc:
        raise InvalidInputError(
            "the url carries credentials (user:password@host); they are refused",
            hint="every delivery is signed instead: check its X-Dossier-Signature header "
                 "with the secret this call returns")
    if not parts.hostname:
        raise InvalidInputError("the url names no host", hint="e.g. https://host/path")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError as e:
        raise InvalidInputError("the url's port is not a number from 1 to 65535") from e
    try:
        httpx.URL(url)  # what the sender will make of it
    except (httpx.InvalidURL, UnicodeError, ValueError) as e:
        raise InvalidInputError("the url is not one an HTTP client can send to",
                                hint="check the host name and percent-encode the path") from e
    if not allow_local and _local(parts.hostname):
        raise InvalidInputError(
            "the url names this machine or its link (loopback, link-local); webhooks are for "
            "other systems", hint="give the receiver's own address (an administrator may set "
                                  "DOSSIER_WEBHOOK_ALLOW_LOCAL=true for a receiver on this "
                                  "machine)")
    return url


def check_types(types: Sequence[str]) -> list[str]:
    """Event types to subscribe to: known ones, ``record.*``, ``batch.*`` or ``*``."""
    wanted = sorted({str(t).strip() for t in types if str(t).strip()})
    if not wanted:
        raise InvalidInputError("the webhook needs at least one event type",
                                hint="e.g. [\"record.verified\"], or [\"*\"] for every type")
    unknown = [t for t in wanted if t not in EVENT_TYPES and t not in _WILDCARDS]
    if unknown:
        raise InvalidInputError(
            f"unknown event type {', '.join(unknown)}",
            hint=f"use {', '.join(sorted(EVENT_TYPES))}, record.*, batch.* or *")
    return wanted


def wants(types: Sequence[str], event_type: str) -> bool:
    return "*" in types or event_type in types or \
        f"{event_type.split('.', 1)[0]}.*" in types


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``v1`` signature: HMAC-SHA256 of ``"<timestamp>." + body``, in hex."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                    hashlib.sha256).hexdigest()


# -- the subscriptions -----------------------------------------------------------------------

@dataclass
class Claim:
    """A subscription leased to one delivery process."""

    webhook_id: str
    url: str
    secret: str
    types: list[str]
    cursor: int
    attempts: int
    failing_since: datetime | None
    owner: str


class Webhooks:
    """Subscriptions and their delivery log, in the index database."""

    def __init__(self, index: RecordIndex, *, allow_local: bool = False) -> None:
        self.index = index
        self.allow_local = allow_local

    @staticmethod
    def _info(r: WebhookRow) -> WebhookInfo:
        return WebhookInfo(id=r.webhook_id, url=r.url, types=list(r.types),
                           created_at=r.created_at, cursor=str(r.cursor or 0),
                           failing_since=r.failing_since, next_attempt_at=r.next_attempt_at,
                           attempts=r.attempts or 0)

    def create(self, key_id: str, url: str, types: Sequence[str],
               after: int | None = None) -> WebhookCreated:
        """Subscribe ``key_id``'s owner to ``types`` at ``url``: events from now on, or
        from after the cursor ``after``. The secret is in the answer, and only there."""
        url, types = check_url(url, allow_local=self.allow_local), check_types(types)
        secret = "whsec_" + secrets.token_urlsafe(32)
        with self.index.transaction("create a webhook", write=True) as s:
            count = s.scalar(select(func.count()).select_from(WebhookRow)
                             .where(WebhookRow.key_id == key_id)) or 0
            if count >= MAX_PER_KEY:
                raise ConflictError(f"this key has {count} webhooks, the most it may have",
                                    hint="delete one it no longer needs")
            head = int(s.scalar(select(func.max(EventRow.seq))) or 0)
            if after is not None and after > head:
                raise ConflictError(f"the cursor {after} is past the newest event ({head})",
                                    hint="send a cursor the events feed gave out, or none "
                                         "for events from now on")
            row = WebhookRow(webhook_id=uuid.uuid4().hex[:24], key_id=key_id, url=url,
                             types=types, secret=secret, created_at=utcnow(),
                             cursor=head if after is None else after, attempts=0)
            s.add(row)
            s.flush()
            return WebhookCreated(**self._info(row).model_dump(), secret=secret)

    def of_key(self, key_id: str) -> list[WebhookInfo]:
        with self.index.transaction("list webhooks") as s:
            rows = s.scalars(select(WebhookRow).where(WebhookRow.key_id == key_id)
                             .order_by(WebhookRow.created_at, WebhookRow.webhook_id))
            return [self._info(r) for r in rows]

    def _own(self, s: Any, key_id: str, webhook_id: str) -> WebhookRow:
        row = s.get(WebhookRow, webhook_id)
        if row is None or row.key_id != key_id:  # another key's webhook does not exist here
            raise NotFoundError(f"this key has no webhook {webhook_id!r}")
        return row

    def get(self, key_id: str, webhook_id: str) -> WebhookInfo:
        with self.index.transaction("read a webhook") as s:
            return self._info(self._own(s, key_id, webhook_id))

    def delete(self, key_id: str, webhook_id: str) -> None:
        with self.index.transaction("delete a webhook", write=True) as s:
            row = self._own(s, key_id, webhook_id)
            s.execute(delete(DeliveryRow).where(DeliveryRow.webhook_id == webhook_id))
            s.delete(row)

    def deliveries(self, key_id: str, webhook_id: str, limit: int = 100,
                   before: int | None = None) -> list[DeliveryAttempt]:
        """The delivery log, newest attempt first."""
        with self.index.transaction("read a webhook's deliveries") as s:
            self._own(s, key_id, webhook_id)
            stmt = select(DeliveryRow).where(DeliveryRow.webhook_id == webhook_id)
            if before is not None:
                stmt = stmt.where(DeliveryRow.attempt_id < before)
            rows = s.scalars(stmt.order_by(DeliveryRow.attempt_id.desc()).limit(limit))
            return [DeliveryAttempt(id=str(r.attempt_id), event_id=r.event_id, cursor=str(r.event_seq),
                                    type=r.event_type, attempt=r.attempt, at=r.at,
                                    outcome=DeliveryOutcome(r.outcome),
                                    status_code=r.status_code, error=r.error,
                                    duration_ms=r.duration_ms or 0) for r in rows]

    # -- what a delivery process does ---------------------------------------------------------

    def claim_due(self, owner: str, lease: timedelta) -> Claim | None:
        """Lease one subscription that has events past its cursor and is not waiting for a
        retry, to ``owner``; the one served least recently first."""
        now = utcnow()
        head = select(func.max(EventRow.seq)).scalar_subquery()
        stmt = (select(WebhookRow)
                .join(ApiKeyRow, ApiKeyRow.key_id == WebhookRow.key_id)
                .where(ApiKeyRow.revoked.is_(False),
                       or_(WebhookRow.lease_until.is_(None), WebhookRow.lease_until <= now),
                       or_(WebhookRow.next_attempt_at.is_(None),
                           WebhookRow.next_attempt_at <= now),
                       WebhookRow.cursor < head)
                .order_by(WebhookRow.lease_until.is_not(None), WebhookRow.lease_until,
                          WebhookRow.webhook_id)
                .limit(1))
        # Most polls find nothing: look first without taking SQLite's write lock.
        with self.index.transaction("look for due webhooks") as s:
            if s.scalars(stmt.with_only_columns(WebhookRow.webhook_id)).first() is None:
                return None
        if self.index.backend == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=WebhookRow)
        with self.index.transaction("claim a webhook", write=True) as s:
            row = s.scalars(stmt).first()
            if row is None:
                return None
            row.lease_owner, row.lease_until = owner, now + lease
            return Claim(webhook_id=row.webhook_id, url=row.url, secret=row.secret,
                         types=list(row.types), cursor=int(row.cursor or 0),
                         attempts=row.attempts or 0, failing_since=row.failing_since,
                         owner=owner)

    def pending(self, claim: Claim, limit: int = 50) -> list[Event]:
        """The next events after the claim's cursor, of every type, oldest first."""
        stmt = (select(EventRow).where(EventRow.seq > claim.cursor).order_by(EventRow.seq)
                .limit(limit))
        with self.index.transaction("read events to deliver") as s:
            return [to_event(r) for r in s.scalars(stmt)]

    def settle(self, claim: Claim, lease: timedelta, *, cursor: int,
               attempt: tuple[Event, DeliveryOutcome, int | None, str | None, int] | None = None,
               retry_at: datetime | None = None) -> bool:
        """Note what a delivery did: move the cursor to ``cursor``, log ``attempt`` (event,
        outcome, status code, error, milliseconds) and, after a failure, when to try again.
        False when the claim's lease was lost (the subscription deleted, or its lease ran out
        and another process took it): the caller stops."""
        now = utcnow()
        with self.index.transaction("note a webhook delivery", write=True) as s:
            row = s.get(WebhookRow, claim.webhook_id, with_for_update=True)
            if row is None:
                return False
            if attempt is not None:
                event, outcome, status, error, ms = attempt
                s.add(DeliveryRow(webhook_id=claim.webhook_id, event_seq=int(event.cursor),
                                  event_id=event.id, event_type=event.type.value,
                                  attempt=claim.attempts + 1, at=now, outcome=outcome.value,
                                  status_code=status, error=error, duration_ms=ms))
            if row.lease_owner != claim.owner:
                return False
            claim.cursor = row.cursor = max(int(row.cursor or 0), cursor)
            if attempt is not None and attempt[1] == DeliveryOutcome.failed:
                claim.attempts += 1
                claim.failing_since = claim.failing_since or now
            elif attempt is not None:
                claim.attempts, claim.failing_since = 0, None
            row.attempts, row.failing_since = claim.attempts, claim.failing_since
            row.next_attempt_at = retry_at
            row.lease_until = now + lease
            return True

    def release_all(self, owner: str) -> None:
        """Release every subscription leased to ``owner``: what a round an index outage cut
        short left leased (the owner is one delivery thread, between rounds)."""
        with self.index.transaction("release webhooks", write=True) as s:
            s.execute(update(WebhookRow).where(WebhookRow.lease_owner == owner)
                      .values(lease_owner=None, lease_until=utcnow()))

    def release(self, claim: Claim) -> None:
        with self.index.transaction("release a webhook", write=True) as s:
            row = s.get(WebhookRow, claim.webhook_id, with_for_update=True)
            if row is not None and row.lease_owner == claim.owner:
                # The release time stays as the lease's end: who was served least recently.
                row.lease_owner, row.lease_until = None, utcnow()


# -- delivering --------------------------------------------------------------------------------

class WebhookDelivery:
    """Delivers due webhooks from a background thread (``start``/``stop``), or once
    (``run_once``). Any number of these may run, in any processes."""

    def __init__(self, index: RecordIndex, *, poll_s: float = 1.0, timeout_s: float = 10.0,
                 retry_base_s: float = 5.0, retry_max_s: float = 3600.0,
                 give_up: timedelta = timedelta(hours=24), allow_local: bool = False,
                 threads: int = 4, outage_max_s: float = 15.0) -> None:
        self.hooks = Webhooks(index)
        # Several threads, so one slow receiver does not hold up the others' deliveries;
        # each subscription is leased to one of them at a time.
        self.threads = max(1, threads)
        self.allow_local = allow_local
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.give_up = give_up
        self.outage_max_s = max(poll_s, outage_max_s)
        # When this process found the index unreachable (monotonic), while it stays so: one
        # warning when the outage starts and one when it ends, whichever thread sees them.
        self._outage_since: float | None = None
        self._outage_lock = threading.Lock()
        # Long enough for a few deliveries of the slowest receiver; renewed after each one.
        self.lease = timedelta(seconds=max(30.0, 3 * timeout_s))
        self.owner = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Never follow redirects; no proxies or .netrc credentials from the environment.
        self._client = httpx.Client(follow_redirects=False, trust_env=False,
                                    timeout=httpx.Timeout(timeout_s, connect=min(5.0,
                                                                                 timeout_s)))

    @classmethod
    def from_settings(cls, index: RecordIndex, settings: Any) -> WebhookDelivery:
        return cls(index, poll_s=settings.webhook_poll_s, timeout_s=settings.webhook_timeout_s,
                   retry_base_s=settings.webhook_retry_base_s,
                   retry_max_s=settings.webhook_retry_max_s,
                   give_up=timedelta(hours=settings.webhook_give_up_hours),
                   allow_local=settings.webhook_allow_local)

    # -- the threads -----------------------------------------------------------------------

    def start(self) -> WebhookDelivery:
        # Each thread leases as an owner of its own, so that what an outage left leased to
        # one thread is released by that thread without touching another's lease.
        self._threads = [threading.Thread(target=self._loop, args=(f"{self.owner}/{i}",),
                                          name=f"webhook-delivery-{i}", daemon=True)
                         for i in range(self.threads)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        deadline = time.monotonic() + self.timeout_s + 5
        for t in self._threads:  # each finishes the POST it is in, at most
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        self._client.close()

    def _loop(self, owner: str) -> None:
        down = 0  # rounds in a row that found the index unreachable
        while not self._stop.is_set():
            try:
                if down:  # the round the outage cut short may have left its lease behind
                    self.hooks.release_all(owner)
                busy = self.run_once(owner=owner) > 0
            except StorageError as e:  # the index is unreachable: wait longer each time
                down += 1
                self._index_down(e)
                self._stop.wait(self.outage_wait(down))
                continue
            except Exception:  # noqa: BLE001 - the thread must outlive any one bug
                log.exception("webhook delivery failed; trying again")
                busy = False
            else:
                down = 0
                if self._outage_since is not None:
                    self._index_back()
            if not busy:
                self._stop.wait(self.poll_s)

    def outage_wait(self, rounds: int) -> float:
        """Seconds a thread waits after ``rounds`` rounds in a row found the index
        unreachable: the poll interval, doubled each round, up to ``outage_max_s``."""
        return min(self.outage_max_s, self.poll_s * 2 ** max(0, min(rounds - 1, 40)))

    def _index_down(self, error: StorageError) -> None:
        with self._outage_lock:
            first = self._outage_since is None
            if first:
                self._outage_since = time.monotonic()
        if first:
            log.warning("webhook delivery: the index is unreachable; deliveries wait and are "
                        "tried again every %.0f s at most until it answers (%s)",
                        self.outage_max_s, error)
        else:
            log.debug("webhook delivery: the index is still unreachable: %s", error)

    def _index_back(self) -> None:
        with self._outage_lock:
            since, self._outage_since = self._outage_since, None
        if since is not None:
            log.warning("webhook delivery: the index answers again after %.0f s; deliveries "
                        "go on", time.monotonic() - since)

    # -- one round -------------------------------------------------------------------------

    def run_once(self, max_claims: int = 100, owner: str | None = None) -> int:
        """Deliver what is due now, leasing as ``owner`` (this process, unless a thread of
        it says); the number of attempts made."""
        made = 0
        for _ in range(max_claims):
            if self._stop.is_set():
                break
            claim = self.hooks.claim_due(owner or self.owner, self.lease)
            if claim is None:
                break
            try:
                made += self._deliver(claim)
            finally:
                self.hooks.release(claim)
        return made

    def backoff(self, failures: int) -> float:
        """Seconds before the next try after ``failures`` failures in a row (capped)."""
        return min(self.retry_max_s, self.retry_base_s * 2 ** max(0, min(failures - 1, 40)))

    def _deliver(self, claim: Claim) -> int:
        made = 0
        passed = claim.cursor  # events not subscribed to are passed over with the next write
        for event in self.hooks.pending(claim):
            if self._stop.is_set():
                break
            seq = int(event.cursor)
            if not wants(claim.types, event.type.value):
                passed = seq
                continue
            status, error, ms = self.post(claim, event)
            made += 1
            now = utcnow()
            if status is not None and 200 <= status < 300:
                outcome, cursor, retry = DeliveryOutcome.delivered, seq, None
            elif now - (claim.failing_since or now) >= self.give_up:
                log.warning("webhook %s: gave up event %s, failing since %s (%s)",
                            claim.webhook_id, event.id, claim.failing_since, error)
                outcome, cursor, retry = DeliveryOutcome.gave_up, seq, None
            else:
                outcome, cursor = DeliveryOutcome.failed, passed
                retry = now + timedelta(seconds=self.backoff(claim.attempts + 1))
            kept = self.hooks.settle(claim, self.lease, cursor=cursor,
                                     attempt=(event, outcome, status, error, ms),
                                     retry_at=retry)
            if not kept or outcome == DeliveryOutcome.failed:
                return made  # in order: nothing after this event goes before it
            passed = seq
        if passed > claim.cursor:
            self.hooks.settle(claim, self.lease, cursor=passed)
        return made

    def post(self, claim: Claim, event: Event) -> tuple[int | None, str | None, int]:
        """POST one event: (status code or None, error or None, milliseconds)."""
        body = event.model_dump_json().encode()
        stamp = int(time.time())
        headers = {"Content-Type": "application/json", "User-Agent": "dossier-webhooks/1",
                   EVENT_ID_HEADER: event.id, EVENT_TYPE_HEADER: event.type.value,
                   SIGNATURE_HEADER: f"t={stamp},v1={sign(claim.secret, stamp, body)}"}
        start = time.monotonic()
        if not self.allow_local:
            # A name may resolve to this machine although its URL did not say so.
            parts = urlsplit(claim.url)
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
            local = local_address(parts.hostname or "", port)
            if local is not None:
                return None, (f"the host resolves to {local}, this machine or its link, where "
                              "webhooks are not sent"), int((time.monotonic() - start) * 1000)
        try:
            # The answer's body is never read: only its status counts.
            with self._client.stream("POST", claim.url, content=body, headers=headers) as r:
                status = r.status_code
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError) as e:
            ms = int((time.monotonic() - start) * 1000)
            return None, (f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)[:500], ms
        ms = int((time.monotonic() - start) * 1000)
        if 200 <= status < 300:
            return status, None, ms
        if 300 <= status < 400:
            return status, f"answered {status}, a redirect, which is never followed", ms
        return status, f"answered {status}", ms


@contextmanager
def delivering(settings: Any) -> Iterator[WebhookDelivery | None]:
    """Webhooks delivered from a thread of this process while the block runs (unless the
    settings say this process does not deliver): ``dossier worker`` runs inside it."""
    if not settings.webhook_delivery:
        yield None
        return
    index = RecordIndex(settings.resolved_index_url())
    delivery = WebhookDelivery.from_settings(index, settings).start()
    try:
        yield delivery
    finally:
        delivery.stop()
        index.close()
