"""Running ``digitize-batch`` as a Prefect deployment: the local Prefect server (zero
configuration on one machine), the work pool and deployment, submitting a batch, the warm
worker, the watchdog that hands batches of dead workers to a new run, and the supervisor that
keeps what ``dossier serve`` started alive.

On one machine ``dossier serve`` starts a Prefect server on 127.0.0.1 (its own SQLite
database under the data dir) and one ``dossier worker``, and restarts either (and the embedded
S3 server) when it dies. To scale out, point every process at a shared server with
``PREFECT_API_URL`` (PostgreSQL behind it) and start ``dossier worker`` on as many machines as
needed.

A worker is warm: it takes flow runs from the ``process`` work pool like Prefect's process
worker, but runs each in a thread of its own long-lived process (Prefect's flow engine,
``run_flow_sync``) instead of a new Python process per run. Tesseract's models, the OCR pool,
the extraction libraries and the store clients stay loaded from one batch to the next, and the
pages of every batch it runs share its OCR pool.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import httpx

from models.errors import ConfigurationError
from models.settings import Settings

__all__ = ["DEPLOYMENT", "LocalPrefectServer", "local_stack", "prefect_env", "api_url_for",
           "plain_http_env", "server_database_env",
           "ensure_deployment", "submit_batch", "run_worker", "Watchdog", "Supervisor",
           "warm_up"]

log = logging.getLogger(__name__)

FLOW_NAME = "digitize-batch"
DEPLOYMENT = f"{FLOW_NAME}/{FLOW_NAME}"
_SERVER_FILE = "prefect-server.json"


def prefect_env(settings: Settings) -> dict[str, str]:
    """Environment for any process that talks to Prefect (set before Prefect is imported)."""
    home = (settings.data_dir / "prefect").resolve()
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
        # A warm worker polls its pool twice a second: an upload's run starts within half a
        # second (a quarter on average; every second, the wait was half of a one-page
        # upload's orchestration). A poll costs the local Prefect server about 9 ms of CPU.
        "PREFECT_WORKER_QUERY_SECONDS": os.environ.get("PREFECT_WORKER_QUERY_SECONDS", "0.5"),
        "OMP_THREAD_LIMIT": "1",
        "DOSSIER_DATA_DIR": str(settings.data_dir.resolve()),
    }


def plain_http_env(url: str, settings: Settings) -> dict[str, str]:
    """Environment for a process whose Prefect API is plain HTTP (the local server): Prefect's
    client loads the CA bundle of ``PREFECT_API_SSL_CERT_FILE`` (certifi's 140 certificates
    unless set) each time it makes a client, several times a flow run, 15 ms each, although
    no certificate is ever checked over plain HTTP. A bundle of one certificate loads in
    0.2 ms. Nothing for an HTTPS API, or when the setting is already given."""
    if not url.startswith("http://") or os.environ.get("PREFECT_API_SSL_CERT_FILE"):
        return {}
    import certifi

    bundle = (settings.data_dir / "prefect" / "plain-http-ca.pem").resolve()
    if not bundle.exists():
        text = Path(certifi.where()).read_text(encoding="ascii")
        end = "-----END CERTIFICATE-----"
        bundle.parent.mkdir(parents=True, exist_ok=True)
        tmp = bundle.with_suffix(f".{os.getpid()}.tmp")  # workers may start together
        tmp.write_text(text[text.index("-----BEGIN CERTIFICATE-----"):text.index(end)
                            + len(end)] + "\n", encoding="ascii")
        tmp.replace(bundle)
    return {"PREFECT_API_SSL_CERT_FILE": str(bundle)}


def server_database_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The operator's ``PREFECT_SERVER_DATABASE_*`` settings, for the local Prefect server
    ``dossier serve`` starts (which otherwise gets no ``PREFECT_`` variable of the caller's):
    one machine may keep Prefect's runs in its PostgreSQL instead of SQLite. Measured with
    ``bench.served --uploads 50``: 81.8-85.7 pages/min on PostgreSQL against 72-73 on SQLite, whose
    one writer at a time leaves the cores idle while many flow runs start and end."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if k.startswith("PREFECT_SERVER_DATABASE_")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def api_url_for(settings: Settings) -> str | None:
    """The Prefect API to use: ``PREFECT_API_URL``, else the local server ``dossier serve``
    started for this data dir (if it answers)."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    info = settings.data_dir / _SERVER_FILE
    try:
        url = json.loads(info.read_text(encoding="utf-8"))["api_url"]
    except (OSError, ValueError, KeyError):
        return None
    return url if _healthy(url) else None


# The local server's services nothing here uses, off: every task run's state changes are
# events, and storing each event (the event feed) and matching it against automations cost
# the server about as much CPU as the worker's own orchestration; task runs are still
# recorded (their own service), and runs are created to start at once (no schedules).
_UNUSED_SERVICES_OFF = {
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
}


@dataclass
class LocalPrefectServer:
    """``prefect server start`` on 127.0.0.1 with its own database under the data dir."""

    data_dir: Path
    port: int = 0
    process: subprocess.Popen | None = None
    env: dict[str, str] | None = None  # e.g. PREFECT_SERVER_DATABASE_CONNECTION_URL

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout: float = 120.0) -> str:
        self.port = self.port or _free_port()
        home = (self.data_dir / "prefect-server").resolve()
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PREFECT_LOGGING_LEVEL="WARNING", PREFECT_UI_ENABLED="false",
                   PREFECT_SERVER_API_HOST="127.0.0.1", PREFECT_SERVER_API_PORT=str(self.port),
                   **_UNUSED_SERVICES_OFF)
        env.update(self.env or {})
        log_file = (home / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(self.port)],
            env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        log_file.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigurationError(f"the Prefect server exited (see {home / 'server.log'})")
            if _healthy(self.api_url):
                (self.data_dir / _SERVER_FILE).write_text(
                    json.dumps({"api_url": self.api_url, "pid": self.process.pid}),
                    encoding="utf-8")
                return self.api_url
            time.sleep(0.3)
        self.stop()
        raise ConfigurationError(f"the Prefect server did not answer within {timeout:.0f} s "
                                 f"(see {home / 'server.log'})")

    def stop(self, timeout: float = 20.0) -> None:
        (self.data_dir / _SERVER_FILE).unlink(missing_ok=True)
        if self.process is not None:
            stop_process(self.process, timeout)
            self.process = None


def stop_process(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM to the process group (it started its own session), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class Periodic(threading.Thread):
    """A daemon thread that runs :meth:`check` every ``every`` seconds until ``stopped`` is
    set; a round that fails is logged and the next one tries again."""

    def __init__(self, name: str, every: float) -> None:
        super().__init__(name=name, daemon=True)
        self.every = every
        self.stopped = threading.Event()

    def check(self) -> object:
        raise NotImplementedError

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.check()
            except Exception as e:  # noqa: BLE001 - keep going; the next round retries
                log.warning("%s: %s", self.name, e)


class Supervisor(Periodic):
    """Keeps what ``dossier serve`` started alive: a local worker that exits is started again
    (after a pause that grows while it keeps dying), the local Prefect server is started again
    on its own port, and the embedded S3 server on its own ports, so every process finds them
    where they were."""

    def __init__(self, settings: Settings, start_worker: Callable[[], subprocess.Popen],
                 workers: int, server: LocalPrefectServer | None, every: float = 1.0) -> None:
        super().__init__("supervisor", every)
        self.settings = settings
        self.start_worker = start_worker
        self.procs: list[subprocess.Popen] = [start_worker() for _ in range(workers)]
        self.server = server
        self.restarts = 0
        self._lock = threading.Lock()
        self._not_before = [0.0] * workers
        self._pause = [1.0] * workers

    def check(self) -> None:
        """One round of supervision."""
        if self.server is not None and self.server.process is not None \
                and self.server.process.poll() is not None:
            log.warning("the local Prefect server exited (%s); starting it again on port %d",
                        self.server.process.returncode, self.server.port)
            self.server.start()
        with self._lock:
            for i, p in enumerate(self.procs):
                if self.stopped.is_set() or p.poll() is None:
                    continue
                now = time.monotonic()
                if now < self._not_before[i]:
                    continue
                log.warning("worker pid %d exited (%s); starting another", p.pid, p.returncode)
                self.procs[i] = self.start_worker()
                self.restarts += 1
                # A worker that dies at once again waits longer each time (up to a minute).
                lived = now - self._not_before[i]
                self._pause[i] = 1.0 if lived > 60 else min(self._pause[i] * 2, 60.0)
                self._not_before[i] = now + self._pause[i]
        if not self.settings.s3_endpoint.strip():
            from storage.embedded import EmbeddedS3

            s3 = EmbeddedS3(self.settings.data_dir)
            if s3.pid() is None:
                log.warning("the embedded S3 server is not running; starting it again")
                s3.ensure_running()

    def stop(self) -> None:
        self.stopped.set()
        if self.is_alive():
            self.join(timeout=30)
        with self._lock:
            for p in self.procs:
                stop_process(p)


@contextmanager
def local_stack(settings: Settings, *, workers: int = 1,
                say: Callable[[str], None] = log.info) -> Iterator[str]:
    """What `dossier serve` and `dossier demo` need on one machine: the Prefect API
    (``PREFECT_API_URL``, else a local server started here), the deployment, ``workers``
    local `dossier worker` processes, a watchdog and a :class:`Supervisor`; everything started
    here is stopped on exit. Yields the Prefect API URL."""
    for k, v in prefect_env(settings).items():
        os.environ.setdefault(k, v)
    server = None
    supervisor: Supervisor | None = None
    watchdog: Watchdog | None = None
    try:
        if not os.environ.get("PREFECT_API_URL"):
            server = LocalPrefectServer(settings.data_dir, env=server_database_env())
            say("Starting the local Prefect server ...")
            os.environ["PREFECT_API_URL"] = server.start()
        ensure_deployment(settings)
        worker_bin = Path(sys.argv[0]).with_name("dossier")
        cmd = [str(worker_bin)] if worker_bin.exists() else [sys.executable, "-m", "cli.main"]

        def start_worker() -> subprocess.Popen:
            return subprocess.Popen([*cmd, "worker"], env=os.environ.copy(),
                                    start_new_session=True)

        supervisor = Supervisor(settings, start_worker, workers, server)
        supervisor.start()
        # Batches of a dead worker are taken over here too, whether or not a worker lives.
        watchdog = Watchdog(settings)
        watchdog.start()
        yield os.environ["PREFECT_API_URL"]
    finally:
        if watchdog is not None:
            watchdog.stop()
        if supervisor is not None:
            supervisor.stop()
        if server is not None:
            server.stop()
            os.environ.pop("PREFECT_API_URL", None)



def ensure_deployment(settings: Settings) -> None:
    """Create the process work pool and the ``digitize-batch`` deployment (idempotent).

    The deployment names the flow by module path: workers import it from the installed
    package, so nothing is copied or pulled at run time.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.deployments.runner import EntrypointType
    from prefect.exceptions import ObjectAlreadyExists

    from flows.digitize import digitize_batch

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=settings.work_pool, type="process"))
        except ObjectAlreadyExists:
            pass
    # Outside an event loop Prefect's async_dispatch returns the deployment itself; its
    # type also admits the coroutine an async caller gets.
    deployment_id = digitize_batch.to_deployment(  # type: ignore[union-attr]
        name=FLOW_NAME, work_pool_name=settings.work_pool,
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Digitize an accepted batch (by batch id)").apply()
    if isinstance(deployment_id, UUID):  # called outside an event loop: the id itself
        _submitter.prime(deployment_id)


class _Submitter:
    """Creates flow runs of the deployment through one Prefect client kept open, and the
    deployment's id read once: a new client and a lookup of the deployment by name for each
    batch (``run_deployment``) cost an upload 0.1-0.25 s before its 202, against 0.02-0.04 s.
    One submission at a time; the client is made again for another ``PREFECT_API_URL`` or in
    a child process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client = None
        self._url: str | None = None
        self._pid = 0
        self._deployment_id: UUID | None = None

    def prime(self, deployment_id: UUID) -> None:
        """The deployment just made (or made again), and the client opened: the first upload
        does not wait for either."""
        with self._lock:
            try:
                self._open()
            except Exception as e:  # noqa: BLE001 - the first submission tries again
                log.debug("opening the Prefect client: %s", e)
            self._deployment_id = deployment_id

    def _open(self):
        from prefect.client.orchestration import get_client

        url = os.environ.get("PREFECT_API_URL")
        if self._pid != os.getpid():  # a child's copy of its parent's client is not its own
            self._client = None
        if self._client is None or url != self._url:
            self._close()
            client = get_client(sync_client=True)
            client.__enter__()
            self._client, self._url, self._pid = client, url, os.getpid()
            self._deployment_id = None
        return self._client

    def _close(self) -> None:
        client, self._client, self._deployment_id = self._client, None, None
        if client is not None:
            try:
                client.__exit__(None, None, None)
            except Exception as e:  # noqa: BLE001 - a client that failed is dropped anyway
                log.debug("closing the Prefect client: %s", e)

    def _create(self, batch_id: str) -> str:
        from prefect.states import Scheduled

        client = self._open()
        if self._deployment_id is None:
            self._deployment_id = client.read_deployment_by_name(DEPLOYMENT).id
        run = client.create_flow_run_from_deployment(
            self._deployment_id, parameters={"batch_id": batch_id}, state=Scheduled(),
            name=batch_id)
        return str(run.id)

    def submit(self, batch_id: str) -> str:
        from prefect.exceptions import ObjectNotFound

        with self._lock:
            try:
                try:
                    return self._create(batch_id)
                except ObjectNotFound:  # the deployment was made again: it has a new id
                    self._deployment_id = None
                    return self._create(batch_id)
            except Exception:
                self._close()  # the next submission starts afresh
                raise


_submitter = _Submitter()


def submit_batch(batch_id: str) -> str:
    """A new flow run of the deployment for this batch, named after it; returns its id. The
    run waits in the work pool until a worker takes it."""
    return _submitter.submit(batch_id)


def _mark_crashed(run_id: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    try:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run_id, Crashed(message="its worker stopped beating"),
                                      force=True)
    except Exception as e:  # noqa: BLE001 - bookkeeping in Prefect's UI only
        log.warning("cannot mark flow run %s crashed: %s", run_id, e)


def _never_coming(run_id: str, stale: timedelta) -> bool:
    """A submitted run that will not start: gone, ended, or taken by a worker (pending, or
    running without claiming the batch) longer than ``stale`` ago; a run still scheduled in
    the pool is only waiting for a free worker."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.exceptions import ObjectNotFound

    from models.records import utcnow

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(run_id))
    except ObjectNotFound:
        return True
    state = run.state
    if state is None or state.type == StateType.SCHEDULED:
        return False
    if state.is_final():
        return True
    return state.timestamp is not None and utcnow() - state.timestamp > stale


class Watchdog(Periodic):
    """Every few seconds: batches whose run stopped beating (its worker died) or that were
    never handed to Prefect are submitted again. Exactly one watchdog takes each one over."""

    def __init__(self, settings: Settings, submit=submit_batch) -> None:
        super().__init__("batch-watchdog", max(1.0, settings.batch_heartbeat_s))
        from storage.batches import BatchLedger
        from storage.index import RecordIndex

        self.settings = settings
        self.submit = submit
        self.index = RecordIndex(settings.resolved_index_url())
        self.ledger = BatchLedger(self.index)

    def check(self) -> list[str]:
        """One round; returns the batches submitted again."""
        resubmitted = []
        stale = timedelta(seconds=self.settings.batch_stale_s)
        taken = self.ledger.take_over_stale(stale)
        for batch_id, run_id in self.ledger.waiting(stale):
            if _never_coming(run_id, stale) and self.ledger.release(batch_id, run_id):
                taken.append((batch_id, run_id))
        for batch_id, old_run in taken:
            if old_run:
                _mark_crashed(old_run)
            run_id = self.submit(batch_id)
            self.ledger.submitted(batch_id, run_id)
            log.warning("batch %s stalled (run %s); submitted again as %s", batch_id, old_run,
                        run_id)
            resubmitted.append(batch_id)
        return resubmitted

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)
        self.index.close()


def warm_up(settings: Settings) -> None:
    """Load now what every batch needs: the store clients and document types, the OCR pool's
    processes with Tesseract's models, and the extraction libraries, then rehearse once what
    a page's extraction and searchable PDF do the first time (both in the background)."""
    from extraction import start_warm_up
    from flows.runtime import get_runtime
    from ocr import pool

    get_runtime()
    pool.get_pool(settings.workers, settings.ocr_options(),
                  page_timeout=settings.page_timeout_s).start()
    start_warm_up()
    threading.Thread(target=_rehearse, name="extraction-rehearsal", daemon=True).start()


# A made-up identity card's text: what the rehearsal extracts.
_REHEARSAL = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
              "CĂN CƯỚC CÔNG DÂN", "Số / No.: 001090012345",
              "Họ và tên / Full name: NGUYỄN VĂN AN", "Ngày sinh / Date of birth: 01/02/1990",
              "Giới tính / Sex: Nam",
              "Nơi thường trú: Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh")


def _rehearse() -> None:
    """Extract a made-up page and make its searchable PDF, storing nothing: what runs once per
    process the first time (about 0.4 s of extraction and 0.3 s of PDF on two busy cores) is
    paid here rather than by the first page a warm worker digitizes."""
    import io

    from PIL import Image

    from extraction import extract_documents, wait_for_warm_up
    from flows.runtime import get_runtime
    from models.ocr import Line, PageOCR, Word
    from ocr.searchable import searchable_pdf

    try:
        wait_for_warm_up()
        rt = get_runtime()
        lines = []
        for row, text in enumerate(_REHEARSAL):
            words, x = [], 40
            for w in text.split():
                words.append(Word(text=w, bbox=(x, 40 + 60 * row, x + 20 * len(w), 80 + 60 * row),
                                  confidence=0.95))
                x += 20 * len(w) + 15
            lines.append(Line(words=words))
        page = PageOCR(width=1600, height=1000, lines=lines)
        png = io.BytesIO()
        Image.new("L", (page.width, page.height), 255).save(png, format="PNG")
        searchable_pdf([(png.getvalue(), page)], title="warm-up")
        extract_documents([page], rt.doctypes, review_threshold=rt.settings.review_threshold,
                          calibration=rt.settings.resolved_calibration())
    except Exception as e:  # noqa: BLE001 - the first page pays for it instead
        log.debug("extraction rehearsal skipped: %s", e)


def _run_flow_here(flow_run) -> int:
    """Run a ``digitize-batch`` flow run in this process (the engine reports its states)."""
    from prefect.flow_engine import run_flow_sync

    from flows.digitize import digitize_batch

    state = run_flow_sync(digitize_batch, flow_run=flow_run, parameters=flow_run.parameters,
                          return_type="state")
    log.info("flow run %s ended %s", flow_run.id, getattr(state, "type", None))
    return 0


def _warm_worker(**kwargs):
    import warnings

    from prefect.workers.process import ProcessWorker, ProcessWorkerResult

    # Prefect registers worker classes by type; this one stands in for "process" only here.
    warnings.filterwarnings("ignore", message=".*matches existing registered type")

    class WarmWorker(ProcessWorker):
        """Prefect's process worker (polling, limits, heartbeats, the pool's job template)
        whose runs execute in threads of this long-lived process."""

        async def run(self, flow_run, configuration, task_status=None):
            import anyio

            if task_status is not None:
                task_status.started(os.getpid())
            code = await anyio.to_thread.run_sync(_run_flow_here, flow_run)
            return ProcessWorkerResult(status_code=code, identifier=str(os.getpid()))

    return WarmWorker(**kwargs)


def run_worker(settings: Settings, *, limit: int | None = None, name: str | None = None
               ) -> None:
    """A warm worker on the work pool running up to ``limit`` batches at once
    (``DOSSIER_WORKER_BATCHES``) in this process, plus the watchdog; returns on
    SIGTERM/SIGINT."""
    import asyncio

    ensure_deployment(settings)
    warm_up(settings)
    watchdog = Watchdog(settings)
    watchdog.start()

    async def main() -> None:
        async with _warm_worker(work_pool_name=settings.work_pool,
                                limit=limit or settings.worker_batches, name=name) as worker:
            await worker.start(printer=lambda *a, **k: log.info(" ".join(map(str, a))))

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        watchdog.stop()
