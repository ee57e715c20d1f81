"""Trust figures: is a value the machine accepts right, and is its confidence a probability?

    python -m bench.trust train [--pages 640]      # fit the scorer on the dev split, write
                                                   # extraction/calibration.json
    python -m bench.trust eval --split dev [--pages N]   # the figures on cached OCR
    python -m bench.trust eval --split dev --fields [--misses cccd_front]
                                                   # and exact match per field, page types,
                                                   # splits, and the misses (value vs truth)

Training reads only the ``dev`` split (generated with held-in layouts and seeds); the
``test`` split is for ``dossier bench`` to measure, never to tune on. OCR of the corpus is
cached beside it (``bench.ocr_cache``), so retraining after a change to extraction costs
seconds, not an hour of Tesseract.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.ocr_cache import CorpusLines
from bench.scoring import best_match, normalize_value, score_documents, score_fields
from extraction.training import Example
from models.records import ExtractedDocument, ExtractedField, FieldSource, FieldStatus

__all__ = ["Scored", "scored_fields", "trust_figures", "reliability", "ece", "main"]

from extraction.training import BINS


@dataclass
class Scored:
    """One found value, with the truth's verdict."""

    doctype: str
    name: str
    kind: str  # field type
    confidence: float
    status: FieldStatus
    correct: bool
    field: ExtractedField | None = None
    dossier: str = ""


def _kind(doctype: str, name: str, types: dict[tuple[str, str], str]) -> str:
    return types.get((doctype, name), "text")


def scored_fields(truth_docs: list[dict], predicted: list[ExtractedDocument],
                  types: dict[tuple[str, str], str], dossier: str = "") -> list[Scored]:
    """Every found value of a dossier, right or wrong against the truth (pairing documents as
    ``bench.scoring.score_fields`` does). Values of a document the truth does not have are
    wrong; values of fields the truth does not list cannot be judged and are left out."""
    out: list[Scored] = []
    used: set[int] = set()
    for tdoc in truth_docs:
        j = best_match(tdoc, predicted, used)
        if j is None:
            continue
        used.add(j)
        for f in predicted[j].fields:
            if f.value is None or f.name not in tdoc["fields"]:
                continue
            truth = tdoc["fields"][f.name]
            ok = normalize_value(f.value) == normalize_value("" if truth is None else str(truth))
            out.append(Scored(tdoc["doctype"], f.name, _kind(tdoc["doctype"], f.name, types),
                              f.confidence, f.status, ok, f, dossier))
    for i, p in enumerate(predicted):
        if i in used:
            continue
        for f in p.fields:
            if f.value is not None:
                out.append(Scored(p.doctype, f.name, _kind(p.doctype, f.name, types),
                                  f.confidence, f.status, False, f, dossier))
    return out


def field_types(doctypes) -> dict[tuple[str, str], str]:
    return {(d.id, f.name): f.type for d in doctypes for f in d.fields}


def reliability(items: list[Scored], bins: int = BINS) -> list[dict]:
    """Per confidence bin: how many values, mean confidence, share right."""
    rows = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [s for s in items if lo <= s.confidence < hi or (b == bins - 1
                                                                  and s.confidence == 1.0)]
        rows.append({"lo": lo, "hi": hi, "n": len(inside),
                     "confidence": (sum(s.confidence for s in inside) / len(inside)
                                    if inside else None),
                     "accuracy": (sum(s.correct for s in inside) / len(inside)
                                  if inside else None)})
    return rows


def ece(items: list[Scored], bins: int = BINS) -> float | None:
    """Expected calibration error: the bins' |accuracy - confidence|, weighted by size."""
    if not items:
        return None
    total = 0.0
    for r in reliability(items, bins):
        if r["n"]:
            total += r["n"] * abs(r["accuracy"] - r["confidence"])
    return total / len(items)


def _stats(items: list[Scored]) -> dict:
    accepted = [s for s in items if s.status in (FieldStatus.accepted, FieldStatus.confirmed)]
    review = [s for s in items if s.status == FieldStatus.review]
    return {
        "found": len(items),
        "right": sum(s.correct for s in items),
        "accepted": len(accepted),
        "accepted_right": sum(s.correct for s in accepted),
        "accepted_precision": (sum(s.correct for s in accepted) / len(accepted)
                               if accepted else None),
        "review": len(review),
        "review_share": len(review) / len(items) if items else None,
        "ece": ece(items),
    }


def trust_figures(items: list[Scored], threshold: float | None) -> dict:
    """Auto-accept precision, review share, ECE and reliability, overall and per field type."""
    by_kind: dict[str, list[Scored]] = defaultdict(list)
    for s in items:
        by_kind[s.kind].append(s)
    return {
        "threshold": threshold,
        "overall": _stats(items),
        "reliability": reliability(items),
        "by_kind": {k: {**_stats(v), "reliability": reliability(v)}
                    for k, v in sorted(by_kind.items())},
    }


# ---- training on the dev split -----------------------------------------------------------

SCENARIOS = {
    "first": "nothing verified before: the office's first dossiers",
    "office": "the run's other dossiers were verified before, by other citizens",
    "returning": "as office, and each citizen's own papers were verified at an earlier visit",
}


def verified_history(dossiers: list, doctypes, scenario: str) -> Callable:
    """For each bench dossier, what people had verified before it came in (a
    ``KnownLookup``), as a clerk's decisions are the truth of the documents they verified:

    - ``first``: nothing; the office's first dossier.
    - ``office``: every other dossier of the run was verified before, by other citizens: its
      values are vocabularies per field (streets, offices, procedures), none of this citizen's.
    - ``returning``: as ``office``, and this citizen's own documents were verified at an
      earlier visit (the same papers, scanned again for a new procedure).
    """
    from extraction.known import FixedKnown, VerifiedValue

    if scenario == "first":
        return lambda d: None
    citizen_fields = {(t.id, f.name) for t in doctypes for f in t.fields if f.citizen}

    def values_of(d) -> list[VerifiedValue]:
        out = []
        for k, doc in enumerate(d.truth["documents"]):
            fields = {n: v for n, v in doc["fields"].items() if v not in (None, "")}
            ids = tuple(str(v) for n, v in fields.items()
                        if (doc["doctype"], n) in citizen_fields)
            out += [VerifiedValue(doctype=doc["doctype"], field=n, value=str(v),
                                  citizen_ids=ids, record_id=f"{d.name}-{k + 1:02d}")
                    for n, v in fields.items()]
        return out

    every = {d.name: values_of(d) for d in dossiers}

    def lookup(d):
        others = [v for name, vs in every.items() if name != d.name for v in vs]
        # Other people's values teach the vocabulary only: no citizen id comes along.
        known = [VerifiedValue(v.doctype, v.field, v.value, (), v.record_id) for v in others]
        if scenario == "returning":
            known += every[d.name]
        return FixedKnown(known)

    return lookup


def _collect(split: str, pages: int, workers: int, data_dir: Path,
             say, *, calibrate: bool = True, scenario: str = "first",
             predictions: dict | None = None, reread: bool = True
             ) -> tuple[list[Scored], CorpusLines]:
    from bench.corpus import CorpusKey, ensure_corpus, select
    from bench.ocr_cache import ocr_corpus
    from extraction import extract_documents, load_doctypes

    corpus = ensure_corpus(data_dir / "bench" / "corpora", CorpusKey(split=split),
                           min_pages=pages, workers=workers, progress=say)
    dossiers = select(corpus, pages)
    ocr = ocr_corpus(corpus, dossiers, workers=workers, progress=say)
    lines = CorpusLines(corpus, dossiers, ocr)
    doctypes = load_doctypes()
    types = field_types(doctypes)
    items: list[Scored] = []
    history = verified_history(dossiers, doctypes, scenario)
    for d in dossiers:
        docs = extract_documents(ocr[d.name], doctypes, calibrate=calibrate,
                                 known=history(d),
                                 reread=lines.reader(d.name) if reread else None)
        if predictions is not None:
            predictions[d.name] = (d, docs)
        items.extend(scored_fields(d.truth["documents"], docs, types, d.name))
    lines.save()
    say(f"{len(items)} found values in {len(dossiers)} dossiers "
        f"({sum(len(d.pages) for d in dossiers)} pages) of the {split} split")
    return items, lines


def examples_read_again(lines: CorpusLines, workers: int, say
                        ) -> Callable[[list[Example]], list[str | None]]:
    """Training's second readings (``extraction.training.fit``): each example's lines read
    again on its corpus page (None for a value of no corpus dossier, or with no lines)."""
    from concurrent.futures import ThreadPoolExecutor

    from extraction.reread import joined

    def one(ex: Example) -> str | None:
        f = ex.field
        if f.page is None or not f._line_boxes or ex.group not in lines.dossiers:
            return None
        texts = lines.read(ex.group, f.page, list(f._line_boxes))
        return None if texts is None else joined(texts)

    def read(examples: list[Example]) -> list[str | None]:
        say(f"reading {len(examples)} values' lines again (cached after the first time)")
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            out = list(pool.map(one, examples))
        lines.save()
        return out

    return read


def train(pages: int, workers: int, data_dir: Path, out: Path, say) -> dict:
    from extraction.training import fit

    items, lines = _collect("dev", pages, workers, data_dir, say, calibrate=False)
    cal = fit([Example(s.field, s.correct, s.dossier) for s in items], say,
              trained_on=f"dev split, first {pages} pages, seed 1, degradation mixed",
              command=f"python -m bench.trust train --pages {pages}",
              reread=examples_read_again(lines, workers, say))
    out.write_text(cal.to_json(), encoding="utf-8")
    say(f"wrote {out}")
    return cal.info


def evaluate(split: str, pages: int, workers: int, data_dir: Path, say, *,
             fields: bool = False, misses: list[str] | None = None,
             scenario: str = "first", reread: bool = True) -> dict:
    from extraction.confidence import load_calibrator

    predictions: dict = {}
    say(f"scenario: {scenario} ({SCENARIOS[scenario]})")
    items, _ = _collect(split, pages, workers, data_dir, say, predictions=predictions,
                        scenario=scenario, reread=reread)
    if fields or misses:
        field_figures(list(predictions.values()), say, misses=misses)
    cal = load_calibrator()
    fig = trust_figures(items, cal.threshold if cal else None)
    o = fig["overall"]
    say(f"overall: accepted {o['accepted']} of {o['found']} found, precision "
        f"{_pct(o['accepted_precision'])}, review share {_pct(o['review_share'])}, "
        f"ECE {o['ece']:.3f}" if o["ece"] is not None else "no values")
    for k, v in fig["by_kind"].items():
        say(f"  {k:16s} found {v['found']:5d}  right {v['right'] / max(1, v['found']):6.1%}  "
            f"accepted {v['accepted']:5d} precision {_pct(v['accepted_precision'])}  "
            f"review {_pct(v['review_share'])}  ECE {v['ece']:.3f}")
    again = [s for s in items if s.field is not None and s.status == FieldStatus.accepted
             and any(r.source == FieldSource.reread for r in s.field.readings)]
    fig["accepted_after_reread"] = {"values": len(again), "right": sum(s.correct for s in again)}
    say(f"accepted after a second reading of their lines: {len(again)}, "
        f"{sum(s.correct for s in again)} of them right")
    fig["straight_through"] = straight_through(list(predictions.values()), items)
    st = fig["straight_through"]
    say(f"documents settled with no person: {st['settled']} of {st['documents']} "
        f"({_pct(st['share'])}); every value read right (the most a perfect scorer could "
        f"settle): {st['all_right']} ({_pct(st['all_right_share'])})")
    for t, v in st["by_doctype"].items():
        say(f"  {t:28s} documents {v['documents']:4d}  settled alone {v['settled']:4d} "
            f"({_pct(v['share']):>8s}) of {v['all_right']:3d} all right  "
            f"values to review {_pct(v['review_share']):>8s}  "
            f"accepted right {_pct(v['accepted_precision']):>8s}  held by: "
            + ", ".join(f"{n} {c}" for n, c in v["held_by"][:6]))
    wrong = [s for s in items if s.status == FieldStatus.accepted and not s.correct]
    for s in wrong[:40]:
        say(f"  accepted but wrong: {s.dossier} {s.doctype}.{s.name} = {s.field.value!r} "
            f"p={s.confidence:.3f}")
    return fig


def straight_through(runs: list[tuple], items: list[Scored]) -> dict:
    """Documents settled with no person (every field accepted: none to review, none missing)
    per document type, beside the share of values sent to review and the precision of the
    accepted ones, and the fields that most often hold a document for a person."""
    from collections import Counter

    right = {id(s.field): s.correct for s in items if s.field is not None}
    by_type: dict[str, dict] = {}
    for _, docs in runs:
        for doc in docs:
            t = by_type.setdefault(doc.doctype, {"documents": 0, "settled": 0, "all_right": 0,
                                                  "held": Counter()})
            t["documents"] += 1
            held = [f.name for f in doc.fields if not f.settled]
            if not held:
                t["settled"] += 1
            # What a perfect scorer could settle: every field found and read right.
            if all(right.get(id(f), False) if f.value is not None else f.settled
                   for f in doc.fields):
                t["all_right"] += 1
            t["held"].update(held)
    out: dict[str, dict] = {}
    for name, t in sorted(by_type.items()):
        mine = [s for s in items if s.doctype == name]
        st = _stats(mine) if mine else {"review_share": None, "accepted_precision": None}
        out[name] = {"documents": t["documents"], "settled": t["settled"],
                     "share": t["settled"] / t["documents"], "all_right": t["all_right"],
                     "review_share": st["review_share"],
                     "accepted_precision": st["accepted_precision"],
                     "held_by": t["held"].most_common()}
    n = sum(v["documents"] for v in out.values())
    k = sum(v["settled"] for v in out.values())
    r = sum(v["all_right"] for v in out.values())
    return {"documents": n, "settled": k, "share": k / n if n else None, "all_right": r,
            "all_right_share": r / n if n else None, "by_doctype": out}


def field_figures(runs: list[tuple], say, *, misses: list[str] | None = None) -> dict:
    """Exact match per document type and field, page types and splits, as ``dossier bench``
    scores them (``bench.run``), from (bench dossier, predicted documents) pairs; then every
    wrong value of the ``misses`` document types (``all``: every type), truth beside it."""
    from extraction import load_doctypes

    dossiers = [d for d, _ in runs]
    result = {"dossiers": [{"documents": [x.model_dump(mode="json") for x in docs]}
                           for _, docs in runs]}
    sc = score_documents(dossiers, result, {d.id for d in load_doctypes()})
    say(f"fields exact {_pct(sc['fields']['exact'])} of {sc['fields']['instances']}; "
        f"document type per page {_pct(sc['page_type_accuracy'])}; documents found "
        f"{_pct(sc['documents_found'])}; multi-page dossiers split exactly "
        f"{_pct(sc['split_exact'])} of {sc['multi_page_dossiers']}")
    for t, st in sc["by_type"].items():
        say(f"  {t:26s} pages {st['pages']:4d} type right {_pct(st['page_type_accuracy']):>8s}"
            f"  fields {st['instances']:4d} exact {_pct(st['exact']):>8s}")
    for k, st in sc["by_field"].items():
        say(f"    {k:44s} {st['instances']:4d} exact {_pct(st['exact']):>8s}")
    for d, docs in runs if misses else []:
        for o in score_fields(d.truth["documents"], docs):
            if not o.exact and ("all" in misses or o.doctype in misses):
                say(f"  miss {d.name} {o.doctype}.{o.name}: {o.predicted!r} (truth {o.truth!r})")
    return sc


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def main(argv: list[str] | None = None) -> int:
    import os

    ap = argparse.ArgumentParser(prog="python -m bench.trust")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="fit the field scorer on the dev split")
    t.add_argument("--pages", type=int, default=640)
    t.add_argument("--out", type=Path,
                   default=Path(__file__).resolve().parent.parent / "extraction"
                   / "calibration.json")
    e = sub.add_parser("eval", help="trust figures on cached OCR of a split")
    e.add_argument("--split", choices=("dev", "test"), default="dev")
    e.add_argument("--pages", type=int, default=320)
    e.add_argument("--fields", action="store_true",
                   help="also exact match per field, page types and splits")
    e.add_argument("--misses", nargs="*", metavar="DOCTYPE",
                   help="also list the wrong values of these document types (all: every type)")
    e.add_argument("--scenario", choices=tuple(SCENARIOS), default="first",
                   help="what people verified before: " + "; ".join(
                       f"{k}: {v}" for k, v in SCENARIOS.items()))
    for p in (t, e):
        p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
        p.add_argument("--data-dir", type=Path, default=Path(".dossier"))
    args = ap.parse_args(argv)
    say = print  # a command-line tool's report
    if args.cmd == "train":
        train(args.pages, args.workers, args.data_dir, args.out, say)
    else:
        evaluate(args.split, args.pages, args.workers, args.data_dir, say, fields=args.fields,
                 misses=args.misses, scenario=args.scenario)
    return 0


if __name__ == "__main__":
    sys.exit(main())
