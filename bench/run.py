"""``dossier bench``: accuracy, speed against the baselines, and scale, in one run.

Every figure in the report is measured in the run that writes it. The runs happen one after
another on the same page images and the same cores, never overlapping.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.baselines import (
    SystemRun,
    build_pdf,
    ocrmypdf_version,
    run_ocrmypdf,
    run_tesseract_cli,
    tesseract_peak_kb,
    tesseract_version,
)
from bench.corpus import BenchDossier, CorpusKey, ensure_corpus, select
from bench.measure import run_measured
from bench.scoring import ErrorCount, score_documents, text_errors
from models.errors import OcrEngineError
from models.records import ExtractedDocument

__all__ = ["BenchOptions", "BenchOutcome", "run_bench", "RESULTS_DIR"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
OURS = "our pipeline"


@dataclass
class BenchOptions:
    data_dir: Path = Path(".dossier")
    out_dir: Path = RESULTS_DIR
    split: str = "test"
    seed: int = 1
    degradation: str = "mixed"
    pages: int = 20  # the accuracy and side-by-side set: whole dossiers, at least this many pages
    scale: tuple[int, ...] = (10, 100)
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    lang: str = "vie+eng"
    tesseract_cmd: str = "tesseract"
    review_threshold: float | None = None  # None: the calibrated rule's own threshold
    doctypes_dir: Path | None = None
    baselines: bool = True
    command: str = "dossier bench"
    engine: str | None = None  # OCR engine of the pipeline; None: the default one
    compare_engines: bool = True  # also time the pipeline with the other OCR engine
    pdf_scale: tuple[int, ...] = ()  # page counts of one long scanned PDF read by `dossier ocr`


@dataclass
class BenchOutcome:
    report: Path
    markdown: str
    summary: dict


def _pipeline(dossiers: list[BenchDossier], opts: BenchOptions, work: Path, tag: str, *,
              collect: bool, engine: str | None = None) -> dict:
    """Our pipeline over the dossiers' page images, in a fresh process; timed from outside."""
    spec = {
        "engine": engine or opts.engine,
        "workers": opts.workers, "lang": opts.lang, "tesseract_cmd": opts.tesseract_cmd,
        "review_threshold": opts.review_threshold, "collect": collect,
        "doctypes": str(opts.doctypes_dir) if opts.doctypes_dir else None,
        "dossiers": [{"name": d.name, "pages": [{"image": str(p.image)} for p in d.pages]}
                     for d in dossiers],
    }
    spec_path, out_path = work / f"{tag}.spec.json", work / f"{tag}.result.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    m = run_measured([sys.executable, "-m", "bench.pipeline_run", str(spec_path), str(out_path)],
                     timeout=7200.0, cwd=Path(__file__).resolve().parent.parent)
    if not m.ok:
        raise OcrEngineError(f"the pipeline run on {sum(len(d.pages) for d in dossiers)} pages "
                         f"failed: {m.describe_failure()}")
    result = json.loads(out_path.read_text(encoding="utf-8"))
    result["wall_s"] = m.wall_s
    result["peak_rss_kb"] = m.peak_rss_kb
    result["n_pages"] = sum(len(d.pages) for d in dossiers)
    result["n_dossiers"] = len(dossiers)
    return result


def _trust(dossiers: list[BenchDossier], result: dict, opts: BenchOptions) -> dict:
    """Calibration and auto-accept figures per field type (``bench.trust``)."""
    from bench.trust import field_types, scored_fields, straight_through, trust_figures
    from extraction import load_doctypes
    from extraction.confidence import load_calibrator

    types = field_types(load_doctypes(opts.doctypes_dir))
    items = []
    runs = []
    for d, out in zip(dossiers, result["dossiers"], strict=True):
        predicted = [ExtractedDocument.model_validate(x) for x in out.get("documents", [])]
        runs.append((d, predicted))
        items.extend(scored_fields(d.truth["documents"], predicted, types, d.name))
    cal = load_calibrator()
    threshold = opts.review_threshold if opts.review_threshold is not None else (
        cal.threshold if cal else None)
    fig = trust_figures(items, threshold)
    fig["straight_through"] = straight_through(runs, items)
    return fig


def _text_scores(dossiers: list[BenchDossier], systems: dict[str, list[str]]) -> dict:
    pages = [p for d in dossiers for p in d.pages]
    overall: dict[str, ErrorCount] = {}
    by_deg: dict[str, dict[str, ErrorCount]] = defaultdict(dict)
    for name, texts in systems.items():
        total = ErrorCount()
        for page, text in zip(pages, texts, strict=True):
            e = text_errors(page.truth_text, text)
            total.add(e)
            for deg in page.degradations or ["clean"]:
                by_deg[deg].setdefault(name, ErrorCount()).add(e)
        overall[name] = total

    def dump(e: ErrorCount) -> dict:
        return {"pages": e.pages, "chars": e.chars, "cer": e.cer, "wer": e.wer}

    order = sorted(by_deg, key=lambda k: (k != "clean", -next(iter(by_deg[k].values())).pages, k))
    return {"overall": {k: dump(v) for k, v in overall.items()},
            "by_degradation": {k: {s: dump(e) for s, e in by_deg[k].items()} for k in order}}


def _stage_split(result: dict) -> dict:
    sums: Counter = Counter()
    for p in result["pages"]:
        for k, v in p["timings"].items():
            sums[k] += v
    sums["extraction"] = sum(d.get("extract_s", 0.0) for d in result["dossiers"])
    total = sum(sums.values())
    n = max(1, result["n_pages"])
    return {k: {"seconds": v, "per_page_s": v / n, "share": v / total if total else 0.0}
            for k, v in sums.items()}


def _system_row(run: SystemRun, pages: int) -> dict:
    return {"name": run.name, "command": run.command, "skipped": run.skipped,
            "wall_s": run.wall_s, "pages_per_min": pages * 60.0 / run.wall_s if run.wall_s else None,
            "peak_rss_mb": run.peak_rss_kb / 1024.0, **run.extra}


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10, cwd=root).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return sha or "unknown"


def _memory_total_gb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


# -- the OCR worker pool: baselines check, engines side by side, memory per worker ---------

def require_baselines(opts: BenchOptions) -> None:
    """Stop at once, with the command that installs them, when the baselines are missing."""
    from bench.baselines import ocrmypdf_missing
    from models.errors import MissingDependencyError

    if not opts.baselines:
        return
    why = [m for m in (ocrmypdf_missing(clean=True),) if m]
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        why.append("matplotlib (the report's plots) is not installed")
    if why:
        raise MissingDependencyError(
            "the benchmark's baselines are not installed: " + "; ".join(why),
            hint="install them with `make bench` (runs `bash scripts/setup.sh --bench`), "
                 "or run `dossier bench --no-baselines`")


def _worker_memory(res: dict) -> dict:
    """Peak resident memory of the largest OCR worker process, and of the parent."""
    return {"worker_peak_mb": res.get("child_peak_rss_kb", 0) / 1024.0,
            "parent_peak_mb": res.get("self_peak_rss_kb", 0) / 1024.0}


def _engine_comparison(dossiers: list[BenchDossier], opts: BenchOptions, work: Path,
                       ours: dict, say: Progress) -> list[dict]:
    """The pipeline with each OCR engine on the same pages: the default one (already run)
    and the other, so the default can be kept the faster."""
    from ocr.tesseract import ENGINES

    n = ours["n_pages"]
    rows = [{"engine": ours.get("engine"), "wall_s": ours["wall_s"],
             "pages_per_min": n * 60.0 / ours["wall_s"], **_worker_memory(ours)}]
    if not opts.compare_engines:
        return rows
    for other in (e for e in ENGINES if e != ours.get("engine")):
        say(f"our pipeline with the {other} OCR engine on the same {n} pages")
        res = _pipeline(dossiers, opts, work, f"engine-{other}", collect=True, engine=other)
        truth = [p.truth_text for d in dossiers for p in d.pages]
        errs = ErrorCount()
        for t, p in zip(truth, res["pages"], strict=True):
            errs.add(text_errors(t, p["text"]))
        rows.append({"engine": res.get("engine"), "wall_s": res["wall_s"],
                     "pages_per_min": n * 60.0 / res["wall_s"], "cer": errs.cer,
                     **_worker_memory(res)})
    return rows


def _long_pdf(corpus, opts: BenchOptions, bench_dir: Path, work: Path, pages: int,
              say: Progress) -> dict:
    """One scanned PDF of ``pages`` pages (the corpus's page images in turn) read by the OCR
    pool one page at a time, in a fresh process: wall time and peak memory."""
    from bench.long_pdf import build_long_pdf

    images = [(p.image, p.dpi) for p in corpus.pages[:40]]
    pdf = build_long_pdf(images, pages, bench_dir / "long" / f"{corpus.root.name}-{pages}.pdf")
    say(f"long PDF: {pages} pages through the OCR pool, one page at a time")
    spec_path, out_path = work / f"long-{pages}.spec.json", work / f"long-{pages}.result.json"
    spec_path.write_text(json.dumps({"pdf": str(pdf.resolve()), "workers": opts.workers,
                                     "lang": opts.lang, "engine": opts.engine,
                                     "tesseract_cmd": opts.tesseract_cmd}), encoding="utf-8")
    m = run_measured([sys.executable, "-m", "bench.long_pdf", str(spec_path), str(out_path)],
                     timeout=4 * 3600.0, cwd=Path(__file__).resolve().parent.parent)
    if not m.ok:
        raise OcrEngineError(f"the long-PDF run on {pages} pages failed: "
                             f"{m.describe_failure()}")
    res = json.loads(out_path.read_text(encoding="utf-8"))
    return {"pages": res["pages"], "chars": res["chars"], "file_mb": pdf.stat().st_size / 2**20,
            "wall_s": m.wall_s, "pages_per_min": res["pages"] * 60.0 / m.wall_s,
            "worker_peak_mb": res["worker_peak_kb"] / 1024.0,
            "parent_peak_mb": res["parent_peak_kb"] / 1024.0}


def run_bench(opts: BenchOptions, progress: Progress | None = None) -> BenchOutcome:
    """Run the whole benchmark and write the report; returns where it went and its text."""
    from bench.report import write_report
    from extraction import load_doctypes
    from ocr.tesseract import check_tesseract

    say = progress or (lambda _m: None)
    check_tesseract(opts.tesseract_cmd, opts.lang)
    require_baselines(opts)
    defined = {d.id for d in load_doctypes(opts.doctypes_dir)}
    started = datetime.now().astimezone()
    bench_dir = opts.data_dir / "bench"
    key = CorpusKey(split=opts.split, seed=opts.seed, degradation=opts.degradation)
    need = max([opts.pages, *opts.scale])
    corpus = ensure_corpus(bench_dir / "corpora", key, min_pages=need, workers=opts.workers,
                           progress=say)
    main = select(corpus, opts.pages)
    images = [p.image for d in main for p in d.pages]
    n = len(images)
    (bench_dir / "work").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=bench_dir / "work"))
    try:
        # Untimed: the first Tesseract reads its language data from disk; later ones from cache.
        run_measured([opts.tesseract_cmd, str(images[0]), "stdout", "-l", opts.lang],
                     timeout=300.0)
        say(f"our pipeline on {n} pages ({len(main)} dossiers), {opts.workers} workers")
        ours = _pipeline(main, opts, work, "main", collect=True)
        runs: list[SystemRun] = []
        say(f"bare tesseract on the same {n} pages")
        runs.append(run_tesseract_cli(images, workers=opts.workers, lang=opts.lang,
                                      cmd=opts.tesseract_cmd))
        tess_peak = tesseract_peak_kb(images, lang=opts.lang, cmd=opts.tesseract_cmd)
        if tess_peak and not runs[-1].skipped:
            runs[-1].peak_rss_kb = tess_peak  # its own peak, not its forked parent's
        if opts.baselines:
            pdf = work / "pages.pdf"
            build_pdf(images, pdf)
            for clean in (False, True):
                say(f"OCRmyPDF{' --deskew --clean' if clean else ''} on the same {n} pages")
                runs.append(run_ocrmypdf(pdf, work, pages=n, workers=opts.workers,
                                         lang=opts.lang, clean=clean))
        for r in runs:
            if r.skipped:
                say(f"skipped {r.name}: {r.skipped}")
        scale = []
        for k in opts.scale:
            chosen = select(corpus, k)
            say(f"scale: our pipeline on {sum(len(d.pages) for d in chosen)} pages")
            res = _pipeline(chosen, opts, work, f"scale-{k}", collect=False)
            scale.append({"requested": k, "pages": res["n_pages"], "dossiers": res["n_dossiers"],
                          "wall_s": res["wall_s"], "startup_s": res["startup_s"],
                          "pages_per_min": res["n_pages"] * 60.0 / res["wall_s"],
                          "process_peak_mb": res["self_peak_rss_kb"] / 1024.0,
                          "stages": _stage_split(res), **_worker_memory(res)})
        engines = _engine_comparison(main, opts, work, ours, say)
        long_pdf = [_long_pdf(corpus, opts, bench_dir, work, k, say) for k in opts.pdf_scale]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    texts = {f"{OURS} (cleanup)": [p["text"] for p in ours["pages"]]}
    raw = next((r for r in runs if r.name == "tesseract CLI" and not r.skipped), None)
    if raw:
        texts = {"tesseract CLI (no cleanup)": raw.texts, **texts}
    for r in runs:
        if r.name.startswith("OCRmyPDF") and not r.skipped:
            texts[r.name] = r.texts
    ours_row = {"name": OURS, "command": f"dossier pipeline: cleanup + OCR + extraction, "
                                         f"{opts.workers} worker processes",
                "skipped": None, "wall_s": ours["wall_s"],
                "pages_per_min": n * 60.0 / ours["wall_s"],
                "peak_rss_mb": ours["peak_rss_kb"] / 1024.0}
    systems = [ours_row, *[_system_row(r, n) for r in runs]]
    for s in systems:
        s["ours_speedup"] = (ours_row["pages_per_min"] / s["pages_per_min"]
                             if s["pages_per_min"] else None)
    docs = score_documents(main, ours, defined)
    docs["review"]["threshold"] = opts.review_threshold
    summary = {
        "started": started.isoformat(timespec="seconds"),
        "command": opts.command,
        "corpus": {"split": opts.split, "seed": opts.seed, "degradation": opts.degradation,
                   "dossiers": len(main), "pages": n, "cache": str(corpus.root),
                   "containers": dict(Counter(d.container for d in main)),
                   "doctypes": dict(Counter(t["doctype"] for d in main
                                            for t in d.truth["documents"]))},
        "machine": {"cores": os.cpu_count(), "workers": opts.workers,
                    "memory_gb": _memory_total_gb(), "python": platform.python_version(),
                    "tesseract": tesseract_version(opts.tesseract_cmd),
                    "ocrmypdf": ocrmypdf_version(), "commit": _git_commit(),
                    "lang": opts.lang},
        "ocr": _text_scores(main, texts),
        "documents": docs,
        "trust": _trust(main, ours, opts),
        "speed": {"pages": n, "systems": systems,
                  "pipeline": {"startup_s": ours["startup_s"],
                               "processing_s": ours["processing_s"],
                               "process_peak_mb": ours["self_peak_rss_kb"] / 1024.0,
                               "tesseract_peak_mb": tess_peak / 1024.0 if tess_peak else None},
                  "stages": _stage_split(ours)},
        "scale": scale,
        "long_pdf": long_pdf,
        "ocr_pool": {"engine": ours.get("engine"), "engines": engines, **_worker_memory(ours)},
    }
    stamp = started.strftime("%Y-%m-%d-%H%M")
    target = opts.out_dir / f"{stamp}-{opts.split}"
    report, markdown = write_report(summary, target)
    say(f"report written to {report}")
    return BenchOutcome(report=report, markdown=markdown, summary=summary)
