"""OCR of a benchmark corpus, done once and kept beside it.

Training the field scorer and studying extraction need the OCR of hundreds of pages many
times over; OCR is what costs. Each page is read exactly as the pipeline reads it (cleanup,
Tesseract, codes) and its result kept as JSON under ``<corpus>/ocr/``; timing runs
(``dossier bench``) never use this cache.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.corpus import BenchDossier, Corpus
from models.ocr import PageOCR

__all__ = ["ocr_corpus"]

Progress = Callable[[str], None]


def _cache_path(corpus: Corpus, dossier: str, index: int) -> Path:
    return corpus.root / "ocr" / dossier / f"{index:03d}.json"


def ocr_corpus(corpus: Corpus, dossiers: list[BenchDossier], *, workers: int,
               lang: str = "vie+eng", progress: Progress | None = None
               ) -> dict[str, list[PageOCR]]:
    """The OCR of every page of ``dossiers``, by dossier name, reading only what is not cached."""
    from ocr.loading import Limits, load_page
    from ocr.pipeline import OcrOptions, ocr_loaded_page

    say = progress or (lambda _m: None)
    opts = OcrOptions(lang=lang)
    limits = Limits()
    todo = [(d, p) for d in dossiers for p in d.pages
            if not _cache_path(corpus, d.name, p.index).exists()]
    if todo:
        say(f"OCR of {len(todo)} pages not yet cached, {workers} at a time")

    def one(item: tuple[BenchDossier, object]) -> None:
        d, p = item
        loaded = load_page(p.image, 0, limits)
        page = ocr_loaded_page(loaded, opts, index=p.index).ocr
        target = _cache_path(corpus, d.name, p.index)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.part")
        tmp.write_text(json.dumps(page.export(), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, target)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, _ in enumerate(pool.map(one, todo), 1):
            if i % 25 == 0:
                say(f"  {i}/{len(todo)} pages read")
    out: dict[str, list[PageOCR]] = {}
    for d in dossiers:
        out[d.name] = [PageOCR.from_dict(json.loads(
            _cache_path(corpus, d.name, p.index).read_text(encoding="utf-8"))) for p in d.pages]
    return out
