"""The one wrapper around the Tesseract command-line program.

Each call runs one single-threaded Tesseract (``OMP_THREAD_LIMIT=1``): parallelism comes from
running several pages at once, which is 3-4x faster per page than Tesseract's own threads.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from models.errors import MissingDependencyError, OcrEngineError
from models.ocr import Line, PageOCR, Word

__all__ = ["TesseractInfo", "check_tesseract", "recognize", "detect_orientation", "Orientation"]

log = logging.getLogger(__name__)

_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


@dataclass(frozen=True)
class TesseractInfo:
    path: str
    version: tuple[int, ...]
    languages: frozenset[str]


@lru_cache(maxsize=4)
def check_tesseract(cmd: str = "tesseract", lang: str = "vie+eng") -> TesseractInfo:
    """Check once per process that Tesseract 4+ and the wanted languages are installed."""
    path = shutil.which(cmd)
    if path is None:
        raise MissingDependencyError(f"the Tesseract program `{cmd}` is not installed")
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30,
                             env=_ENV)
        langs = subprocess.run([path, "--list-langs"], capture_output=True, text=True,
                               timeout=30, env=_ENV)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise MissingDependencyError(f"cannot run `{path}`: {e}") from e
    m = re.search(r"tesseract\s+v?(\d+)\.(\d+)(?:\.(\d+))?", out.stdout + out.stderr)
    if not m:
        raise MissingDependencyError(f"cannot tell the version of `{path}`")
    version = tuple(int(x) for x in m.groups() if x is not None)
    if version[0] < 4:
        raise MissingDependencyError(f"Tesseract {'.'.join(map(str, version))} is too old; "
                                     "version 4 or newer is needed")
    available = frozenset(ln.strip() for ln in langs.stdout.splitlines()[1:] if ln.strip())
    missing = [x for x in lang.split("+") if x not in available]
    if missing:
        raise MissingDependencyError(
            f"Tesseract has no language data for {', '.join(missing)}",
            hint="install tesseract-ocr-vie / tesseract-ocr-eng (`make setup`)")
    return TesseractInfo(path=path, version=version, languages=available)


def _run(args: list[str], image: np.ndarray, timeout: float) -> str:
    ok, png = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OcrEngineError("cannot encode the page image for Tesseract")
    try:
        proc = subprocess.run(args, input=png.tobytes(), capture_output=True, timeout=timeout,
                              env=_ENV)
    except subprocess.TimeoutExpired as e:
        raise OcrEngineError(f"Tesseract took longer than {timeout:.0f} s on one page",
                             hint="the page may be huge or garbage; rescan it") from e
    except OSError as e:
        raise OcrEngineError(f"cannot run Tesseract: {e}") from e
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise OcrEngineError(f"Tesseract failed (exit {proc.returncode}): {stderr.strip()[-500:]}")
    return proc.stdout.decode("utf-8", "replace")


def recognize(image: np.ndarray, *, lang: str = "vie+eng", psm: int = 3, dpi: int = 300,
              cmd: str = "tesseract", timeout: float = 180.0) -> PageOCR:
    """OCR one cleaned page: words with boxes and confidences, grouped in lines."""
    info = check_tesseract(cmd, lang)
    tsv = _run([info.path, "stdin", "stdout", "-l", lang, "--psm", str(psm), "--dpi", str(dpi),
                "-c", "tessedit_create_tsv=1", "-c", "tessedit_create_txt=0"], image, timeout)
    h, w = image.shape[:2]
    return parse_tsv(tsv, width=w, height=h, dpi=dpi)


def parse_tsv(tsv: str, *, width: int, height: int, dpi: int = 300) -> PageOCR:
    lines: dict[tuple[int, int, int], list[Word]] = {}
    reader = csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in reader:
        if row.get("level") != "5":
            continue
        text = (row.get("text") or "").strip()
        if not text:
            continue
        try:
            left, top = int(row["left"]), int(row["top"])
            right, bottom = left + int(row["width"]), top + int(row["height"])
            conf = max(0.0, min(1.0, float(row["conf"]) / 100.0))
            key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        except (KeyError, ValueError):
            continue
        lines.setdefault(key, []).append(Word(text=text, bbox=(left, top, right, bottom),
                                              confidence=conf))
    return PageOCR(width=width, height=height, dpi=dpi,
                   lines=[Line(words=ws, block=k[0]) for k, ws in lines.items()])


@dataclass(frozen=True)
class Orientation:
    rotate: int  # degrees to rotate the image clockwise to make text upright
    confidence: float


def detect_orientation(image: np.ndarray, *, cmd: str = "tesseract",
                       timeout: float = 60.0) -> Orientation:
    """Page orientation from Tesseract's OSD; pages with too little text count as upright."""
    info = check_tesseract(cmd, "osd")
    try:
        out = _run([info.path, "stdin", "stdout", "--psm", "0", "-l", "osd"], image, timeout)
    except OcrEngineError as e:
        # Tesseract exits non-zero on pages with too few characters for OSD: harmless.
        if "Too few characters" in str(e) or "Invalid resolution" in str(e):
            return Orientation(0, 0.0)
        raise
    rot = re.search(r"Rotate:\s*(\d+)", out)
    conf = re.search(r"Orientation confidence:\s*([\d.]+)", out)
    if not rot:
        return Orientation(0, 0.0)
    return Orientation(int(rot.group(1)) % 360, float(conf.group(1)) if conf else 0.0)
