"""Choosing a field's value among the places it is found, and saying where it came from.

A label can be printed several times ("TOTAL QTY", "TOTAL", "TOTAL SAVINGS"), a pattern can
match several lines, a region holds several lines: the field's options ``nth``, ``pick``,
``label_order`` and ``capitals`` say which of them is the value (``docs/doctypes.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

from spacy.tokens import Doc

from extraction.doctypes import FieldDef
from models.ocr import Word
from models.records import ExtractedField

__all__ = ["whole_words", "is_capitals", "acceptable", "choose", "choose_label",
           "text_of_parts", "words_in", "ordinal"]


class _Occurrence(Protocol):
    label: int  # which of the field's labels was found there


L = TypeVar("L", bound=_Occurrence)
C = TypeVar("C")


def whole_words(doc: Doc, start: int, end: int) -> bool:
    """Whether tokens ``start:end`` are whole printed words: not glued, without a space, to
    letters before or after them. A word OCR read as two tokens at a capital inside it
    ("TotalAmount") holds no label "Total"; two words of a label glued together ("SốCCCD"
    for "Số CCCD") are still the label, the glue being inside the match."""
    # A single glued letter is more often a speck OCR read as one ("iHọ và tên").
    if start > 0:
        before = doc[start - 1]
        if not before.whitespace_ and sum(ch.isalpha() for ch in before.text) >= 2 \
                and before.text[-1].isalpha():
            return False
    if end < len(doc):
        after = doc[end]
        if not doc[end - 1].whitespace_ and sum(ch.isalpha() for ch in after.text) >= 2 \
                and after.text[0].isalpha():
            return False
    return True


# OCR's reading of a logo, a speck or the table under a photographed receipt comes out as a
# few letters, capitals as often as not, read with little confidence: no printed line.
CAPITALS_MIN_CONFIDENCE = 0.4


def is_capitals(text: str) -> bool:
    """Text printed in capitals: four letters or more, nearly all of them capitals (OCR
    reads the odd capital I or O as a small l or o)."""
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) < 4:
        return False
    return sum(ch.isupper() for ch in letters) >= 0.85 * len(letters)


def _amount(f: ExtractedField) -> float:
    try:
        return float(f.value or "")
    except ValueError:
        return float("-inf")


def acceptable(fdef: FieldDef, f: ExtractedField) -> bool:
    """A value found where the field may be that qualifies as its value: read without
    problems and, for ``capitals``, printed in capitals."""
    if f.value is None or f.problems:
        return False
    return not fdef.capitals or (is_capitals(f.raw or f.value)
                                 and f.confidence >= CAPITALS_MIN_CONFIDENCE)


def choose(fdef: FieldDef, found: Iterable[tuple[C, ExtractedField]]
           ) -> tuple[C, ExtractedField] | None:
    """Of the values found (in page order), the one ``pick`` asks for among those that
    qualify (``acceptable``): the first (the default), the last or the largest amount."""
    best: tuple[C, ExtractedField] | None = None
    for item in found:
        if not acceptable(fdef, item[1]):
            continue
        if fdef.pick in (None, "first"):
            return item
        if fdef.pick == "last" or best is None or _amount(item[1]) > _amount(best[1]):
            best = item
    return best


def choose_label(fdef: FieldDef, cands: Sequence[L], read: Callable[[L], ExtractedField]
                 ) -> tuple[L, ExtractedField, str] | None:
    """The occurrence of the field's label that gives its value, the value read there and
    how it was chosen; None when the label was not found. ``cands`` are the label's
    occurrences in page order.

    With ``label_order: preference`` the labels are tried in the order given, a later one
    only when no earlier one gives a value; otherwise all count together, in page order.
    ``nth`` takes one occurrence (negative: from the last); ``pick`` or ``capitals`` the
    one whose value qualifies; else the first, or failing a valid value there, one of the
    next three that gives one (a title or heading can hold the label's words first)."""
    cache: dict[int, ExtractedField] = {}

    def value_at(lab: L) -> ExtractedField:
        if id(lab) not in cache:
            cache[id(lab)] = read(lab)
        return cache[id(lab)]

    if fdef.label_order == "preference":
        groups = [[c for c in cands if c.label == i] for i in range(len(fdef.labels))]
    else:
        groups = [list(cands)]
    fallback: tuple[L, ExtractedField, str] | None = None
    for group in groups:
        if not group:
            continue
        if fdef.nth != 1:
            if len(group) < abs(fdef.nth):
                continue
            lab = group[fdef.nth - 1] if fdef.nth > 0 else group[fdef.nth]
            hit = (lab, value_at(lab), f"nth: {fdef.nth}, occurrence "
                   f"{group.index(lab) + 1} of {len(group)}")
        elif fdef.pick is not None or fdef.capitals:
            chosen = choose(fdef, ((lab, value_at(lab)) for lab in group))
            how = (f"pick: {fdef.pick}" if fdef.pick else "the first in capitals")
            if chosen is None:
                fallback = fallback or (group[0], value_at(group[0]),
                                        f"{how}: no occurrence gives a value that qualifies")
                continue
            hit = (chosen[0], chosen[1],
                   f"{how}, occurrence {group.index(chosen[0]) + 1} of {len(group)}")
        else:
            lab, value = group[0], value_at(group[0])
            how = f"occurrence 1 of {len(group)}"
            if value.value is None or value.problems:
                for k, other in enumerate(group[1:4], start=2):
                    again = value_at(other)
                    if again.value is not None and (value.value is None or not again.problems):
                        lab, value, how = other, again, (
                            f"occurrence {k} of {len(group)}: the earlier ones give no valid "
                            f"value")
                        break
            hit = (lab, value, how)
        if fdef.label_order != "preference" or acceptable(fdef, hit[1]):
            return hit
        fallback = fallback or hit
    return fallback


def text_of_parts(parts: Sequence[tuple[object, int, int]]
                  ) -> tuple[str, list[tuple[int, int, Word]]]:
    """The text of row parts ``(RowDoc, first token, end token)`` joined by spaces, and
    where each token of it lies: ``(start, end, OCR word)``."""
    text = ""
    spans: list[tuple[int, int, Word]] = []
    for rd, s, e in parts:
        if e <= s:
            continue
        if text:
            text += " "
        base = len(text) - rd.doc[s].idx  # type: ignore[attr-defined]
        for t in range(s, e):
            tok = rd.doc[t]  # type: ignore[attr-defined]
            word = rd.row.words[rd.word_of_token[t]]  # type: ignore[attr-defined]
            spans.append((base + tok.idx, base + tok.idx + len(tok.text), word))
        text += rd.doc[s:e].text  # type: ignore[attr-defined]
    return text, spans


def words_in(spans: list[tuple[int, int, Word]], start: int, end: int) -> list[Word]:
    """The OCR words (with a letter or digit) of the tokens that overlap ``start:end``."""
    out: list[Word] = []
    for a, b, w in spans:
        if a < end and b > start and any(ch.isalnum() for ch in w.text) \
                and not any(w is x for x in out):
            out.append(w)
    return out


def ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(n, f"{n}th") if n > 0 else \
        ("last" if n == -1 else f"{-n}th from the end")
