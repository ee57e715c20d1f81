"""Accuracy measures: OCR character/word error rates, document types, page splits, fields.

Everything here is plain functions over plain data (strings, truth dicts, ExtractedDocument),
so each measure can be checked on hand-made examples.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from models.records import ExtractedDocument, FieldStatus

if TYPE_CHECKING:
    from bench.corpus import BenchDossier

__all__ = [
    "ErrorCount",
    "levenshtein",
    "normalize_text",
    "text_errors",
    "normalize_value",
    "FieldOutcome",
    "score_fields",
    "SplitOutcome",
    "score_split",
    "page_doctypes",
    "score_documents",
]

# Dotted leaders and fill lines are graphics, not text: the truth leaves them out, and
# Tesseract reads them as runs of dots or underscores.
_LEADERS = re.compile(r"[.…·_]{3,}")
_WS = re.compile(r"\s+")


def levenshtein(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Edit distance between two sequences (characters or words), unit costs.

    Bit-parallel (Myers 1999, Hyyrö 2001): one pass over ``b`` with ``a`` held as the bits of
    a Python integer, so a whole page of text costs milliseconds, not seconds.
    """
    if not a:
        return len(b)
    if not b:
        return len(a)
    peq: dict[Hashable, int] = {}
    for i, c in enumerate(a):
        peq[c] = peq.get(c, 0) | (1 << i)
    m = len(a)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for c in b:
        eq = peq.get(c, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | ~(xh | pv)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
    return score


def normalize_text(text: str) -> str:
    """NFC, leaders dropped, all whitespace (line breaks too) collapsed to one space."""
    text = unicodedata.normalize("NFC", text)
    text = _LEADERS.sub(" ", text)
    return _WS.sub(" ", text).strip()


@dataclass
class ErrorCount:
    """Edits against the truth and the truth's length; rates are summed over pages first."""

    char_edits: int = 0
    chars: int = 0
    word_edits: int = 0
    words: int = 0
    pages: int = 0

    def add(self, other: ErrorCount) -> None:
        self.char_edits += other.char_edits
        self.chars += other.chars
        self.word_edits += other.word_edits
        self.words += other.words
        self.pages += other.pages

    @property
    def cer(self) -> float:
        return min(1.0, self.char_edits / self.chars) if self.chars else 0.0

    @property
    def wer(self) -> float:
        return min(1.0, self.word_edits / self.words) if self.words else 0.0


def text_errors(truth: str, ocr: str) -> ErrorCount:
    """Character and word edits of ``ocr`` against ``truth`` after :func:`normalize_text`.

    Rates are capped at 1 when aggregated: garbage output longer than the truth counts as
    fully wrong, not more.
    """
    t, o = normalize_text(truth), normalize_text(ocr)
    tw, ow = t.split(), o.split()
    return ErrorCount(char_edits=levenshtein(t, o), chars=len(t),
                      word_edits=levenshtein(tw, ow), words=len(tw), pages=1)


def normalize_value(value: str | None) -> str:
    """How field values are compared: NFC, case-folded, one space, ", " between parts."""
    if value is None:
        return ""
    v = unicodedata.normalize("NFC", str(value))
    v = re.sub(r"\s*,\s*", ", ", v)
    return _WS.sub(" ", v).strip().casefold()


@dataclass
class FieldOutcome:
    """One field of one document, truth against prediction."""

    doctype: str
    name: str
    truth: str | None  # None: the truth has no such field (an unmatched or extra prediction)
    predicted: str | None
    status: FieldStatus

    @property
    def emitted(self) -> bool:
        return bool(normalize_value(self.predicted))

    @property
    def expected(self) -> bool:
        return bool(normalize_value(self.truth))

    @property
    def correct(self) -> bool:
        """Emitted and equal to the truth."""
        return self.emitted and self.truth is not None and \
            normalize_value(self.predicted) == normalize_value(self.truth)

    @property
    def exact(self) -> bool:
        """Prediction equals the truth, an absent value matching an empty truth."""
        return self.truth is not None and \
            normalize_value(self.predicted) == normalize_value(self.truth)


def best_match(tdoc: dict, predicted: list[ExtractedDocument], used: set[int]) -> int | None:
    tpages = set(tdoc["pages"])
    best, best_overlap = None, 0
    for i, p in enumerate(predicted):
        if i in used or p.doctype != tdoc["doctype"]:
            continue
        overlap = len(tpages & set(p.pages))
        if overlap > best_overlap:
            best, best_overlap = i, overlap
    return best


def score_fields(truth_docs: list[dict], predicted: list[ExtractedDocument]) -> list[FieldOutcome]:
    """Pair each truth document with the predicted one of the same type covering most of its
    pages, then compare field by field.

    Truth fields of a document that was not found count as not emitted. Fields of predicted
    documents that pair with no truth document count as emitted and wrong (``truth`` None).
    Predicted fields the truth does not have are left out: they cannot be scored.
    """
    out: list[FieldOutcome] = []
    used: set[int] = set()
    for tdoc in truth_docs:
        j = best_match(tdoc, predicted, used)
        pdoc = predicted[j] if j is not None else None
        if j is not None:
            used.add(j)
        for name, value in tdoc["fields"].items():
            f = pdoc.field(name) if pdoc else None
            out.append(FieldOutcome(tdoc["doctype"], name, "" if value is None else str(value),
                                    f.value if f else None,
                                    f.status if f else FieldStatus.missing))
    for i, p in enumerate(predicted):
        if i in used:
            continue
        for f in p.fields:
            if f.value:
                out.append(FieldOutcome(p.doctype, f.name, None, f.value, f.status))
    return out


@dataclass
class SplitOutcome:
    """How one dossier's pages were typed and cut into documents."""

    pages: int
    pages_typed_right: int
    true_starts: set[int] = field(default_factory=set)  # page indexes (>0) that start a document
    predicted_starts: set[int] = field(default_factory=set)
    documents: int = 0
    documents_found: int = 0  # same type and exactly the same pages

    @property
    def exact(self) -> bool:
        return self.true_starts == self.predicted_starts


def page_doctypes(docs: list[dict] | list[ExtractedDocument], n_pages: int,
                  unknown: str = "unknown") -> list[str]:
    """The document type each page was given (``unknown`` where no document covers it)."""
    types = [unknown] * n_pages
    for d in docs:
        doctype = d["doctype"] if isinstance(d, dict) else d.doctype
        pages = d["pages"] if isinstance(d, dict) else d.pages
        for p in pages:
            if 0 <= p < n_pages:
                types[p] = doctype
    return types


def _starts(pages_lists: list[list[int]]) -> set[int]:
    return {min(p) for p in pages_lists if p and min(p) > 0}


def score_split(truth_docs: list[dict], predicted: list[ExtractedDocument],
                n_pages: int) -> SplitOutcome:
    """Page types and document boundaries of one dossier against its truth."""
    tt = page_doctypes(truth_docs, n_pages)
    pt = page_doctypes(predicted, n_pages)
    found = {(p.doctype, tuple(sorted(p.pages))) for p in predicted}
    return SplitOutcome(
        pages=n_pages,
        pages_typed_right=sum(a == b for a, b in zip(tt, pt, strict=True)),
        true_starts=_starts([d["pages"] for d in truth_docs]),
        predicted_starts=_starts([p.pages for p in predicted]),
        documents=len(truth_docs),
        documents_found=sum((d["doctype"], tuple(sorted(d["pages"]))) in found
                            for d in truth_docs),
    )


def _rate(n: int, d: int) -> float | None:
    return n / d if d else None


def _field_stats(outcomes: list[FieldOutcome]) -> dict:
    emitted = [o for o in outcomes if o.emitted]
    scored = [o for o in outcomes if o.truth is not None]
    return {
        "instances": len(scored),
        "expected": sum(o.expected for o in scored),
        "emitted": len(emitted),
        "correct": sum(o.correct for o in emitted),
        "precision": _rate(sum(o.correct for o in emitted), len(emitted)),
        "recall": _rate(sum(o.correct for o in scored), sum(o.expected for o in scored)),
        "exact": _rate(sum(o.exact for o in scored), len(scored)),
    }


def score_documents(dossiers: list[BenchDossier], result: dict, defined: set[str]) -> dict:
    """A run's documents against the truth: page types, splits, fields (overall, per
    document type of ``defined`` or not, per field) and the share left to review.
    ``result["dossiers"]`` holds each dossier's predicted ``documents`` as JSON."""
    outcomes: list[FieldOutcome] = []
    pages = typed = starts_true = starts_pred = starts_hit = 0
    multi = multi_exact = docs = docs_found = 0
    per_type: dict[str, Counter] = defaultdict(Counter)
    docs_all_exact: Counter = Counter()
    for d, out in zip(dossiers, result["dossiers"], strict=True):
        predicted = [ExtractedDocument.model_validate(x) for x in out.get("documents", [])]
        truth_docs = d.truth["documents"]
        s = score_split(truth_docs, predicted, len(d.pages))
        pages += s.pages
        typed += s.pages_typed_right
        starts_true += len(s.true_starts)
        starts_pred += len(s.predicted_starts)
        starts_hit += len(s.true_starts & s.predicted_starts)
        docs += s.documents
        docs_found += s.documents_found
        if len(d.pages) > 1:
            multi += 1
            multi_exact += s.exact
        for tt, pt in zip(page_doctypes(truth_docs, len(d.pages)),
                          page_doctypes(predicted, len(d.pages)), strict=True):
            per_type[tt]["pages"] += 1
            per_type[tt]["typed_right"] += tt == pt
        fo = score_fields(truth_docs, predicted)
        outcomes.extend(fo)
        # A truth document is fully right when every one of its fields matches exactly.
        # score_fields lists each truth document's fields in order, then the unpaired extras.
        at = 0
        for td in truth_docs:
            mine = fo[at:at + len(td["fields"])]
            at += len(td["fields"])
            per_type[td["doctype"]]["docs"] += 1
            docs_all_exact[td["doctype"]] += bool(mine) and all(o.exact for o in mine)
    by_type = {}
    for t in sorted({o.doctype for o in outcomes} | set(per_type)):
        st = _field_stats([o for o in outcomes if o.doctype == t])
        c = per_type.get(t, Counter())
        st.update(defined=t in defined, docs=c["docs"], pages=c["pages"],
                  page_type_accuracy=_rate(c["typed_right"], c["pages"]),
                  docs_all_exact=_rate(docs_all_exact[t], c["docs"]))
        by_type[t] = st
    by_field = {}
    for t, name in sorted({(o.doctype, o.name) for o in outcomes}):
        by_field[f"{t}.{name}"] = _field_stats([o for o in outcomes
                                                if o.doctype == t and o.name == name])
    found = [o for o in outcomes if o.emitted]
    accepted = [o for o in found if o.status in (FieldStatus.accepted, FieldStatus.confirmed)]
    review = [o for o in found if o.status == FieldStatus.review]
    return {
        "pages": pages,
        "page_type_accuracy": _rate(typed, pages),
        "documents": docs,
        "documents_found": _rate(docs_found, docs),
        "boundary_precision": _rate(starts_hit, starts_pred),
        "boundary_recall": _rate(starts_hit, starts_true),
        "multi_page_dossiers": multi,
        "split_exact": _rate(multi_exact, multi),
        "fields": _field_stats(outcomes),
        "by_type": by_type,
        "by_field": by_field,
        "review": {
            "found": len(found),
            "accepted": len(accepted),
            "accepted_precision": _rate(sum(o.correct for o in accepted), len(accepted)),
            "review": len(review),
            "review_share": _rate(len(review), len(found)),
            "review_precision": _rate(sum(o.correct for o in review), len(review)),
            "threshold": None,
        },
    }
