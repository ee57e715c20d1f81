"""The process tree the benchmarks and the end-to-end tests measure and stop."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from bench.measure import descendants


def test_descendants_are_every_process_below_a_pid_and_only_those():
    """GIVEN a shell that started a sleep of its own WHEN the tree below this process is read
    THEN it holds the shell and its sleep, and the tree below the shell holds the sleep alone"""
    shell = subprocess.Popen(["sh", "-c", "sleep 30 & echo $!; wait"], stdout=subprocess.PIPE,
                             text=True)
    assert shell.stdout is not None
    sleep = int(shell.stdout.readline())
    try:
        deadline = time.monotonic() + 10
        while sleep not in descendants(os.getpid()) and time.monotonic() < deadline:
            time.sleep(0.05)
        mine = descendants(os.getpid())
        assert shell.pid in mine and sleep in mine
        assert mine.index(shell.pid) < mine.index(sleep)
        assert descendants(shell.pid) == [sleep]
        assert descendants(sleep) == []
    finally:
        os.kill(sleep, signal.SIGKILL)
        shell.kill()
        shell.wait()
