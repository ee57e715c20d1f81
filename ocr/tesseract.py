"""The one wrapper around Tesseract, with two interchangeable engines.

- ``tesserocr`` (the default): Tesseract's C++ API in this process, through the ``tesserocr``
  wheel (which bundles Tesseract 5.5). The language models are loaded once per process and
  kept, so a page costs only its recognition: the command-line program spends about a
  quarter of an A4 page's time starting and loading ``vie+eng`` again for every page.
- ``cli``: the ``tesseract`` program, one process per page, through ``pytesseract``.

Both run one Tesseract thread (``OMP_THREAD_LIMIT=1``): parallelism comes from several pages
at once in a pool of processes (:mod:`ocr.pool`), 3-4x faster per page than Tesseract's own
threads. Both return the same :class:`PageOCR` tree; neither parses Tesseract's text output
by hand.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from models.errors import MissingDependencyError, OcrEngineError
from models.ocr import Line, PageOCR, Word

__all__ = ["ENGINES", "TesseractInfo", "check_tesseract", "check_engine", "recognize",
           "detect_orientation", "Orientation", "default_engine", "preload",
           "loaded_languages"]

log = logging.getLogger(__name__)

ENGINES = ("tesserocr", "cli")

_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}

# Tesseract reads a line a second time, inverted, when its first reading is unsure: a help
# for white text on dark ground, which these documents do not print. On the dev split the
# second readings cost as much as they saved and replaced more good text than bad (character
# error rate 12.1 % with them, 11.4 % without, 24 pages), so they are off in both engines.
VARIABLES = {"tessedit_do_invert": "0"}


@dataclass(frozen=True)
class TesseractInfo:
    path: str
    version: tuple[int, ...]
    languages: frozenset[str]
    tessdata: str | None = None  # the folder the language data was found in


@lru_cache(maxsize=4)
def check_tesseract(cmd: str = "tesseract", lang: str = "vie+eng") -> TesseractInfo:
    """Check once per process that Tesseract 4+ and the wanted languages are installed."""
    path = shutil.which(cmd)
    if path is None:
        raise MissingDependencyError(f"the Tesseract program `{cmd}` is not installed",
                                     hint="install tesseract-ocr (`make setup`)")
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
    listing = langs.stdout.splitlines()
    available = frozenset(ln.strip() for ln in listing[1:] if ln.strip())
    missing = [x for x in lang.split("+") if x not in available]
    if missing:
        raise MissingDependencyError(
            f"Tesseract has no language data for {', '.join(missing)}",
            hint="install tesseract-ocr-vie / tesseract-ocr-eng (`make setup`)")
    # "List of available languages in "/usr/share/tesseract-ocr/5/tessdata/" (3):"
    where = re.search(r'"([^"]+)"', listing[0]) if listing else None
    return TesseractInfo(path=path, version=version, languages=available,
                         tessdata=where.group(1) if where else None)


def default_engine() -> str:
    """``tesserocr`` when its wheel is installed, else the command-line program."""
    import importlib.util

    return "tesserocr" if importlib.util.find_spec("tesserocr") is not None else "cli"


@lru_cache(maxsize=8)
def check_engine(engine: str, cmd: str = "tesseract", lang: str = "vie+eng") -> str:
    """Check that ``engine`` can read ``lang``; returns the tessdata folder it will use."""
    if engine not in ENGINES:
        raise MissingDependencyError(f"unknown OCR engine {engine!r}",
                                     hint=f"use one of {', '.join(ENGINES)}")
    info = check_tesseract(cmd, lang)
    if engine == "cli":
        return info.tessdata or ""
    try:
        import tesserocr  # noqa: F401
    except ImportError as e:
        raise MissingDependencyError(
            "the OCR engine `tesserocr` is not installed",
            hint="reinstall the project (`make setup`), or set DOSSIER_OCR_ENGINE=cli") from e
    tessdata = os.environ.get("TESSDATA_PREFIX") or info.tessdata
    if not tessdata or not all((Path(tessdata) / f"{x}.traineddata").is_file()
                               for x in lang.split("+")):
        raise MissingDependencyError(
            f"no Tesseract language data for {lang} found for tesserocr (looked in {tessdata})",
            hint="install tesseract-ocr-vie / tesseract-ocr-eng, or set TESSDATA_PREFIX")
    return tessdata


# -- tesserocr: models loaded once per process (and per thread: an API is not thread-safe) --

_apis = threading.local()


def _api(tessdata: str, lang: str, psm: int):
    import tesserocr

    cache: dict = getattr(_apis, "cache", None) or {}
    _apis.cache = cache
    key = (tessdata, lang)
    api = cache.get(key)
    if api is None:
        try:
            api = tesserocr.PyTessBaseAPI(path=tessdata, lang=lang, psm=psm,
                                          oem=tesserocr.OEM.DEFAULT)
        except RuntimeError as e:
            raise OcrEngineError(f"tesserocr cannot load {lang} from {tessdata}: {e}") from e
        for name, value in VARIABLES.items():
            api.SetVariable(name, value)
        cache[key] = api
    api.SetPageSegMode(psm)
    return api


def preload(tessdata: str, lang: str, psm: int = 3) -> None:
    """Load ``lang``'s models into this thread's API now (a worker's warm-up)."""
    _api(tessdata, lang, psm)


def loaded_languages() -> list[str]:
    """The language sets whose models this thread's tesserocr engine holds."""
    return sorted(lang for _, lang in (getattr(_apis, "cache", None) or {}))


def _set_image(api, image: np.ndarray, dpi: int) -> None:
    gray = np.ascontiguousarray(image)
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise OcrEngineError("the OCR engine takes 8-bit grayscale pages")
    h, w = gray.shape
    api.SetImageBytes(gray.tobytes(), w, h, 1, w)
    api.SetSourceResolution(int(dpi))


def _recognize_tesserocr(image: np.ndarray, *, lang: str, psm: int, dpi: int,
                         tessdata: str) -> PageOCR:
    import tesserocr
    from tesserocr import RIL

    api = _api(tessdata, lang, psm)
    _set_image(api, image, dpi)
    try:
        if api.Recognize() is False:
            raise OcrEngineError("Tesseract could not recognize the page")
        lines: list[Line] = []
        words: list[Word] = []
        block = line_block = 0
        it = api.GetIterator()
        if it is not None:
            for r in tesserocr.iterate_level(it, RIL.WORD):
                if r.IsAtBeginningOf(RIL.BLOCK):
                    block += 1
                if r.IsAtBeginningOf(RIL.TEXTLINE) and words:
                    lines.append(Line(words=words, block=line_block))
                    words = []
                if not words:
                    line_block = block
                try:
                    text = (r.GetUTF8Text(RIL.WORD) or "").strip()
                except RuntimeError:  # tesserocr's word without text: nothing to keep
                    continue
                box = r.BoundingBox(RIL.WORD)
                if not text or box is None:
                    continue
                conf = max(0.0, min(1.0, r.Confidence(RIL.WORD) / 100.0))
                words.append(Word(text=text, bbox=tuple(int(v) for v in box), confidence=conf))
            if words:
                lines.append(Line(words=words, block=line_block))
    finally:
        api.Clear()
    h, w = image.shape[:2]
    return PageOCR(width=w, height=h, dpi=dpi, lines=lines)


# -- the command-line program, through pytesseract -----------------------------------------

def _pytesseract(cmd: str):
    import pytesseract

    info = check_tesseract(cmd)
    pytesseract.pytesseract.tesseract_cmd = info.path
    # pytesseract starts Tesseract with this process's environment.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    return pytesseract


def _cli_call(fn, timeout: float):
    import pytesseract

    try:
        return fn()
    except RuntimeError as e:
        if "timeout" in str(e).lower():
            raise OcrEngineError(f"Tesseract took longer than {timeout:.0f} s on one page",
                                 hint="the page may be huge or garbage; rescan it") from e
        raise OcrEngineError(f"Tesseract failed: {e}") from e
    except pytesseract.TesseractError as e:
        raise OcrEngineError(f"Tesseract failed (exit {e.status}): {str(e.message)[-500:]}",
                             ) from e
    except OSError as e:
        raise OcrEngineError(f"cannot run Tesseract: {e}") from e


def _recognize_cli(image: np.ndarray, *, lang: str, psm: int, dpi: int, cmd: str,
                   timeout: float) -> PageOCR:
    pt = _pytesseract(cmd)
    data = _cli_call(lambda: pt.image_to_data(image, lang=lang,
                                              config=f"--psm {psm} --dpi {dpi} " + " ".join(
                                                  f"-c {k}={v}" for k, v in VARIABLES.items()),
                                              output_type=pt.Output.DICT, timeout=timeout),
                     timeout)
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    for i, level in enumerate(data["level"]):
        text = str(data["text"][i]).strip()
        if int(level) != 5 or not text:
            continue
        left, top = int(data["left"][i]), int(data["top"][i])
        box = (left, top, left + int(data["width"][i]), top + int(data["height"][i]))
        conf = max(0.0, min(1.0, float(data["conf"][i]) / 100.0))
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        grouped.setdefault(key, []).append(Word(text=text, bbox=box, confidence=conf))
    h, w = image.shape[:2]
    return PageOCR(width=w, height=h, dpi=dpi,
                   lines=[Line(words=ws, block=k[0]) for k, ws in grouped.items()])


def recognize(image: np.ndarray, *, lang: str = "vie+eng", psm: int = 3, dpi: int = 300,
              cmd: str = "tesseract", timeout: float = 180.0,
              engine: str | None = None) -> PageOCR:
    """OCR one cleaned grayscale page: words with boxes and confidences, grouped in lines."""
    engine = engine or default_engine()
    tessdata = check_engine(engine, cmd, lang)
    if engine == "tesserocr":
        return _recognize_tesserocr(image, lang=lang, psm=psm, dpi=dpi, tessdata=tessdata)
    return _recognize_cli(image, lang=lang, psm=psm, dpi=dpi, cmd=cmd, timeout=timeout)


@dataclass(frozen=True)
class Orientation:
    rotate: int  # degrees to rotate the image clockwise to make text upright
    confidence: float


def detect_orientation(image: np.ndarray, *, cmd: str = "tesseract", timeout: float = 60.0,
                       engine: str | None = None) -> Orientation:
    """Page orientation from Tesseract's OSD; pages with too little text count as upright."""
    engine = engine or default_engine()
    tessdata = check_engine(engine, cmd, "osd")
    if engine == "tesserocr":
        from tesserocr import PSM

        api = _api(tessdata, "osd", int(PSM.OSD_ONLY))
        _set_image(api, image, 300)
        try:
            found = api.DetectOrientationScript()
        finally:
            api.Clear()
        if not found:
            return Orientation(0, 0.0)
        # orient_deg is how far the page is turned clockwise; undoing it is the rest of 360.
        return Orientation((360 - int(found["orient_deg"])) % 360, float(found["orient_conf"]))
    pt = _pytesseract(cmd)
    try:
        found = _cli_call(lambda: pt.image_to_osd(image, config="--psm 0", timeout=timeout,
                                                  output_type=pt.Output.DICT), timeout)
    except OcrEngineError as e:
        # Tesseract exits non-zero on pages with too few characters for OSD: harmless.
        if "Too few characters" in str(e) or "Invalid resolution" in str(e):
            return Orientation(0, 0.0)
        raise
    return Orientation(int(found.get("rotate", 0)) % 360,
                       float(found.get("orientation_conf", 0.0)))
