"""Run one external program and measure it: wall time and the peak memory of its process tree.

The peak comes from ``wait4``: Linux reports the largest resident set of the process and of
every descendant it waited for, so it is the biggest single process of the tree (for
OCRmyPDF, its largest worker or Tesseract), not a sum.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Measured", "run_measured", "spec_main", "descendants"]


@dataclass
class Measured:
    args: list[str]
    returncode: int
    wall_s: float
    peak_rss_kb: int
    stdout: bytes
    stderr: str
    timed_out: bool = False
    cpu_s: float = 0.0  # user and system time of the process

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe_failure(self) -> str:
        what = Path(self.args[0]).name if self.args else "?"
        if self.timed_out:
            return f"{what} timed out after {self.wall_s:.0f} s"
        tail = self.stderr.strip().splitlines()[-3:]
        return f"{what} exited {self.returncode}: {' / '.join(tail)}"


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc (children before their own children)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def run_measured(args: list[str], *, timeout: float, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> Measured:
    """Run ``args`` to completion; never raises for a non-zero exit, only for a missing program."""
    # Output goes to files, not pipes: the process is reaped with wait4 (for its rusage), so
    # nothing would drain a pipe while it runs.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=cwd,
                                stdin=subprocess.DEVNULL)
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(args=list(args), returncode=proc.returncode, wall_s=wall,
                        peak_rss_kb=int(usage.ru_maxrss), stdout=out.read(),
                        stderr=err.read().decode("utf-8", "replace"),
                        timed_out=expired.is_set(),
                        cpu_s=usage.ru_utime + usage.ru_stime)


def spec_main(prog: str, run: Callable[[dict], dict], argv: list[str] | None = None) -> int:
    """The command line of a measured child process: ``python -m PROG SPEC.json RESULT.json``
    reads its job from SPEC.json and writes ``run``'s figures to RESULT.json."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write(f"usage: python -m {prog} SPEC.json RESULT.json\n")
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    Path(args[1]).write_text(json.dumps(run(spec), ensure_ascii=False), encoding="utf-8")
    return 0
