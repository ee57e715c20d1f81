"""The benchmark corpus: generated dossiers with truth, cached under the data dir.

A corpus is keyed by the generator's arguments except the number of dossiers: dossier ``i``
depends only on (split, seed, i), so a larger run reuses every dossier a smaller one made and
only generates the rest. Each page is also decoded once, the way the pipeline loads it (PDFs
rendered at the pipeline's dpi), and kept as a PNG: every system under test reads these same
page images.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["CorpusKey", "BenchPage", "BenchDossier", "Corpus", "ensure_corpus", "select"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CorpusKey:
    split: str = "test"
    seed: int = 1
    degradation: str = "mixed"
    doctypes: tuple[str, ...] = ()  # empty: all
    containers: tuple[str, ...] = ()  # empty: all

    def dirname(self) -> str:
        extra = ""
        if self.doctypes or self.containers:
            h = hashlib.sha256(json.dumps([self.doctypes, self.containers]).encode()).hexdigest()
            extra = "-" + h[:10]
        from sample_scans.generator.corpus import GENERATOR_VERSION

        return f"{self.split}-seed{self.seed}-{self.degradation}{extra}-g{GENERATOR_VERSION}"


@dataclass
class BenchPage:
    dossier: str
    index: int  # page index within the dossier
    image: Path  # the decoded page as PNG, with its dpi recorded
    dpi: int
    truth_text: str
    degradations: list[str]


@dataclass
class BenchDossier:
    name: str
    container: str
    truth: dict
    pages: list[BenchPage] = field(default_factory=list)


@dataclass
class Corpus:
    root: Path
    key: CorpusKey
    dossiers: list[BenchDossier]

    @property
    def pages(self) -> list[BenchPage]:
        return [p for d in self.dossiers for p in d.pages]


def _generate_one(out_dir: str, index: int, key: CorpusKey) -> dict:
    from sample_scans.generator import DOCTYPES, generate_dossier, plan_dossier

    spec = plan_dossier(index, seed=key.seed, split=key.split,
                        doctypes=list(key.doctypes or DOCTYPES),
                        containers=list(key.containers) or _all_containers(),
                        degradation=key.degradation)
    entry = generate_dossier(Path(out_dir), spec)
    entry["index"] = index
    return entry


def _all_containers() -> list[str]:
    from sample_scans.generator import CONTAINERS

    return list(CONTAINERS)


def _page_sources(root: Path, truth: dict) -> list[tuple[Path, int]]:
    name = truth["dossier"]
    if truth["container"] == "folder":
        return [(root / name / p["file"], 0) for p in truth["pages"]]
    return [(root / name, p["index"]) for p in truth["pages"]]


def _decode_pages(root: str, truth_name: str, pdf_dpi: int) -> list[tuple[str, int]]:
    """Decode every page of one dossier as the pipeline does; write each as a PNG."""
    from ocr.loading import Limits, load_page

    rootp = Path(root)
    truth = json.loads((rootp / truth_name).read_text(encoding="utf-8"))
    out_dir = rootp / "pages" / truth["dossier"]
    out_dir.mkdir(parents=True, exist_ok=True)
    limits = Limits(pdf_render_dpi=pdf_dpi)
    written = []
    for (src, idx), page in zip(_page_sources(rootp, truth), truth["pages"], strict=True):
        target = out_dir / f"{page['index']:03d}.png"
        loaded = load_page(src, idx, limits)
        dpi = int(loaded.dpi or page.get("dpi") or 300)
        img = loaded.image
        if np.array_equal(img[:, :, 0], img[:, :, 1]) and np.array_equal(img[:, :, 1], img[:, :, 2]):
            pil = Image.fromarray(img[:, :, 0])
        else:
            pil = Image.fromarray(np.ascontiguousarray(img[:, :, ::-1]))
        tmp = target.with_suffix(f".{os.getpid()}.part")
        pil.save(tmp, "PNG", dpi=(dpi, dpi), compress_level=3)
        os.replace(tmp, target)
        written.append((str(target), dpi))
    (out_dir / "done.json").write_text(json.dumps(written), encoding="utf-8")
    return written


def ensure_corpus(cache_dir: Path, key: CorpusKey, *, min_pages: int, workers: int,
                  pdf_dpi: int = 300, progress: Progress | None = None) -> Corpus:
    """The first dossiers of the corpus ``key`` holding at least ``min_pages`` pages,
    generating and decoding only what the cache does not have yet."""
    say = progress or (lambda _m: None)
    root = cache_dir / key.dirname()
    entries_dir = root / "entries"
    entries_dir.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    index = 0
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        while sum(e["pages"] for e in entries) < min_pages:
            cached = entries_dir / f"{index:05d}.json"
            if cached.exists():
                entries.append(json.loads(cached.read_text(encoding="utf-8")))
                index += 1
                continue
            # Generate a batch ahead, in parallel; the generator is deterministic per index.
            have = sum(e["pages"] for e in entries)
            batch = max(workers * 2, int((min_pages - have) / 2.2) + 1)
            say(f"generating dossiers {index}..{index + batch - 1} into {root}")
            futures = [pool.submit(_generate_one, str(root), i, key)
                       for i in range(index, index + batch)]
            for fut in futures:
                entry = fut.result()
                tmp = entries_dir / f"{entry['index']:05d}.json.part"
                tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
                os.replace(tmp, entries_dir / f"{entry['index']:05d}.json")
        todo = [e for e in entries
                if not (root / "pages" / e["dossier"] / "done.json").exists()]
        if todo:
            say(f"decoding {sum(e['pages'] for e in todo)} pages to page images")
            for fut in [pool.submit(_decode_pages, str(root), e["truth"], pdf_dpi) for e in todo]:
                fut.result()
    _write_manifest(root, key)
    return Corpus(root=root, key=key, dossiers=[_load_dossier(root, e) for e in entries])


def _write_manifest(root: Path, key: CorpusKey) -> None:
    """A manifest in the generator's own format over every dossier generated so far."""
    entries = []
    for p in sorted((root / "entries").glob("*.json")):
        e = json.loads(p.read_text(encoding="utf-8"))
        e.pop("index", None)
        entries.append(e)
    manifest = {"schema": "dossier-manifest/1", "seed": key.seed, "split": key.split,
                "degradation": key.degradation, "dossiers": entries}
    (root / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                        encoding="utf-8")


def _load_dossier(root: Path, entry: dict) -> BenchDossier:
    truth = json.loads((root / entry["truth"]).read_text(encoding="utf-8"))
    written = json.loads((root / "pages" / entry["dossier"] / "done.json").read_text(
        encoding="utf-8"))
    d = BenchDossier(name=entry["dossier"], container=entry["container"], truth=truth)
    for page, (image, dpi) in zip(truth["pages"], written, strict=True):
        d.pages.append(BenchPage(dossier=d.name, index=page["index"], image=Path(image),
                                 dpi=int(dpi), truth_text=page["text"],
                                 degradations=list(page["degradations"])))
    return d


def select(corpus: Corpus, pages: int) -> list[BenchDossier]:
    """Whole dossiers from the start of the corpus until they hold at least ``pages`` pages."""
    out: list[BenchDossier] = []
    n = 0
    for d in corpus.dossiers:
        if n >= pages:
            break
        out.append(d)
        n += len(d.pages)
    return out
