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
from threading import Lock

from bench.corpus import BenchDossier, Corpus
from models.ocr import Limits, PageOCR

__all__ = ["ocr_corpus", "CorpusLines"]

Progress = Callable[[str], None]


def _cache_path(corpus: Corpus, dossier: str, index: int) -> Path:
    return corpus.root / "ocr" / dossier / f"{index:03d}.json"


def ocr_corpus(corpus: Corpus, dossiers: list[BenchDossier], *, workers: int,
               lang: str = "vie+eng", progress: Progress | None = None
               ) -> dict[str, list[PageOCR]]:
    """The OCR of every page of ``dossiers``, by dossier name, reading only what is not cached."""
    from ocr.loading import load_page
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


class CorpusLines:
    """Second readings of values' lines on a corpus's pages (``ocr.reread``), as the
    pipeline makes them on the cleaned page, kept in ``<corpus>/ocr/reread.json``."""

    def __init__(self, corpus: Corpus, dossiers: list[BenchDossier],
                 ocr: dict[str, list[PageOCR]], lang: str = "vie+eng") -> None:
        self.path = corpus.root / "ocr" / "reread.json"
        self.cache: dict[str, list[str]] = (
            json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {})
        self.dossiers = {d.name: d for d in dossiers}
        self.ocr = ocr
        self.lang = lang
        self.added = 0
        self._lock = Lock()
        self._cleaned: dict[tuple[str, int], bytes] = {}

    def reader(self, dossier: str):
        """A ``LineReader`` over one dossier's pages."""
        return lambda page, boxes: self.read(dossier, page, boxes)

    def read(self, dossier: str, page: int, boxes: list) -> list[str] | None:
        from models.ocr import OcrOptions
        from ocr.reread import read_lines

        key = f"{dossier}/{page}/" + ";".join(",".join(str(v) for v in b) for b in boxes)
        if key in self.cache:
            return self.cache[key]
        pages = self.ocr.get(dossier, [])
        if not 0 <= page < len(pages):
            return None
        texts = read_lines(self._image(dossier, page), boxes, dpi=pages[page].dpi or 300,
                           opts=OcrOptions(lang=self.lang))
        with self._lock:
            self.cache[key] = texts
            self.added += 1
        return texts

    def _image(self, dossier: str, page: int) -> bytes:
        """The page cleaned as the pipeline cleaned it (the same turn, so the same boxes),
        and kept as the pipeline keeps it (``ocr.searchable.page_jpeg``): what the flow
        reads lines again from."""
        from ocr.cleanup import clean_page
        from ocr.loading import load_page
        from ocr.searchable import page_jpeg

        with self._lock:
            img = self._cleaned.get((dossier, page))
        if img is not None:
            return img
        first = self.ocr[dossier][page]
        loaded = load_page(self.dossiers[dossier].pages[page].image, 0, Limits())
        img = page_jpeg(clean_page(loaded.image, dpi_hint=loaded.dpi,
                                   orientation=lambda _g: first.rotation).image)
        with self._lock:
            if len(self._cleaned) >= 8:
                self._cleaned.pop(next(iter(self._cleaned)))
            self._cleaned[(dossier, page)] = img
        return img

    def save(self) -> None:
        if not self.added:
            return
        tmp = self.path.with_suffix(f".{os.getpid()}.part")
        tmp.write_text(json.dumps(self.cache, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)
        self.added = 0
