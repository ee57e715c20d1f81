"""The OCR pool's real worker processes under faults: a page that hangs Tesseract, a page
that kills its OCR process, and a worker killed from outside. Each page fails alone, the
others are read, and the pool is back to full strength with fresh processes.

The faults are injected through the program wrapper: a `tesseract` that hangs or kills its
parent (the OCR worker) on a page, and passes everything else to the real one."""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

from models.batches import PageJob
from ocr.pipeline import OcrOptions
from ocr.pool import OcrPool

SAMPLE = Path(__file__).resolve().parents[2] / "sample_scans" / "cccd-front-clean.png"


def _fake_tesseract(tmp_path: Path, action: str) -> str:
    script = tmp_path / f"tesseract-{action.split()[0]}"
    script.write_text("#!/bin/sh\n"
                      'case "$*" in *--version*|*--list-langs*) exec tesseract "$@";; esac\n'
                      f"{action}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait(cond, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_a_page_that_hangs_fails_alone_after_the_page_timeout(tmp_path):
    """GIVEN a pool of two OCR processes with a 4 s page timeout WHEN one page hangs
    Tesseract THEN that page fails with the timeout named, its process (and its `tesseract`)
    is killed and replaced, and the other pages are read."""
    hang = OcrOptions(engine="cli", tesseract_cmd=_fake_tesseract(tmp_path, "sleep 600"))
    pool = OcrPool(2, OcrOptions(), page_timeout=4)
    try:
        pool.start()
        before = set(pool.pids())
        stuck = pool.submit(PageJob(path=str(SAMPLE), source_page=0, opts=hang))
        good = [pool.submit(PageJob(path=str(SAMPLE), source_page=0)) for _ in range(3)]
        outcome = stuck.result(timeout=120)
        assert outcome.error_kind == "OcrEngineError"
        assert "did not finish within 4 s" in outcome.error_message
        for f in good:
            assert f.result(timeout=120).error_kind is None
        assert pool.replaced == 1 and len(pool.pids()) == 2
        gone = before - set(pool.pids())
        assert len(gone) == 1 and not any(_alive(p) for p in gone)
        assert not [p for p in Path("/proc").glob("[0-9]*/cmdline")
                    if b"tesseract-sleep" in _read(p)]
    finally:
        pool.shutdown()


def _read(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError:
        return b""


def test_a_page_that_kills_its_ocr_process_fails_alone_and_the_process_is_replaced(tmp_path):
    """GIVEN a page whose reading kills the OCR process every time WHEN it is read THEN it is
    tried once more on a fresh process, then fails alone; the other pages are read."""
    killer = OcrOptions(engine="cli", tesseract_cmd=_fake_tesseract(tmp_path, "kill -9 $PPID"))
    pool = OcrPool(2, OcrOptions(), page_timeout=60)
    try:
        bad = pool.submit(PageJob(path=str(SAMPLE), source_page=0, opts=killer))
        good = [pool.submit(PageJob(path=str(SAMPLE), source_page=0)) for _ in range(2)]
        outcome = bad.result(timeout=120)
        assert outcome.error_kind == "OcrEngineError" and "died" in outcome.error_message
        assert all(f.result(timeout=120).error_kind is None for f in good)
        assert pool.replaced == 2 and len(pool.pids()) == 2
        assert all(_alive(p) for p in pool.pids())
    finally:
        pool.shutdown()


def test_a_worker_killed_from_outside_mid_page_costs_nothing(tmp_path):
    """GIVEN pages being read WHEN an OCR process is killed with SIGKILL mid-page THEN its
    page is read again on a fresh process and every page comes back read."""
    pool = OcrPool(2, OcrOptions(), page_timeout=60)
    try:
        futures = [pool.submit(PageJob(path=str(SAMPLE), source_page=0)) for _ in range(4)]
        _wait(lambda: any(w.item is not None for w in pool._procs))
        victim = next(w.process.pid for w in pool._procs if w.item is not None)
        os.kill(victim, signal.SIGKILL)
        assert all(f.result(timeout=120).error_kind is None for f in futures)
        assert pool.replaced == 1 and victim not in pool.pids() and len(pool.pids()) == 2
    finally:
        pool.shutdown()
