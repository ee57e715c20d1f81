"""Does cleanup help? Character error rates of every page raw and after cleanup.

    python -m bench.cleanup_eval --split dev --pages 100 [--out FILE.json] [--worst 10]
                                 [--save-dir DIR] [--compare OLD.json] [--moved] [--no-plain]

For each page of a benchmark corpus (``bench.corpus``, generated and cached as ``dossier
bench`` does) it measures the character error rate of

- ``raw``: the bare ``tesseract PAGE.png stdout`` on the page image as loaded, exactly the
  baseline of ``dossier bench`` (read once and cached beside the corpus, under ``raw/``);
- ``cached``: the OCR cache of ``bench.ocr_cache`` if the corpus has one (the pipeline as it
  was when the cache was filled: a "before" for free);
- ``cleanup``: the pipeline as it is now (``ocr.pipeline.ocr_loaded_page``: cleanup,
  orientation, Tesseract), read in the OCR worker pool;
- ``plain`` (left out with ``--no-plain``): the same reader (the pipeline's Tesseract engine
  and reading order) on the page as loaded, with no cleanup at all: what cleanup itself
  changes is ``plain`` against ``cleanup``, apart from any difference between that engine and
  the bare ``tesseract`` (another Tesseract version, for one);
- ``moved`` (with ``--moved``): that reader on the uncleaned page moved by one pixel right
  and down: how much Tesseract's reading of a page changes when nothing but its position
  does, the floor under which "cleanup read this page worse" says nothing,

per degradation (a page counts under each of its degradations; ``clean`` is none), lists the
pages cleanup reads worse than raw and the worst pages with the steps cleanup took, and the
seconds per page of cleanup and OCR. ``--out`` keeps every page's figures as JSON, which
``--compare`` reads back to show what changed page by page. Tune on ``dev``; ``test`` is
only measured.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.corpus import BenchPage, Corpus, CorpusKey, ensure_corpus, select
from bench.scoring import ErrorCount, text_errors

__all__ = ["PageScore", "raw_texts", "cleanup_texts", "summarize", "main"]


@dataclass
class PageScore:
    """One page's figures: truth length and edits of each reading."""

    dossier: str
    index: int
    degradations: list[str]
    chars: int
    raw: int
    cleanup: int
    cached: int | None = None
    plain: int | None = None
    moved: int | None = None
    steps: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.dossier}/{self.index:03d}"


def raw_texts(corpus: Corpus, pages: list[BenchPage], *, workers: int, lang: str) -> list[str]:
    """Bare ``tesseract`` on each page image, as ``dossier bench``'s baseline; cached."""
    from bench.baselines import run_tesseract_cli

    def cache(p: BenchPage) -> Path:
        return corpus.root / "raw" / p.dossier / f"{p.index:03d}.{lang}.txt"

    todo = [p for p in pages if not cache(p).exists()]
    if todo:
        run = run_tesseract_cli([p.image for p in todo], workers=workers, lang=lang)
        if run.skipped:
            raise SystemExit(f"bare tesseract did not run: {run.skipped}")
        for p, text in zip(todo, run.texts, strict=True):
            cache(p).parent.mkdir(parents=True, exist_ok=True)
            cache(p).write_text(text, encoding="utf-8")
    return [cache(p).read_text(encoding="utf-8") for p in pages]


def _cached_texts(corpus: Corpus, pages: list[BenchPage]) -> list[str | None]:
    out: list[str | None] = []
    for p in pages:
        f = corpus.root / "ocr" / p.dossier / f"{p.index:03d}.json"
        if f.exists():
            from models.ocr import PageOCR

            out.append(PageOCR.from_dict(json.loads(f.read_text(encoding="utf-8"))).text)
        else:
            out.append(None)
    return out


class _Steps(logging.Handler):
    """Collects the steps ``ocr.cleanup.clean_page`` logs (at DEBUG) for the page being read."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.steps: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("cleanup steps:"):
            self.steps.append(record.getMessage().split(":", 1)[1].strip())


def _read_one(image: str, lang: str, save_dir: str | None, moved: bool = False,
              plain: bool = True) -> tuple[str, list[str], dict, str | None, str | None]:
    """One page through the pipeline, and (``plain``) through its reader alone, as it is and
    (``moved``) one pixel right and down (in a worker process)."""
    import cv2

    from ocr import tesseract
    from ocr.loading import Limits, load_page
    from ocr.order import reading_order
    from ocr.pipeline import OcrOptions, ocr_loaded_page

    os.environ["OMP_THREAD_LIMIT"] = "1"
    cv2.setNumThreads(1)
    handler = _Steps()
    logger = logging.getLogger("ocr.cleanup")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        t = time.perf_counter()
        page = load_page(Path(image), 0, Limits())
        load_s = time.perf_counter() - t
        result = ocr_loaded_page(page, OcrOptions(lang=lang, read_codes=False), index=0)
    finally:
        logger.removeHandler(handler)
    if save_dir and result.cleaned is not None:
        p = Path(image)
        cv2.imwrite(str(Path(save_dir) / f"{p.parent.name}-{p.stem}.png"), result.cleaned)
    gray = page.image if page.image.ndim == 2 else cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY)
    def read(img) -> str:
        page_ocr = tesseract.recognize(img, lang=lang, dpi=page.dpi or 300)
        page_ocr.lines = reading_order(page_ocr.lines)
        return page_ocr.text

    shifted = None
    if moved:
        shifted = read(cv2.copyMakeBorder(gray, 1, 0, 1, 0, cv2.BORDER_REPLICATE))
    return (result.ocr.text, handler.steps, {"load": load_s, **result.timings},
            read(gray) if plain else None, shifted)


def cleanup_texts(pages: list[BenchPage], *, workers: int, lang: str,
                  save_dir: Path | None = None, moved: bool = False,
                  plain: bool = True) -> list[tuple[str, list[str], dict, str | None, str | None]]:
    """Each page through the pipeline as it is now, and (``plain``) through its reader with
    no cleanup (``moved``: also one pixel right and down), ``workers`` processes at a time."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if save_dir:
        save_dir.mkdir(parents=True, exist_ok=True)
    args = [(str(p.image), lang, str(save_dir) if save_dir else None, moved, plain)
            for p in pages]
    if workers <= 1:
        return [_read_one(*a) for a in args]
    with ProcessPoolExecutor(max_workers=workers,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_read_one, *zip(*args, strict=True)))


def _rate(scores: list[PageScore], attr: str) -> float:
    chars = sum(s.chars for s in scores)
    edits = sum(getattr(s, attr) or 0 for s in scores)
    return edits / chars if chars else 0.0


def _page_line(s: PageScore) -> str:
    n = max(1, s.chars)
    plain = "" if s.plain is None else f"plain {100 * s.plain / n:5.1f}%  "
    return (f"  {s.key:<48} raw {100 * s.raw / n:5.1f}%  {plain}cleanup "
            f"{100 * s.cleanup / n:5.1f}%  {','.join(s.degradations)}  [{'; '.join(s.steps)}]")


def summarize(scores: list[PageScore], *, worst: int = 10) -> str:
    """The per-degradation table, pages made worse, worst pages and time per page."""
    have_cached = all(s.cached is not None for s in scores)
    groups: dict[str, list[PageScore]] = defaultdict(list)
    for s in scores:
        for d in s.degradations or ["clean"]:
            groups[d].append(s)
    have_plain = all(s.plain is not None for s in scores)
    cols = ["raw", *(["plain"] if have_plain else []), *(["cached"] if have_cached else []),
            "cleanup"]
    out = [f"{'degradation':<20} {'pages':>5} " + " ".join(f"{c:>8}" for c in cols)]
    order = sorted(groups, key=lambda k: (k != "clean", -len(groups[k]), k))
    for name in [*order, "overall"]:
        g = scores if name == "overall" else groups[name]
        flag = "  WORSE" if _rate(g, "cleanup") > _rate(g, "raw") else ""
        out.append(f"{name:<20} {len(g):>5} "
                   + " ".join(f"{100 * _rate(g, c):>7.1f}%" for c in cols) + flag)
    worse = [s for s in scores if s.cleanup > s.raw]
    out.append(f"\npages read worse after cleanup than raw: {len(worse)} of {len(scores)}")
    if have_plain:
        by_cleanup = [s for s in scores if s.cleanup > (s.plain or 0)]
        out.append(f"pages read worse after cleanup than by the same reader uncleaned (plain): "
                   f"{len(by_cleanup)} of {len(scores)}, by more than 2 % of their text: "
                   f"{sum(s.cleanup - (s.plain or 0) > 0.02 * s.chars for s in by_cleanup)}")
    if have_plain and all(s.moved is not None for s in scores):
        by_moving = [s for s in scores if (s.moved or 0) > (s.plain or 0)]
        out.append(f"pages the same reader reads worse only moved by one pixel: {len(by_moving)} "
                   f"of {len(scores)}, by more than 2 % of their text: "
                   f"{sum((s.moved or 0) - (s.plain or 0) > 0.02 * s.chars for s in by_moving)}")
    for s in sorted(worse, key=lambda s: (s.raw - s.cleanup) / max(1, s.chars))[:worst]:
        out.append(_page_line(s))
    out.append(f"\nworst pages after cleanup (of {len(scores)}):")
    for s in sorted(scores, key=lambda s: -s.cleanup / max(1, s.chars))[:worst]:
        out.append(_page_line(s))
    n = max(1, len(scores))
    stages = sorted({k for s in scores for k in s.timings})
    out.append("\nseconds per page: " + ", ".join(
        f"{k} {sum(s.timings.get(k, 0.0) for s in scores) / n:.2f}" for k in stages))
    return "\n".join(out)


def _compare(old: list[PageScore], new: list[PageScore]) -> str:
    before = {s.key: s for s in old}
    lines = ["\nchanged pages (cleanup edits, old -> new):"]
    for s in sorted(new, key=lambda s: s.cleanup - (before[s.key].cleanup
                                                     if s.key in before else s.cleanup)):
        o = before.get(s.key)
        if o is None or o.cleanup == s.cleanup:
            continue
        lines.append(f"  {s.key:<48} {100 * o.cleanup / max(1, s.chars):5.1f}% -> "
                     f"{100 * s.cleanup / max(1, s.chars):5.1f}%  {','.join(s.degradations)}  "
                     f"[{'; '.join(o.steps)}] -> [{'; '.join(s.steps)}]")
    common = [s for s in new if s.key in before]
    lines.append(f"overall on {len(common)} common pages: "
                 f"{100 * _rate([before[s.key] for s in common], 'cleanup'):.2f}% -> "
                 f"{100 * _rate(common, 'cleanup'):.2f}%")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cleanup_eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--degradation", default="mixed")
    ap.add_argument("--pages", type=int, default=100, help="whole dossiers up to this many pages")
    ap.add_argument("--skip-pages", type=int, default=0,
                    help="leave out the corpus's first dossiers holding this many pages")
    ap.add_argument("--data-dir", type=Path, default=Path(".dossier"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--lang", default="vie+eng")
    ap.add_argument("--out", type=Path, help="write every page's figures here (JSON)")
    ap.add_argument("--compare", type=Path, help="a previous --out to compare with page by page")
    ap.add_argument("--save-dir", type=Path, help="write each cleaned page here as PNG")
    ap.add_argument("--worst", type=int, default=10)
    ap.add_argument("--no-plain", action="store_true",
                    help="skip the reading of each uncleaned page (half the OCR; compare with "
                         "the OCR cache's 'cached' column or --compare instead)")
    ap.add_argument("--moved", action="store_true",
                    help="also read each uncleaned page moved by one pixel (Tesseract's own "
                         "variation, one more reading a page)")
    a = ap.parse_args(argv)
    if a.moved and a.no_plain:
        ap.error("--moved is measured against the plain reading: leave out --no-plain")

    key = CorpusKey(split=a.split, seed=a.seed, degradation=a.degradation)
    corpus = ensure_corpus(a.data_dir / "bench" / "corpora", key,
                           min_pages=a.pages + a.skip_pages, workers=a.workers,
                           progress=lambda m: print(m, file=sys.stderr))
    skipped = {d.name for d in select(corpus, a.skip_pages)} if a.skip_pages else set()
    chosen = [d for d in select(corpus, a.pages + a.skip_pages) if d.name not in skipped]
    pages = [p for d in chosen for p in d.pages]
    print(f"{len(pages)} pages of {corpus.root.name}", file=sys.stderr)
    raw = raw_texts(corpus, pages, workers=a.workers, lang=a.lang)
    cached = _cached_texts(corpus, pages)
    t0 = time.perf_counter()
    read = cleanup_texts(pages, workers=a.workers, lang=a.lang, save_dir=a.save_dir,
                         moved=a.moved, plain=not a.no_plain)
    wall = time.perf_counter() - t0
    scores = []
    for p, r, c, (text, steps, timings, plain, moved) in zip(pages, raw, cached, read,
                                                            strict=True):
        e_raw: ErrorCount = text_errors(p.truth_text, r)
        scores.append(PageScore(
            dossier=p.dossier, index=p.index, degradations=p.degradations, chars=e_raw.chars,
            raw=e_raw.char_edits, cleanup=text_errors(p.truth_text, text).char_edits,
            cached=None if c is None else text_errors(p.truth_text, c).char_edits,
            plain=None if plain is None else text_errors(p.truth_text, plain).char_edits,
            moved=None if moved is None else text_errors(p.truth_text, moved).char_edits,
            steps=steps, timings=timings))
    print(summarize(scores, worst=a.worst))
    print(f"wall {wall:.0f} s for {len(pages)} pages with {a.workers} workers")
    if a.compare:
        old = [PageScore(**x) for x in json.loads(a.compare.read_text(encoding="utf-8"))]
        print(_compare(old, scores))
    if a.out:
        a.out.write_text(json.dumps([asdict(s) for s in scores], indent=0), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
