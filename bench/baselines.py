"""The systems we compare against, run on the same page images: the bare ``tesseract``
command and OCRmyPDF. Each says up front whether it can run here, and why not."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import Measured, run_measured

__all__ = ["SystemRun", "tesseract_version", "tesseract_peak_kb", "run_tesseract_cli", "ocrmypdf_missing",
           "ocrmypdf_version", "build_pdf", "run_ocrmypdf"]


@dataclass
class SystemRun:
    """One system over the benchmark pages: wall time, peak memory, text per page."""

    name: str
    command: str
    wall_s: float = 0.0
    peak_rss_kb: int = 0  # largest single process
    cpu_s: float = 0.0  # CPU time of every process it ran
    texts: list[str] = field(default_factory=list)
    skipped: str | None = None  # why it did not run
    extra: dict = field(default_factory=dict)


def tesseract_version(cmd: str = "tesseract") -> str:
    try:
        out = subprocess.run([cmd, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    first = (out.stdout or out.stderr).splitlines()
    return first[0].strip() if first else "unknown"


# A tiny parent for measuring one Tesseract: a child's peak resident set includes whatever its
# parent held when it forked, so Tesseract is forked from this ~10 MB interpreter, not from
# the benchmark process.
_PEAK_PROBE = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[1], sys.argv[1:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "sys.stderr.write(f'\\nPEAK_RSS_KB {usage.ru_maxrss}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def tesseract_peak_kb(images: list[Path], *, lang: str, cmd: str = "tesseract",
                      timeout: float = 300.0) -> int | None:
    """Peak memory of one Tesseract process on the largest of ``images`` (untimed)."""
    path = shutil.which(cmd)
    if path is None or not images:
        return None
    biggest = sorted(images, key=lambda p: p.stat().st_size, reverse=True)[:2]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    peaks = []
    for image in biggest:
        m = run_measured([sys.executable, "-S", "-c", _PEAK_PROBE, path, str(image), "stdout",
                          "-l", lang], timeout=timeout, env=env)
        for line in m.stderr.splitlines():
            if m.ok and line.startswith("PEAK_RSS_KB "):
                peaks.append(int(line.split()[1]))
    return max(peaks) if peaks else None


def run_tesseract_cli(images: list[Path], *, workers: int, lang: str, cmd: str = "tesseract",
                      timeout: float = 300.0) -> SystemRun:
    """``tesseract IMAGE stdout -l LANG`` with ``OMP_THREAD_LIMIT=1``, one process per core."""
    run = SystemRun("tesseract CLI", f"OMP_THREAD_LIMIT=1 {cmd} PAGE.png stdout -l {lang}"
                                     f" ({workers} at a time)")
    path = shutil.which(cmd)
    if path is None:
        run.skipped = f"`{cmd}` is not installed (Debian package tesseract-ocr)"
        return run
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(image: Path) -> Measured:
        return run_measured([path, str(image), "stdout", "-l", lang], timeout=timeout, env=env)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, images))
    run.wall_s = time.perf_counter() - t0
    failed = [r for r in results if not r.ok]
    if failed:
        run.skipped = f"{len(failed)} page(s) failed: {failed[0].describe_failure()}"
        return run
    run.peak_rss_kb = max(r.peak_rss_kb for r in results)
    run.cpu_s = sum(r.cpu_s for r in results)
    run.texts = [r.stdout.decode("utf-8", "replace") for r in results]
    return run


def ocrmypdf_missing(clean: bool) -> str | None:
    """Why OCRmyPDF cannot run here (everything missing, with what installs it), or None."""
    why = []
    if importlib.util.find_spec("ocrmypdf") is None or importlib.util.find_spec("img2pdf") is None:
        why.append("OCRmyPDF is not installed: `pip install -e \".[bench]\"` (or `make bench`)")
    if shutil.which("gs") is None:
        why.append("OCRmyPDF needs Ghostscript: `apt-get install ghostscript` "
                   "(deps/apt-bench.txt)")
    if clean and shutil.which("unpaper") is None:
        why.append("`--clean` needs unpaper: `apt-get install unpaper` (deps/apt-bench.txt)")
    return "; ".join(why) or None


def ocrmypdf_version() -> str:
    try:
        from importlib.metadata import version

        return version("ocrmypdf")
    except Exception:  # noqa: BLE001 - only used for the report's header
        return "not installed"


def build_pdf(images: list[Path], target: Path) -> None:
    """One image-only PDF of the page images, lossless, each page at its image's dpi."""
    import img2pdf

    with target.open("wb") as fh:
        fh.write(img2pdf.convert([str(p) for p in images]))


def run_ocrmypdf(pdf: Path, work: Path, *, pages: int, workers: int, lang: str,
                 clean: bool, timeout: float = 3600.0) -> SystemRun:
    """OCRmyPDF on the PDF of the page images, ``-j workers``, text from ``--sidecar``.

    PDF/A conversion and optimization are off (``--output-type pdf --optimize 0``): our
    pipeline writes no PDF either, so both sides do cleanup + OCR and little else.
    """
    flags = ["--deskew", "--clean"] if clean else []
    name = "OCRmyPDF --deskew --clean" if clean else "OCRmyPDF"
    out_pdf = work / ("ocrmypdf-clean.pdf" if clean else "ocrmypdf.pdf")
    sidecar = out_pdf.with_suffix(".txt")
    args = [sys.executable, "-m", "ocrmypdf", "-l", lang, "-j", str(workers),
            "--output-type", "pdf", "--optimize", "0", *flags, "--sidecar", str(sidecar),
            str(pdf), str(out_pdf)]
    shown = ["ocrmypdf", *args[3:-4], "--sidecar", "OUT.txt", "IN.pdf", "OUT.pdf"]
    run = SystemRun(name, " ".join(shown))
    missing = ocrmypdf_missing(clean)
    if missing:
        run.skipped = missing
        return run
    m = run_measured(args, timeout=timeout)
    if not m.ok:
        run.skipped = f"failed: {m.describe_failure()}"
        return run
    run.wall_s, run.peak_rss_kb = m.wall_s, m.peak_rss_kb
    texts = sidecar.read_text(encoding="utf-8", errors="replace").split("\f")
    run.texts = (texts + [""] * pages)[:pages]
    return run
