"""Page classification and dossier splitting by weighted keywords, fuzzy-matched."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from spacy.matcher import Matcher

from extraction.doctypes import DoctypeDef
from extraction.nlp import build_matcher, match_spans, text_doc
from extraction.text import fold
from models.ocr import PageOCR

__all__ = ["PageClass", "TypeScore", "classify_page", "keyword_scores", "classify_by_shape",
           "classify_card_sides", "card_headings", "split_pages", "UNKNOWN"]

UNKNOWN = "unknown"


@dataclass
class PageClass:
    doctype: str
    score: float
    confidence: float
    has_title: bool
    max_pages: int | None = None  # the type's own limit (``DoctypeDef.max_pages``)
    aspect: float | None = None  # the page's width / height
    blank: bool = False  # nothing was read on the page (see ``_nothing_read``)
    card: bool = False  # the page image shows an identity card (``PageOCR.card``)


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
    """Best document type for one page; ``unknown`` when nothing scores enough, or when the
    best scores weakly and the page's content does not fit it (:func:`_fits`)."""
    key = tuple(doctypes)
    matcher = _keyword_matcher(key)
    doc = text_doc(page.text)
    found: dict[str, set[int]] = {}
    for labels, _, _ in match_spans(matcher, doc):
        for label in labels:
            dt, idx = label.split("|")
            found.setdefault(dt, set()).add(int(idx))
    best = PageClass(UNKNOWN, 0.0, 0.0, False, blank=_nothing_read(page))
    for d in doctypes:
        hits = found.get(d.id, set())
        score = sum(d.keywords[i].weight for i in hits)
        if score > best.score and score >= d.min_score:
            total = sum(k.weight for k in d.keywords)
            has_title = any(d.keywords[i].title for i in hits)
            # Confidence: share of the keyword weight seen, saturating at 60 %.
            conf = min(1.0, score / (0.6 * total)) if total else 0.0
            best = PageClass(d.id, score, round(conf, 3), has_title, d.max_pages,
                             blank=best.blank)
    if best.doctype != UNKNOWN and best.confidence < _WEAK:
        # A few of a type's keywords are printed on many forms ("căn cước công dân" in "Số
        # căn cước công dân:"): found on a page its content does not fit, they make a
        # confident wrong type. Such a page is unknown; the generic identity fields apply.
        d = next(d for d in doctypes if d.id == best.doctype)
        if not _fits(page, d):
            return PageClass(UNKNOWN, 0.0, 0.0, False, blank=best.blank)
    return best


_WEAK = 0.5  # a classification below this confidence must be backed by the page's content
_FITS = 0.5  # the least share of a type's labelled fields whose label a page of it shows
_LABEL_MATCHERS: dict[int, tuple[DoctypeDef, Matcher]] = {}


def _fits(page: PageOCR, d: DoctypeDef) -> bool:
    """Whether the page's content is what a page of ``d`` carries. A card side's labels are
    the personal-data block every form carries, and a card's OCR often loses them: what a
    card cannot be is a page of a form's length. Any other type's page shows most of its
    fields' labels."""
    if d.aspect is not None:
        return len(page.words) <= _CARD_MAX_WORDS
    wanted = [f.name for f in d.fields if f.labels]
    if not wanted:
        return True
    if id(d) not in _LABEL_MATCHERS:  # keyed by identity; the entry keeps ``d`` alive
        _LABEL_MATCHERS[id(d)] = (d, build_matcher({f.name: list(f.labels)
                                                    for f in d.fields if f.labels}))
    found: set[str] = set()
    for keys, _, _ in match_spans(_LABEL_MATCHERS[id(d)][1], text_doc(page.text)):
        found.update(keys)
    return len(found) >= _FITS * len(wanted)


@dataclass
class TypeScore:
    """How a document type scored on a page: the weight of its keywords found, the weight it
    needs (``min_score``), the keywords found and those not."""

    doctype: str
    score: float
    min_score: float
    found: list[str]
    missing: list[str]

    @property
    def enough(self) -> bool:
        return self.score >= self.min_score


def keyword_scores(page: PageOCR, doctypes: list[DoctypeDef]) -> list[TypeScore]:
    """Every type's keyword score on ``page``, highest first (``dossier extract --explain``)."""
    matcher = _keyword_matcher(tuple(doctypes))
    found: dict[str, set[int]] = {}
    for labels, _, _ in match_spans(matcher, text_doc(page.text)):
        for label in labels:
            dt, idx = label.split("|")
            found.setdefault(dt, set()).add(int(idx))

    def show(k) -> str:
        return repr(k.text) + (f" ({k.weight:g})" if k.weight != 1 else "")

    out = [TypeScore(d.id, sum(d.keywords[i].weight for i in found.get(d.id, set())),
                     d.min_score,
                     [show(k) for i, k in enumerate(d.keywords) if i in found.get(d.id, set())],
                     [show(k) for i, k in enumerate(d.keywords) if i not in found.get(d.id, set())])
           for d in doctypes]
    return sorted(out, key=lambda t: -t.score)


def classify_by_shape(classes: list[PageClass], doctypes: list[DoctypeDef]) -> None:
    """A page no keyword identified, of the shape (``aspect``) two or more types share, scanned
    right after one of them or right before one, is the next or the previous of them (a card's
    back after its front, its front before its back); a shape only one type has is that type.
    At half confidence."""
    shaped = [(d, d.aspect) for d in doctypes if d.aspect is not None]
    for i, c in enumerate(classes):
        if c.doctype != UNKNOWN or not c.aspect:
            continue
        fits = [d for d, (low, high) in shaped if low <= c.aspect <= high]
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
        classes[i] = PageClass(pick.id, 0.0, 0.5, False, pick.max_pages, c.aspect, card=c.card)


# The identity card's fixed printed headings, folded, to tell a card side whose title OCR lost.
# "Strong" headings are printed on that side of the card only (its English labels, the back's
# fingerprint and authority lines); "weak" ones also head many forms.
_CARD_HEADINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cccd_front": (
        ("citizen identity card", "full name", "date of birth", "nationality",
         "place of origin", "place of residence", "date of expiry"),
        ("can cuoc cong dan", "ho va ten", "ngay thang nam sinh", "gioi tinh", "quoc tich",
         "que quan", "noi thuong tru", "co gia tri den", "so dinh danh ca nhan"),
    ),
    "cccd_back": (
        ("dac diem nhan dang", "ngon tro trai", "ngon tro phai", "left index finger",
         "right index finger", "cuc truong cuc canh sat", "dkql cu tru va dlqg ve dan cu",
         "quan ly hanh chinh ve trat tu xa hoi", "date month year"),
        (),
    ),
}
_HEADING_SIMILARITY = 0.75  # difflib ratio a heading needs against a stretch of a line
_CARD_MAX_WORDS = 130  # a card side carries at most about a hundred words; a form more
_CARD_REGION = (0.55, 0.4)  # the most of a page's width and height a copied card covers


def _folded_lines(page: PageOCR) -> list[str]:
    out = []
    for line in page.lines:
        t = re.sub(r"[^a-z0-9]+", " ", fold(line.text)).strip()
        if t:
            out.append(t)
    return out


def _heading_in(heading: str, line: str, *, at_start: bool = False) -> bool:
    """Whether ``heading`` is in ``line`` with OCR errors: a stretch of the line of the
    heading's length (and a little more) is similar enough; with ``at_start``, only a stretch
    that begins the line (where a card prints its labels, before their values)."""
    n = len(heading)
    if len(line) < n * _HEADING_SIMILARITY:
        return False
    sm = SequenceMatcher(None, "", heading, autojunk=False)
    for start in range(min(3, len(line)) if at_start else max(1, len(line) - n + 1)):
        sm.set_seq1(line[start:start + n + 2])
        if sm.real_quick_ratio() >= _HEADING_SIMILARITY and sm.ratio() >= _HEADING_SIMILARITY:
            return True
    return False


def card_headings(page: PageOCR) -> dict[str, tuple[int, int]]:
    """Per card side: how many of its strong and weak printed headings the page's OCR shows,
    each fuzzy-matched so that heavy OCR errors still count ("Giậc điểm nhán dựng"). A weak
    heading counts only where it begins a line, as the card's labels do; a form names the same
    things inside its sentences and labels ("Địa chỉ thường trú")."""
    lines = _folded_lines(page)
    out = {}
    for side, (strong, weak) in _CARD_HEADINGS.items():
        out[side] = (sum(any(_heading_in(h, ln) for ln in lines) for h in strong),
                     sum(any(_heading_in(h, ln, at_start=True) for ln in lines) for h in weak))
    return out


def _card_sized_text(page: PageOCR, doctypes: dict[str, DoctypeDef]) -> bool:
    """The page has a card's shape, or its text lies in a card-sized part of a larger page
    (a card copied onto a sheet)."""
    if not page.width or not page.height:
        return False
    aspect = page.width / page.height
    if any(d.aspect and d.aspect[0] <= aspect <= d.aspect[1] for d in doctypes.values()):
        return True
    boxes = [ln.bbox for ln in page.lines if sum(ch.isalnum() for ch in ln.text) >= 3]
    if len(boxes) < 3:
        return False
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    return (x1 - x0) <= _CARD_REGION[0] * page.width and (y1 - y0) <= _CARD_REGION[1] * page.height


def classify_card_sides(classes: list[PageClass], pages: list[PageOCR],
                        doctypes: list[DoctypeDef]) -> None:
    """A page no keyword identified that shows an identity card side's printed headings through
    heavy OCR errors is that side: on its own when two of the side's own headings are there
    (and none of the other side's); with fewer when the page is card-shaped, its text lies in a
    card-sized region, or a card side is scanned next to it. A page whose image shows a card
    with its portrait photo (``PageOCR.card``) is a front. A page read too poorly to show
    anything is the other side of a card scanned next to it. A page with more words than a card
    carries is none. At half confidence."""
    by_id = {d.id: d for d in doctypes if d.id in _CARD_HEADINGS}
    if not by_id:
        return
    for i, (c, page) in enumerate(zip(classes, pages, strict=True)):
        if c.doctype != UNKNOWN or len(page.words) > _CARD_MAX_WORDS:
            continue
        ev = card_headings(page)
        near = any(0 <= j < len(classes) and classes[j].doctype in by_id for j in (i - 1, i + 1))
        context = near or _card_sized_text(page, by_id)
        score = {s: 2 * strong + weak for s, (strong, weak) in ev.items() if s in by_id}
        pick = None
        for side in score:
            strong = ev[side][0]
            others = [o for o in score if o != side]
            if strong >= 2 and all(ev[o][0] == 0 for o in others):
                pick = side
            elif context and score[side] >= 2 and all(score[side] > score[o] for o in others):
                pick = side
        if pick is None and page.card is not None and page.card.photo and _FRONT in by_id:
            pick = _FRONT
        if pick is None and _unreadable(page):
            pick = _other_side(classes, i, by_id)
        if pick is not None:
            d = by_id[pick]
            classes[i] = PageClass(pick, 0.0, 0.5, False, d.max_pages, c.aspect, card=c.card)


_READABLE_WORDS = 15  # fewer words read with confidence than this tell no page's type
_NOTHING_READ = 3  # fewer than this and nothing was read: no form's page is so empty
_FRONT, _BACK = "cccd_front", "cccd_back"


def _readable_words(page: PageOCR) -> int:
    return sum(w.confidence >= 0.6 and sum(ch.isalnum() for ch in w.text) >= 2
               for w in page.words)


def _unreadable(page: PageOCR) -> bool:
    return _readable_words(page) < _READABLE_WORDS


def _nothing_read(page: PageOCR) -> bool:
    return _readable_words(page) < _NOTHING_READ


def _other_side(classes: list[PageClass], i: int, by_id: dict[str, DoctypeDef]) -> str | None:
    """The card side a page too poorly read to tell is, from its neighbours: a card's sides are
    scanned together, front then back. Nothing when both neighbours are card sides."""
    if _FRONT not in by_id or _BACK not in by_id:
        return None
    prev = classes[i - 1].doctype if i else None
    nxt = classes[i + 1].doctype if i + 1 < len(classes) else None
    if nxt == _BACK and prev not in by_id:
        return _FRONT
    if prev == _FRONT and nxt not in by_id:
        return _BACK
    return None


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
    A4 form is not the form's next page), something was read on it (a form's next page
    carries text; a page OCR read nothing of is more often a card copied too faintly) and its
    image shows no identity card (a card copied onto an A4 sheet is no form's next page).
    """
    docs: list[tuple[str, list[int], list[float]]] = []
    limit: int | None = None
    for i, c in enumerate(classes):
        room = bool(docs) and (limit is None or len(docs[-1][1]) < limit)
        if room and c.doctype == UNKNOWN and (
                c.blank or c.card or not _same_shape(classes[docs[-1][1][-1]], c)):
            room = False
        if room and (c.doctype == UNKNOWN or (c.doctype == docs[-1][0] and not c.has_title)):
            docs[-1][1].append(i)
            continue
        if docs and docs[-1][0] == UNKNOWN and c.doctype != UNKNOWN and len(docs[-1][1]) == 0:
            docs.pop()
        docs.append((c.doctype, [i], [c.confidence]))
        limit = c.max_pages
    return [(dt, pages, max(confs)) for dt, pages, confs in docs]
