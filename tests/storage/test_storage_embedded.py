"""The embedded S3 server wrapper, on the real ``weed mini`` process."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from models.errors import StorageError
from storage.embedded import GOGC, EmbeddedS3, S3Endpoint
from storage.objects import ObjectStore


def _listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(ip hex, port) of every TCP socket ``pid`` listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                ip, port = local.split(":")
                found.add((ip, int(port, 16)))
    return found


def test_endpoint_repr_hides_secret() -> None:
    """
    GIVEN an endpoint with a secret key
    WHEN it is printed
    THEN the secret does not appear
    """
    ep = S3Endpoint(endpoint="127.0.0.1:9000", access_key="AK", secret_key="s3cr3t-value")
    assert "s3cr3t-value" not in repr(ep)
    assert "s3cr3t-value" not in str(ep)
    assert "AK" in repr(ep)


def test_second_caller_reuses_running_server(embedded_s3: EmbeddedS3, s3_endpoint: S3Endpoint) -> None:
    """
    GIVEN the embedded server running for this session
    WHEN another EmbeddedS3 over the same data dir calls ensure_running
    THEN it gets the same endpoint and no new process is started
    """
    pid = embedded_s3.pid()
    assert pid is not None
    again = EmbeddedS3(embedded_s3.data_dir)
    assert again.ensure_running() == s3_endpoint
    assert again.pid() == pid
    assert again.last_start_seconds is None  # it did not start anything


def test_credentials_are_private(embedded_s3: EmbeddedS3, s3_endpoint: S3Endpoint) -> None:
    """
    GIVEN the embedded server started
    WHEN its credential files are inspected
    THEN only the owner can read them and they hold the endpoint's keys
    """
    for path in (embedded_s3.credentials_file, embedded_s3.identities_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    creds = json.loads(embedded_s3.credentials_file.read_text())
    assert creds["access_key"] == s3_endpoint.access_key
    assert creds["secret_key"] == s3_endpoint.secret_key
    assert len(s3_endpoint.secret_key) >= 32


def test_every_port_is_loopback_and_recorded(embedded_s3: EmbeddedS3) -> None:
    """
    GIVEN the embedded server running
    WHEN its listening sockets are read from /proc
    THEN each is bound to 127.0.0.1 on a port that was chosen and recorded in server.json
    """
    pid = embedded_s3.pid()
    assert pid is not None
    recorded = set(json.loads(embedded_s3.server_file.read_text())["ports"].values())
    listening = _listening_addresses(pid)
    assert listening, "the server listens on nothing"
    assert {ip for ip, _ in listening} == {"0100007F"}  # 127.0.0.1, little-endian hex
    assert {port for _, port in listening} <= recorded


def test_server_collects_garbage_early(embedded_s3: EmbeddedS3) -> None:
    """
    GIVEN the embedded server running
    WHEN its environment is read from /proc
    THEN Go's collector runs at the module's GOGC (or at the GOGC the environment gave)
    """
    pid = embedded_s3.pid()
    assert pid is not None
    env = dict(item.split("=", 1) for item in
               Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item)
    assert env.get("GOGC") == os.environ.get("GOGC", GOGC)


def test_start_failure_reports_the_log(tmp_path: Path) -> None:
    """
    GIVEN a server binary that dies at start with a message
    WHEN ensure_running is called
    THEN a StorageError carries the end of the server log
    """
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'volume dir is not writable'\nexit 3\n")
    fake.chmod(0o755)
    server = EmbeddedS3(tmp_path / "data", weed_binary=fake)
    with pytest.raises(StorageError, match="volume dir is not writable"):
        server.ensure_running(timeout=10)
    assert not server.server_file.exists()


def test_concurrent_start_stop_and_restart_keep_one_server_and_the_data(tmp_path: Path) -> None:
    """
    GIVEN a fresh data dir
    WHEN two callers start the server at once, an object is stored, the server is stopped
         and started again over a stale server.json
    THEN both callers got the same server, stop ends the process and removes server.json,
         and the restarted server has the same credentials and the object
    """
    results: list[S3Endpoint | BaseException] = []

    def start() -> None:
        try:
            results.append(EmbeddedS3(tmp_path).ensure_running(timeout=60))
        except BaseException as e:  # reported by the assertion below
            results.append(e)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert len(results) == 2 and all(isinstance(r, S3Endpoint) for r in results), results
    assert results[0] == results[1]

    server = EmbeddedS3(tmp_path)
    pid = server.pid()
    assert pid is not None
    store = ObjectStore(server.ensure_running(), bucket_prefix="restart-")
    ref = store.put_original(b"survives a restart", filename="a.txt")

    assert server.stop() is True
    assert not server.server_file.exists()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # bounded: the launching thread's child may await reaping
    status = Path(f"/proc/{pid}/stat")
    assert not status.exists() or status.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    assert server.pid() is None
    assert server.endpoint_if_running() is None

    # As after a kill -9: server.json names a process that is gone.
    server.server_file.write_text(json.dumps({"pid": pid, "endpoint": "127.0.0.1:1"}))
    try:
        endpoint = server.ensure_running(timeout=60)
        assert endpoint.endpoint != "127.0.0.1:1"
        assert endpoint.access_key == results[0].access_key  # type: ignore[union-attr]
        assert server.last_start_seconds is not None
        # Read at once, with no retry: started means the volumes on disk are loaded.
        assert ObjectStore(endpoint, bucket_prefix="restart-",
                           retry_delays=()).get_original(ref.sha256) == (
            b"survives a restart"
        )
    finally:
        server.stop()
