"""A private PostgreSQL cluster for tests that kill the database: initdb into a directory of
its own, its own port on 127.0.0.1, run as the ``postgres`` user (the server refuses to run as
root). The shared server on 127.0.0.1:5432 is never touched."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.e2e import service
from tests.e2e.test_pipeline import free_port

__all__ = ["PrivatePostgres", "server_bin"]


def server_bin() -> Path | None:
    """The directory of the newest installed PostgreSQL server's programs, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """``start()``, ``kill()`` (SIGKILL to the postmaster, as a crash), ``start()`` again on
    the same port (crash recovery), ``stop()`` (and its directory removed)."""

    def __init__(self, bin_dir: Path, user: str = "postgres") -> None:
        self.bin = bin_dir
        self.user = user if os.geteuid() == 0 else None  # root runs it as `user`
        # Outside pytest's 0700 temporary directories, which the server's user cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix="dossier-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/dossier"
        if self.user is not None:
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")

    def _cmd(self, program: str, *args: str) -> list[str]:
        cmd = [str(self.bin / program), *args]
        return ["runuser", "-u", self.user, "--", *cmd] if self.user else cmd

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(self._cmd(program, *args), capture_output=True, text=True,
                              timeout=timeout, cwd=self.root)
        assert done.returncode == 0, f"{program} failed: {done.stdout}\n{done.stderr}\n" \
                                     f"{self.log()}"

    def log(self) -> str:
        try:
            return (self.root / "server.log").read_text()[-3000:]
        except OSError:
            return ""

    def start(self) -> None:
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                "-c max_connections=200 -c shared_buffers=32MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", opts, "-w", "-t", "60", "start")
        if not (self.root / "created").exists():
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                      "dossier")
            (self.root / "created").touch()

    def postmaster(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self, timeout: float = 30) -> None:
        """SIGKILL to the postmaster; returns once its backends, which notice their parent's
        death, are gone too (so the next start may take the port and shared memory)."""
        pid = self.postmaster()
        assert pid is not None and service.alive(pid), "the postmaster is not running"
        children = service.descendants(pid)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while any(service.alive(p) for p in [pid, *children]):
            if time.monotonic() > deadline:  # a backend that lingers dies as its parent did
                for p in children:
                    if service.alive(p):
                        os.kill(p, signal.SIGKILL)
            time.sleep(0.1)

    def stop(self) -> None:
        if self.postmaster() is not None and service.alive(self.postmaster() or 0):
            subprocess.run(self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w",
                                     "stop"), capture_output=True, timeout=60, cwd=self.root)
        shutil.rmtree(self.root, ignore_errors=True)
