"""Page classification and dossier splitting by weighted keywords, fuzzy-matched."""

from __future__ import annotations

from dataclasses import dataclass

from spacy.matcher import Matcher

from extraction.doctypes import DoctypeDef
from extraction.nlp import build_matcher, match_spans, text_doc
from models.ocr import PageOCR

__all__ = ["PageClass", "classify_page", "classify_by_shape", "split_pages", "UNKNOWN"]

UNKNOWN = "unknown"


@dataclass
class PageClass:
    doctype: str
    score: float
    confidence: float
    has_title: bool
    max_pages: int | None = None  # the type's own limit (``DoctypeDef.max_pages``)
    aspect: float | None = None  # the page's width / height


_MATCHERS: dict[tuple[int, ...], tuple[tuple[DoctypeDef, ...], Matcher]] = {}


def _keyword_matcher(doctypes: tuple[DoctypeDef, ...]) -> Matcher:
    # Keyed by identity; the entry keeps the definitions alive so ids stay unique.
    key = tuple(id(d) for d in doctypes)
    if key not in _MATCHERS:
        _MATCHERS[key] = (doctypes, _build_keyword_matcher(doctypes))
    return _MATCHERS[key][1]


def _build_keyword_matcher(doctypes: tuple[DoctypeDef, ...]) -> Matcher:
    phrases: dict[str, list[str]] = {}
    for d in doctypes:
        for i, k in enumerate(d.keywords):
            phrases[f"{d.id}|{i}"] = [k.text]
    return build_matcher(phrases)


def classify_page(page: PageOCR, doctypes: list[DoctypeDef]) -> PageClass:
    """Best document type for one page; ``unknown`` when nothing scores enough."""
    key = tuple(doctypes)
    matcher = _keyword_matcher(key)
    doc = text_doc(page.text)
    found: dict[str, set[int]] = {}
    for labels, _, _ in match_spans(matcher, doc):
        for label in labels:
            dt, idx = label.split("|")
            found.setdefault(dt, set()).add(int(idx))
    best = PageClass(UNKNOWN, 0.0, 0.0, False)
    for d in doctypes:
        hits = found.get(d.id, set())
        score = sum(d.keywords[i].weight for i in hits)
        if score > best.score and score >= d.min_score:
            total = sum(k.weight for k in d.keywords)
            has_title = any(d.keywords[i].title for i in hits)
            # Confidence: share of the keyword weight seen, saturating at 60 %.
            conf = min(1.0, score / (0.6 * total)) if total else 0.0
            best = PageClass(d.id, score, round(conf, 3), has_title, d.max_pages)
    return best


def classify_by_shape(classes: list[PageClass], doctypes: list[DoctypeDef]) -> None:
    """A page no keyword identified, of the shape (``aspect``) two or more types share, scanned
    right after one of them or right before one, is the next or the previous of them (a card's
    back after its front, its front before its back); a shape only one type has is that type.
    At half confidence."""
    shaped = [d for d in doctypes if d.aspect is not None]
    for i, c in enumerate(classes):
        if c.doctype != UNKNOWN or not c.aspect:
            continue
        fits = [d for d in shaped if d.aspect[0] <= c.aspect <= d.aspect[1]]
        ids = [d.id for d in fits]
        prev = classes[i - 1].doctype if i else None
        nxt = classes[i + 1].doctype if i + 1 < len(classes) else None
        if len(fits) == 1:
            pick = fits[0]
        elif prev in ids:
            pick = fits[(ids.index(prev) + 1) % len(fits)]
        elif nxt in ids:
            pick = fits[ids.index(nxt) - 1]
        else:
            continue
        classes[i] = PageClass(pick.id, 0.0, 0.5, False, pick.max_pages, c.aspect)


def _same_shape(a: PageClass, b: PageClass) -> bool:
    if not a.aspect or not b.aspect:
        return True
    return max(a.aspect, b.aspect) / min(a.aspect, b.aspect) < 1.25


def split_pages(classes: list[PageClass]) -> list[tuple[str, list[int], float]]:
    """Group consecutive pages into documents: (doctype, page indexes, confidence).

    A page starts a new document when its type differs from the current one, when it
    carries the type's title again, or when the current document has as many pages as its
    type can have. Pages of unknown type continue the current document if it has room and
    the page has the shape of the document's last page (a landscape card scanned after an
    A4 form is not the form's next page).
    """
    docs: list[tuple[str, list[int], list[float]]] = []
    limit: int | None = None
    for i, c in enumerate(classes):
        room = bool(docs) and (limit is None or len(docs[-1][1]) < limit)
        if room and c.doctype == UNKNOWN and not _same_shape(classes[docs[-1][1][-1]], c):
            room = False
        if room and (c.doctype == UNKNOWN or (c.doctype == docs[-1][0] and not c.has_title)):
            docs[-1][1].append(i)
            continue
        if docs and docs[-1][0] == UNKNOWN and c.doctype != UNKNOWN and len(docs[-1][1]) == 0:
            docs.pop()
        docs.append((c.doctype, [i], [c.confidence]))
        limit = c.max_pages
    return [(dt, pages, max(confs)) for dt, pages, confs in docs]
