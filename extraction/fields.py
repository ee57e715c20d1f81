"""Field extraction: find each field's label on the visual rows, read the value beside or
below it, parse and validate it, and give it a confidence and a page box."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache, partial

from spacy.matcher import Matcher

from extraction.addresses import ends_with_province
from extraction.confidence import evidence_base
from extraction.doctypes import DoctypeDef, FieldDef
from extraction.known import (
    CHOICE_SIM,
    LIST_EXACT,
    LIST_LETTERS,
    closed_list_member,
    mark_closed_list,
)
from extraction.layout import Row
from extraction.nlp import RowDoc, build_matcher, find_entities, match_spans, row_doc, text_doc
from extraction.picking import (
    acceptable,
    choose,
    choose_label,
    text_of_parts,
    whole_words,
    words_in,
)
from extraction.text import fold, nfc, restore_name_marks, strip_marks
from extraction.validators import Parsed, check_citizen_id, parse_value
from extraction.vocab import (
    LEXICON_RESTORED,
    restore_bare_syllables,
    restore_words,
    snap_choice,
    snap_prefix,
)
from models.ocr import line_boxes, union_box
from models.records import ExtractedField, FieldSource, FieldStatus, Reading

__all__ = ["extract_fields", "find_citizen_ids", "check_person_id", "STOP"]

STOP = "__stop__"
# Fields a reviewer must see even when confident: none yet; every field is judged alike.
INVALID_PENALTY = 0.6


@dataclass
class _Label:
    row: int
    key: str
    start: int  # token index
    end: int
    label: int = 0  # which of the field's labels was found


# A label matcher's key: the field's name and which of its labels ("total\x1f2").
_LABEL_NO = "\x1f"
# Where a value with no label ends on its row: a field placed `after` it starts below.
_ROW_END = 1 << 30


def _label_matcher(doctype: DoctypeDef) -> Matcher:
    cached = doctype.__pydantic_private__.get("_matcher") if doctype.__pydantic_private__ else None
    if cached is None:
        cached = _build_label_matcher(doctype)
        doctype._matcher = cached
    return cached


def _build_label_matcher(doctype: DoctypeDef) -> Matcher:
    phrases: dict[str, list[str]] = {f"{f.name}{_LABEL_NO}{i}": [label]
                                     for f in doctype.fields for i, label in enumerate(f.labels)}
    if doctype.stop_labels:
        phrases[STOP] = doctype.stop_labels
    # A printed label is read with a stray mark between its words now and then.
    return build_matcher(phrases, stray_marks=True)


def _value_tokens(rd: RowDoc, start: int, end: int, segment: int,
                  table: bool = False) -> tuple[int, int]:
    """Token range of the ``segment``-th cell between start and end, split at wide gaps
    (and, in a ruled ``table``, at the vertical rules OCR reads as ``|``); a negative
    ``segment`` counts from the end (-1: the cell just before ``end``)."""
    cells = _cells(rd, start, end, table)
    if len(cells) < abs(segment):
        return start, start
    return cells[segment - 1] if segment > 0 else cells[segment]


def _cells(rd: RowDoc, start: int, end: int, table: bool) -> list[tuple[int, int]]:
    if start >= end:
        return []
    gap_limit = max(40, 3.5 * rd.row.height)
    cells: list[tuple[int, int]] = []
    cell_start = start
    for t in range(start + 1, end):
        prev_w = rd.row.words[rd.word_of_token[t - 1]]
        w = rd.row.words[rd.word_of_token[t]]
        if table and rd.doc[t].text == "|":
            cells.append((cell_start, t))
            cell_start = t + 1
        elif w is not prev_w and w.bbox[0] - prev_w.bbox[2] > gap_limit:
            cells.append((cell_start, t))
            cell_start = t
    cells.append((cell_start, end))
    cells = [(a, b) for a, b in cells if b > a]
    # Leaders and colons alone do not make a cell.
    return [c for c in cells if any(rd.doc[i].is_alpha or rd.doc[i].like_num
                                    or any(ch.isdigit() for ch in rd.doc[i].text)
                                    for i in range(*c))]


def _first_word_x(rd: RowDoc, a: int, b: int) -> float | None:
    for t in range(a, b):
        if any(ch.isalnum() for ch in rd.doc[t].text):
            return rd.row.words[rd.word_of_token[t]].bbox[0]
    return None


def _table_columns(docs: list[RowDoc], at: int, reach: int = 8) -> list[float]:
    """Where the columns of the ruled table around row ``at`` start: cells are left-aligned
    in their columns, so the starts of the cells of the nearby rows cluster there. Only
    starts seen on three rows or more count (a centred heading's cells do not)."""
    page, height = docs[at].row.page, max(docs[at].row.height, 10)
    starts: list[float] = []
    for rd in docs[max(0, at - reach):at + reach + 1]:
        if rd.row.page != page:
            continue
        cells = _cells(rd, 0, len(rd.doc), True)
        if len(cells) >= 2:
            xs = (_first_word_x(rd, a, b) for a, b in cells)
            starts.extend(x for x in xs if x is not None)
    starts.sort()
    columns: list[float] = []
    group: list[float] = []
    for x in starts:
        if group and x - group[-1] > 1.5 * height:
            if len(group) >= 3:
                columns.append(group[0])
            group = []
        group.append(x)
    if len(group) >= 3:
        columns.append(group[0])
    return columns


def _table_cell(rd: RowDoc, start: int, end: int, segment: int, columns: list[float],
                found: tuple[int, int]) -> tuple[int, int]:
    """The ``segment``-th cell after ``start`` by the table's ``columns``: two cells whose
    gap is narrow (the first one's text filled its column) are told apart by where the
    columns start. ``found`` (the cell split at gaps and rules) stands when the columns are
    not known."""
    if segment < 1 or len(columns) < 2:
        return found
    first_x = _first_word_x(rd, start, end)
    if first_x is None:
        return found
    height = max(rd.row.height, 10)
    slack = 1.5 * height
    # The column the value starts in, then the ``segment``-th from there.
    col = max((i for i, c in enumerate(columns) if c <= first_x + slack), default=None)
    if col is None or col + segment - 1 >= len(columns):
        return found
    lo = columns[col + segment - 1] - slack
    hi = columns[col + segment] - slack if col + segment < len(columns) else float("inf")
    toks = [t for t in range(start, end)
            if lo <= rd.row.words[rd.word_of_token[t]].bbox[0] < hi]
    if not toks:
        return found
    return toks[0], toks[-1] + 1


def _is_speck(rd: RowDoc) -> bool:
    """A row with at most one letter or digit: OCR noise, not a value."""
    return sum(ch.isalnum() for ch in rd.row.text) <= 1


def _is_misread_mark(rd: RowDoc, start: int, end: int) -> bool:
    """Tokens after a label that are a colon or speck OCR read as a letter or two, with little
    confidence ("Họ và tên if" over the name on the next line): no value."""
    words = {rd.word_of_token[t] for t in range(start, end)}
    text = "".join(rd.row.words[i].text for i in words)
    return sum(ch.isalnum() for ch in text) <= 2 and all(
        rd.row.words[i].confidence < 0.5 for i in words)


def _has_content(rd: RowDoc, start: int, end: int) -> bool:
    return any(any(ch.isalnum() for ch in rd.doc[i].text) for i in range(start, end))


# The labels of the personal-data block every form carries ("Số điện thoại", "Dân tộc",
# "Nơi thường trú"...): a value ends where the next of them begins, whether or not the
# document type lists it. Their key is no field's and no stop label's: only one followed by
# a colon is taken for a label at the very start of a value.
BLOCK = "__block__"


@lru_cache(maxsize=1)
def _block_matcher() -> Matcher:
    from extraction.doctypes import generic_identity

    g = generic_identity()
    phrases = [p for f in g.fields for p in f.labels] + list(g.stop_labels)
    # One word alone ("CCCD", "Email") is as often a value's own word.
    return build_matcher({BLOCK: [p for p in phrases if len(p.split()) > 1]}, stray_marks=True)


def _add_block_labels(docs: list[RowDoc], labels: list[_Label]) -> None:
    """The personal-data block's labels on every row, where no label of the document type
    already is, printed as labels: followed by a colon, or first on their row (a table's
    first column). Inside a value ("Căn cước công dân số | Căn cước ...") they are words."""
    taken: dict[int, list[_Label]] = {}
    for lab in labels:
        taken.setdefault(lab.row, []).append(lab)
    for ri, rd in enumerate(docs):
        for _keys, s, e in match_spans(_block_matcher(), rd.doc):
            printed = not _has_content(rd, 0, s) or (
                e < len(rd.doc) and rd.doc[e].text in (":", "："))
            if printed and not any(s < x.end and x.start < e for x in taken.get(ri, ())):
                labels.append(_Label(ri, BLOCK, s, e))


def extract_fields(doctype: DoctypeDef, rows: list[Row], *,
                   review_threshold: float = 0.8,
                   page_sizes: dict[int, tuple[int, int]] | None = None) -> list[ExtractedField]:
    """Every field of ``doctype`` read from ``rows`` (a document's rows, pages in order).

    ``page_sizes`` (width, height by page index) places fields defined by a region."""
    matcher = _label_matcher(doctype)
    docs = [row_doc(r) for r in rows]
    labels: list[_Label] = []
    for ri, rd in enumerate(docs):
        for keys, s, e in match_spans(matcher, rd.doc):
            if whole_words(rd.doc, s, e):  # "TOTAL" is no label inside "TotalAmount:"
                labels.extend(_labels_at(ri, keys, s, e))
    _add_block_labels(docs, labels)
    by_row: dict[int, list[_Label]] = {}
    for lab in labels:
        by_row.setdefault(lab.row, []).append(lab)

    page_right = _text_right_edges(docs)
    found_at: dict[str, _Label] = {}
    out: list[ExtractedField] = []
    for fdef in doctype.fields:
        anchors = _with_stand_in(doctype, fdef, found_at)
        if not fdef.labels:
            out.append(_unlabelled_after(fdef, docs, page_sizes or {}, by_row, anchors,
                                         found_at))
            continue
        stops = _other_patterns(doctype, fdef)
        hit = choose_label(fdef, _candidates(fdef, labels, anchors),
                           partial(_read_value, fdef, docs=docs, by_row=by_row,
                                   review_threshold=review_threshold, page_right=page_right,
                                   stops=stops))
        if hit is None and (fdef.pattern or fdef.anywhere):
            # No label printed (another layout): the pattern (or the type) alone may still
            # find it.
            f = _unlabelled_after(fdef, docs, page_sizes or {}, by_row, anchors, found_at)
            f._origin = f"{_labels_text(fdef)} not found; {f._origin}"
            out.append(f)
            continue
        if hit is None:
            f = ExtractedField(name=fdef.name, label=_title(fdef), status=FieldStatus.missing,
                               problems=["label not found"] if fdef.required else [])
            f._origin = f"{_labels_text(fdef)} not found" + (
                f" below field {fdef.after!r}" if fdef.after else "")
            out.append(f)
            continue
        lab, value, how = hit
        value._origin = _label_origin(fdef, lab, docs, how)
        if fdef.anywhere and not acceptable(fdef, value):
            elsewhere = _unlabelled_after(fdef, docs, page_sizes or {}, by_row, anchors, {})
            if acceptable(fdef, elsewhere):
                elsewhere._origin = (f"{value._origin} gives no valid value; "
                                     f"{elsewhere._origin}")
                value = elsewhere
        found_at[fdef.name] = lab
        out.append(value)
    for fdef, f in zip(doctype.fields, out, strict=True):
        _known_values(fdef, f)
    _cross_check(out)
    for f in out:
        if f.status == FieldStatus.review or f.status == FieldStatus.accepted:
            f.status = (FieldStatus.accepted
                        if not f.problems and f.confidence >= review_threshold
                        else FieldStatus.review)
    # Values read only to check others have done their work.
    return [f for fdef, f in zip(doctype.fields, out, strict=True) if not fdef.check_only]


def _labels_at(row: int, keys: list[str], start: int, end: int) -> list[_Label]:
    """The labels found at one match: one per field, with the first of the field's labels
    that matched there."""
    out: dict[str, _Label] = {}
    for key in keys:
        name, _, no = key.partition(_LABEL_NO)
        lab = _Label(row, name, start, end, int(no or 0))
        if name not in out or lab.label < out[name].label:
            out[name] = lab
    return list(out.values())


def _labels_text(fdef: FieldDef) -> str:
    return "label " + " / ".join(repr(x) for x in fdef.labels)


def _line_no(docs: list[RowDoc], i: int) -> str:
    """Where row ``i`` is, as a person counts: "page 1 line 14" (specks not counted)."""
    page = docs[i].row.page
    n = sum(1 for j in range(i + 1) if docs[j].row.page == page and not _is_speck(docs[j]))
    return f"page {page + 1} line {n}"


def _label_origin(fdef: FieldDef, lab: _Label, docs: list[RowDoc], how: str) -> str:
    """How a labelled value was found, for ``dossier extract --explain``."""
    printed = docs[lab.row].doc[lab.start:lab.end].text
    out = (f"label {fdef.labels[lab.label]!r} (read {printed!r}) at {_line_no(docs, lab.row)}, "
           f"{how}; value {fdef.value_position.replace('_', ' ')}")
    if fdef.label_order == "preference" and lab.label:
        out += "; the labels before it in the preference order gave no value"
    if fdef.pattern:
        out += f"; pattern {fdef.pattern!r}"
    return out


def _unlabelled_after(fdef: FieldDef, docs: list[RowDoc], page_sizes: dict[int, tuple[int, int]],
                      by_row: dict[int, list[_Label]], anchors: dict[str, _Label],
                      found_at: dict[str, _Label]) -> ExtractedField:
    """An unlabelled value (``_unlabelled``) read below the field it comes ``after``; where
    it was read is noted in ``found_at`` for the fields placed after it."""
    start = 0
    if fdef.after:
        anchor = anchors.get(fdef.after)
        if anchor is None:
            f = ExtractedField(name=fdef.name, label=_title(fdef), status=FieldStatus.missing,
                               problems=["nothing at the field's position"] if fdef.required
                               else [])
            f._origin = f"field {fdef.after!r}, which this one comes after, was not found"
            return f
        start = anchor.row + 1
    f, row = _unlabelled(fdef, docs, page_sizes, by_row, start)
    if fdef.after:
        f._origin = f"below field {fdef.after!r}: {f._origin}"
    if row is not None and f.value is not None:
        found_at[fdef.name] = _Label(row, fdef.name, _ROW_END, _ROW_END)
    return f


def _with_stand_in(doctype: DoctypeDef, fdef: FieldDef,
                   found_at: dict[str, _Label]) -> dict[str, _Label]:
    """The labels found so far, with a stand-in for the ``after`` field's label when OCR did
    not read it: the fields defined before that field come before it on the page, so the
    last of their labels found bounds where this field's label may be."""
    if not fdef.after or fdef.after in found_at:
        return found_at
    names = [f.name for f in doctype.fields]
    earlier = [found_at[n] for n in names[:names.index(fdef.after)] if n in found_at]
    if not earlier:
        return found_at
    return {**found_at, fdef.after: max(earlier, key=lambda lab: (lab.row, lab.start))}


def _known_values(fdef: FieldDef, f: ExtractedField) -> None:
    """A value from a known set (``choices``) or vocabulary (``words``) gets back the accents
    and letters OCR lost, and free text the accents of syllables the Vietnamese word list
    knows beside their neighbours (for review); the reading stays in ``raw``."""
    if f.value is None or not isinstance(f.value, str):
        return
    # As read, before any snapping: exactly a member of the field's closed list or choices.
    if mark_closed_list(f.value, fdef.closed_list, fdef.choices):
        f._evidence[LIST_EXACT] = 1.0
    else:
        member = closed_list_member(f.value, fdef.closed_list)
        if member is not None:
            # The catalogue's phrase with its accents lost or misread.
            f.value = member
            f._evidence[LIST_LETTERS] = 1.0
            return
    if fdef.words:
        f.value, _ = restore_words(_CM.sub(_cm, f.value), fdef.words)
        f.value = _trim_to_vocabulary(f.value, fdef.words)
    if fdef.starts_with:
        f.value = snap_prefix(f.value, fdef.starts_with)
    if fdef.choices:
        hit = snap_choice(f.value, fdef.choices)
        if hit is not None:
            f._evidence[CHOICE_SIM] = hit[1]
            f.value = hit[0]
            return
    if fdef.type == "text" and not fdef.words:
        # Free text: a syllable OCR read without its accents beside one of a known word.
        f.value, changed = restore_bare_syllables(f.value)
        if changed and LEXICON_RESTORED not in f.problems:
            f.problems.append(LEXICON_RESTORED)


# A distance on a card's identifying marks, "C:1,5cm" (cách: at 1.5 cm from): OCR reads the
# unit's c as e and a 1 as l.
_CM = re.compile(r"\b(C:\s*)([\dlI]+(?:,\d+)?)\s*[ce]m\b")


def _cm(m: re.Match[str]) -> str:
    return m.group(1) + m.group(2).replace("l", "1").replace("I", "1") + "cm"


def _trim_to_vocabulary(value: str, words: list[str]) -> str:
    """Trailing words that are none of the vocabulary's (a stamp's letters read after the
    value) are not part of it."""
    known = {fold(w) for w in words}

    def has_word(part: str) -> bool:
        return any(fold(t) in known for t in re.findall(r"[^\W\d_]+", part))

    parts = value.split()
    keep = len(parts)
    while keep > 0 and not has_word(parts[keep - 1]):
        keep -= 1
    return " ".join(parts[:keep]) if keep else value


def _title(fdef: FieldDef) -> str:
    return fdef.title or (fdef.labels[0] if fdef.labels else fdef.name)


def _apply_pattern(fdef: FieldDef, raw: str) -> str | None:
    """The part of ``raw`` the field's pattern matches (its first group, if it has one)."""
    span = _pattern_span(fdef, raw)
    return None if span is None else nfc(raw)[span[0]:span[1]]


def _pattern_span(fdef: FieldDef, raw: str) -> tuple[int, int] | None:
    """Where in ``raw`` the field's pattern matches (its first group, if it has one); all of
    it when the field has no pattern.

    The pattern is tried on the text as read, then without diacritics (OCR often loses
    them): a pattern written with or without them finds the value either way."""
    text = nfc(raw)
    if not fdef.pattern:
        return 0, len(text)
    m = re.search(fdef.pattern, text, re.IGNORECASE)
    if m is None:
        folded = strip_marks(text)
        if len(folded) != len(text):
            return None
        m = re.search(strip_marks(fdef.pattern), folded, re.IGNORECASE)
        if m is None:
            return None
    g = 1 if m.re.groups else 0
    return m.start(g), m.end(g)


def _parse(fdef: FieldDef, text: str) -> Parsed:
    return parse_value(fdef.type, text, date_order=fdef.date_order,
                       keep_punctuation=fdef.keep_punctuation)


_Place = list[tuple[int, RowDoc]]  # rows of the document (index, row or its part) a value is on


def _unlabelled(fdef: FieldDef, docs: list[RowDoc],
                page_sizes: dict[int, tuple[int, int]],
                labels_by_row: dict[int, list[_Label]] | None = None,
                start_row: int = 0) -> tuple[ExtractedField, int | None]:
    """A value found by its place on the first page (or anywhere, by its pattern or its type
    alone), and the index of the last row it was read on. Only rows from ``start_row`` on
    count (a field placed ``after`` another). With ``pick``, ``capitals`` or ``anywhere``,
    the value is chosen among the lines found (``extraction.picking.choose``)."""
    places = _places(fdef, docs, page_sizes, labels_by_row or {}, start_row)
    read = ((place, _value_at(fdef, place)) for place in places)
    if fdef.pick is None and not fdef.capitals and not fdef.anywhere:
        hit = next(read, None)  # the one place the position or the pattern names
    else:
        first: list[tuple[_Place, ExtractedField]] = []

        def keep_first():
            for item in read:
                if not first:
                    first.append(item)
                yield item

        hit = choose(fdef, keep_first()) or (first[0] if first else None)
    if hit is None or hit[1].value is None and not hit[1].raw:
        f = ExtractedField(name=fdef.name, label=_title(fdef), status=FieldStatus.missing,
                           problems=["nothing at the field's position"] if fdef.required
                           else [])
        f._origin = _place_origin(fdef, docs, None)
        return f, None
    place, f = hit
    f._origin = _place_origin(fdef, docs, place)
    return f, place[-1][0]


def _place_origin(fdef: FieldDef, docs: list[RowDoc], place: _Place | None) -> str:
    """How an unlabelled value was found, for ``dossier extract --explain``."""
    pos = fdef.position
    if pos is not None and pos.line is not None:
        how = f"position line {pos.line}"
        if fdef.pick or fdef.capitals:
            how += " (the lines from there on" + (", in capitals" if fdef.capitals else "") + \
                   (f", pick: {fdef.pick})" if fdef.pick else ")")
    elif pos is not None:
        how = f"region {list(pos.region or ())}"
        if fdef.pick or fdef.capitals:
            how += " line by line" + (", in capitals" if fdef.capitals else "") + \
                   (f", pick: {fdef.pick}" if fdef.pick else "")
        else:
            how += ": its lines joined by spaces"
    elif fdef.anywhere:
        how = f"anywhere: a line holding a valid {fdef.type}" + (
            " in capitals" if fdef.capitals else "") + (f", pick: {fdef.pick}" if fdef.pick
                                                       else ", the first")
    else:
        how = f"pattern {fdef.pattern!r} alone" + (f", pick: {fdef.pick}" if fdef.pick else
                                                   ", the first line it matches")
    if fdef.pattern and pos is not None:
        how += f", pattern {fdef.pattern!r}"
    if place is None:
        return how + ": nothing found"
    lines = [_line_no(docs, i) for i, _rd in place]
    return how + ": " + (lines[0] if len(lines) == 1 else f"{lines[0]} to {lines[-1]}")


def _places(fdef: FieldDef, docs: list[RowDoc], page_sizes: dict[int, tuple[int, int]],
            labels_by_row: dict[int, list[_Label]], start_row: int):
    """The places an unlabelled value may be, in page order: the rows a ``position`` or a
    ``pattern`` names, or, with ``pick``, ``capitals`` or ``anywhere``, each line that may
    hold it."""
    content = [i for i in range(start_row, len(docs)) if not _is_speck(docs[i])]
    label_words = {i: {docs[i].word_of_token[t] for lab in labs
                       for t in range(lab.start, lab.end)}
                   for i, labs in labels_by_row.items()}
    several = fdef.pick is not None or fdef.capitals or fdef.anywhere
    pos = fdef.position
    if pos is not None and content:
        page = docs[content[0]].row.page
        on_page = [i for i in content if docs[i].row.page == page]
        if pos.line is not None:
            start = pos.line - 1 if pos.line > 0 else len(on_page) + pos.line
            if not 0 <= start < len(on_page):
                return
            # Choosing among lines, the position is where the search starts: down from
            # it, or up from a line counted from the bottom.
            order = [start] if not several else (
                range(start, len(on_page)) if pos.line > 0 else range(start, -1, -1))
            for k in order:
                place = [(on_page[k], docs[on_page[k]])]
                for i in on_page[k + 1:k + fdef.lines]:
                    if label_words.get(i):
                        break  # a line with a label of its own is another value
                    place.append((i, docs[i]))
                yield place
        elif pos.region is not None and page in page_sizes:
            w, h = page_sizes[page]
            x0, y0, x1, y1 = pos.region
            inside_rows: _Place = []
            for i in on_page:
                rd = docs[i]
                # Word by word: a row can run across the region's edge (a letterhead's
                # agency on the left, the national motto on the right of the same row).
                inside = [wd for wd in rd.row.words
                          if x0 <= (wd.bbox[0] + wd.bbox[2]) / 2 / w <= x1
                          and y0 <= (wd.bbox[1] + wd.bbox[3]) / 2 / h <= y1]
                if len(inside) == len(rd.row.words):
                    inside_rows.append((i, rd))
                elif inside:
                    inside_rows.append((i, row_doc(Row(page=rd.row.page, words=inside))))
            if several:
                yield from ([row] for row in inside_rows)
            elif inside_rows:
                yield inside_rows
    elif pos is None:
        # A pattern or the type alone: a line that holds the value, and the lines a long
        # value wraps onto.
        for k, at in enumerate(content):
            if fdef.pattern and not _apply_pattern(fdef, docs[at].doc.text):
                continue
            place = [(at, docs[at])]
            for i in content[k + 1:k + fdef.lines]:
                rd, prev = docs[i], place[-1][1].row
                # A wrapped line continues in the value's column; another column (a card's
                # fingerprint captions) can share its visual row.
                part = _in_column(rd, place[0][1].row)
                if part is None or rd.row.page != prev.page or (
                        label_words.get(i, set()) & part) or \
                        rd.row.bbox[1] - prev.bbox[3] > 1.2 * max(prev.height, 1):
                    break
                if len(part) < len(rd.row.words):
                    rd = row_doc(Row(page=rd.row.page,
                                     words=[rd.row.words[j] for j in sorted(part)]))
                place.append((i, rd))
            yield place
            if not several:
                return


def _value_at(fdef: FieldDef, place: _Place) -> ExtractedField:
    """The value read on the rows of ``place``: their text joined by spaces, the part the
    pattern matches (all of it without one), parsed by the field's type. Its ``raw`` and
    ``bbox`` are the value's own: the matched text and the words it was read from."""
    text, spans = text_of_parts([(rd, 0, len(rd.doc)) for _i, rd in place])
    span = _pattern_span(fdef, text) if text.strip() else None
    if span is None or not text[span[0]:span[1]].strip():
        return ExtractedField(name=fdef.name, label=_title(fdef), status=FieldStatus.missing,
                              problems=["nothing at the field's position"] if fdef.required
                              else [])
    value_text = text[span[0]:span[1]]
    parsed = _parse(fdef, value_text)
    words = [w for _i, rd in place for w in rd.row.words if any(ch.isalnum() for ch in w.text)]
    conf = sum(w.confidence for w in words) / len(words) if words else 0.0
    end = span[1] if parsed.used_chars is None else min(span[1], span[0] + parsed.used_chars)
    own = words_in(spans, span[0], end) or words_in(spans, *span)
    out = ExtractedField(name=fdef.name, label=_title(fdef), value=parsed.value,
                         raw=value_text.strip(),
                         confidence=round(conf * (1 if parsed.valid else INVALID_PENALTY), 4),
                         page=place[0][1].row.page,
                         bbox=union_box([w.bbox for w in own]) if own else None,
                         status=FieldStatus.review if parsed.value is not None
                         else FieldStatus.missing, problems=parsed.problems)
    out._line_boxes = line_boxes([w.bbox for w in own]) if own else []
    out._evidence.update(evidence_base(fdef.type, words, parsed, value_text))
    out._evidence.update(ocr_mean=conf, wrapped=float(len(place) > 1))
    if fdef.type == "person_name":
        _restore_name(out)
    return out


def _in_column(rd: RowDoc, first: Row) -> set[int] | None:
    """Indexes of the words of ``rd`` that lie in the column of the row ``first`` (they
    overlap its horizontal span, give or take a line's height); None when none does."""
    x0, _, x1, _ = first.bbox
    slack = 2 * max(first.height, 10)
    inside = {i for i, w in enumerate(rd.row.words)
              if w.bbox[2] > x0 - slack and w.bbox[0] < x1 + slack}
    return inside or None


def _candidates(fdef: FieldDef, labels: list[_Label],
                found_at: dict[str, _Label]) -> list[_Label]:
    cands = [lab for lab in labels if lab.key == fdef.name]
    if fdef.after:
        anchor = found_at.get(fdef.after)
        if anchor is None:
            return []
        cands = [lab for lab in cands
                 if (lab.row, lab.start) > (anchor.row, anchor.start)]
    return cands


def _other_patterns(doctype: DoctypeDef, fdef: FieldDef) -> list[re.Pattern[str]]:
    """The patterns of the document's other fields: a line that starts with one holds another
    value, not the continuation of this one."""
    return [re.compile(f.pattern, re.IGNORECASE) for f in doctype.fields
            if f.pattern and f is not fdef]


def _read_value(fdef: FieldDef, lab: _Label, docs: list[RowDoc],
                by_row: dict[int, list[_Label]], review_threshold: float,
                page_right: dict[int, float] | None = None, *,
                stops: Sequence[re.Pattern[str]] = ()) -> ExtractedField:
    page_right = page_right or {}
    parts: list[tuple[RowDoc, int, int]] = []
    rd = docs[lab.row]
    # A bilingual label ("Ngày cấp / Date of issue") can match as two labels of the same
    # field: the value starts after the last of them.
    end = lab.end
    for other in sorted(by_row.get(lab.row, []), key=lambda x: x.start):
        if other.key == lab.key and other.start >= end and \
                not _has_content(rd, end, other.start):
            end = other.end
    lab = _Label(lab.row, lab.key, lab.start, end)
    # The label's column: values below it start no further left than about the label does.
    col_x = rd.row.words[rd.word_of_token[lab.start]].bbox[0] - 2 * max(rd.row.height, 10)
    after_lab = sorted((x for x in by_row.get(lab.row, []) if x.start >= lab.end),
                       key=lambda x: x.start)
    # Another field's label words right at the start of the value, with no colon after
    # them, are the value's own words ("Nơi ở: Số 200 đường ..." is no "Số:" label).
    while after_lab and not _has_content(rd, lab.end, after_lab[0].start) \
            and not _is_printed_label(rd, after_lab[0], by_row.get(lab.row, [])):
        after_lab.pop(0)
    later = [x.start for x in after_lab]
    s, e = _value_tokens(rd, lab.end, min(later) if later else len(rd.doc), fdef.segment,
                         fdef.table)
    if fdef.table:
        s, e = _table_cell(rd, lab.end, min(later) if later else len(rd.doc), fdef.segment,
                           _table_columns(docs, lab.row), (s, e))
    if fdef.value_position == "left":
        # "Công an phường X xác nhận ...": the subject written before the label.
        earlier = [x.end for x in by_row.get(lab.row, []) if x.end <= lab.start]
        ls, le = _value_tokens(rd, max(earlier) if earlier else 0, lab.start, -1, fdef.table)
        if _has_content(rd, ls, le):
            parts.append((rd, ls, le))
    elif fdef.value_position == "above":
        above = lab.row - 1
        while above > 0 and _is_speck(docs[above]) and not by_row.get(above):
            above -= 1
        if above >= 0 and not by_row.get(above) and docs[above].row.page == rd.row.page:
            parts.append((docs[above], 0, len(docs[above].doc)))
    elif _has_content(rd, s, e) and fdef.value_position != "below" \
            and not (fdef.value_position != "right" and _is_misread_mark(rd, s, e)):
        parts.append((rd, s, e))
    elif fdef.value_position != "right" and lab.row + 1 < len(docs):
        below = _value_below(lab, docs, by_row, col_x, fdef.table)
        if below is not None:
            parts.append(below)
    # Long values wrap onto the next rows, which carry no label of their own (in the
    # value's column: a card's photo column or a table's next column may sit beside it).
    if parts and fdef.segment > 1 and parts[0][1] < len(parts[0][0].doc):
        # A table's later column: its wrapped lines stay in that column.
        first_rd, first_tok = parts[0][0], parts[0][1]
        w = first_rd.row.words[first_rd.word_of_token[first_tok]]
        col_x = w.bbox[0] - 2 * max(first_rd.row.height, 10)
    col_x1 = float("inf")
    if parts:
        first_rd, _s, first_end = parts[0]
        if first_end < len(first_rd.doc):
            # A cell beside the value (a table's next column): wrapped lines stop before it.
            col_x1 = first_rd.row.words[first_rd.word_of_token[first_end]].bbox[0] - 5
    if parts and fdef.lines > 1:
        last_row = docs.index(parts[-1][0])
        taken, nxt = 1, last_row + 1
        prev = docs[last_row].row
        while taken < fdef.lines and nxt < len(docs):
            nd = docs[nxt]
            start = _column_start(nd, col_x)
            if any(x.start >= start or (fdef.table and not _has_content(nd, 0, x.start))
                   for x in by_row.get(nxt, [])) or nd.row.page != prev.page:
                break  # a row with a label of its own (in a table, in the first column)
            if _is_speck(nd) or not _has_content(nd, start, len(nd.doc)):
                nxt += 1
                continue
            if nd.row.bbox[1] - prev.bbox[3] > 1.2 * max(prev.height, 1):
                break
            if _NEW_ITEM.match(nd.doc[start:].text):
                break  # "1. Thành phần hồ sơ": the next numbered item, not a continuation
            if nd.doc[start:].text.rstrip().endswith((":", "：")):
                break  # "Thành phần hồ sơ nộp gồm:": a heading of its own, not a value
            if fdef.type == "address" and ends_with_province(
                    " ".join(p[0].doc[p[1]:p[2]].text for p in parts)):
                break  # an address ends with its province
            if any(p.match(nfc(nd.doc[start:].text)) for p in stops):
                break  # "Ngày 20 tháng 05 năm 2017": another field's value
            s3, e3 = _value_tokens(nd, start, len(nd.doc), 1, fdef.table)
            while e3 > s3 and nd.row.words[nd.word_of_token[e3 - 1]].bbox[0] >= col_x1:
                e3 -= 1
            right = col_x1 if col_x1 != float("inf") else page_right.get(nd.row.page)
            if e3 > s3 and right is not None and not _wraps(parts[-1], nd, s3, right):
                break  # the value ended short of its column: the next line is not its own
            if e3 > s3:
                parts.append((nd, s3, e3))
            prev, taken, nxt = nd.row, taken + 1, nxt + 1
    if not parts:
        return ExtractedField(name=fdef.name, label=_title(fdef),
                              status=FieldStatus.missing, problems=["no value next to the label"])
    raw = " ".join(p[0].doc[p[1]:p[2]].text for p in parts).strip()
    matched = _apply_pattern(fdef, raw)
    if matched is None:
        return ExtractedField(name=fdef.name, label=_title(fdef), raw=raw,
                              status=FieldStatus.missing,
                              problems=["the text by the label does not match the pattern"])
    parsed = _parse(fdef, matched)
    own_raw, own = raw, None
    if fdef.pattern:
        # The value's own text and box: the part the pattern matched, not the whole line.
        text, spans = text_of_parts(parts)
        span = _pattern_span(fdef, text)
        if span is not None:
            end = span[1] if parsed.used_chars is None else \
                min(span[1], span[0] + parsed.used_chars)
            own_raw, own = matched.strip(), words_in(spans, span[0], end) or None
        parsed.used_chars = None  # counted in the matched part, not in the row
    words = _words_used(parts, parsed)
    conf = sum(w.confidence for w in words) / len(words) if words else 0.0
    mean_conf = conf
    if not parsed.valid:
        conf *= INVALID_PENALTY
    page = parts[0][0].row.page
    boxed = own or _own_words(parts, words)
    bbox = union_box([w.bbox for w in boxed]) if boxed else None
    out = ExtractedField(name=fdef.name, label=_title(fdef), value=parsed.value,
                         raw=own_raw, confidence=round(max(0.0, min(1.0, conf)), 4), page=page,
                         bbox=bbox,
                         status=FieldStatus.review if parsed.value is not None
                         else FieldStatus.missing,
                         problems=parsed.problems)
    out._line_boxes = line_boxes([w.bbox for w in boxed]) if boxed else []
    label_norm = " ".join(t.norm_ for t in rd.doc[lab.start:lab.end] if t.is_alpha)
    out._evidence.update(evidence_base(fdef.type, words, parsed, raw))
    out._evidence.update(
        ocr_mean=mean_conf,
        below=float(parts[0][0] is not rd),
        wrapped=float(len(parts) > 1),
        label_exact=float(label_norm in _folded_labels(fdef)),
        label_tokens=float(lab.end - lab.start),
    )
    if fdef.type == "person_name":
        _restore_name(out)
    return out


def _restore_name(out: ExtractedField) -> None:
    """The family name's diacritics written back (``restore_name_marks``); the reading as
    OCR gave it stays beside the value. A word the machine wrote rather than read counts as
    a word OCR doubts: a person checks the name unless an exact source or another document
    of the dossier confirms it."""
    if out.value is None:
        return
    fixed = restore_name_marks(out.value)
    if fixed != out.value:
        out.readings.append(Reading(value=out.value, source=FieldSource.ocr,
                                    confidence=out.confidence))
        out._evidence["ocr_min"] = 0.0
        out.value = fixed


def _folded_labels(fdef: FieldDef) -> set[str]:
    return _fold_labels(tuple(fdef.labels))


@lru_cache(maxsize=512)
def _fold_labels(labels: tuple[str, ...]) -> set[str]:
    return {" ".join(t.norm_ for t in text_doc(label) if t.is_alpha) for label in labels}


def _is_printed_label(rd: RowDoc, lab: _Label, on_row: list[_Label]) -> bool:
    """A label as printed: a stop label, or followed by a colon."""
    if any(x.key == STOP and x.start == lab.start for x in on_row):
        return True
    return lab.end < len(rd.doc) and rd.doc[lab.end].text in (":", "：")


def _text_right_edges(docs: list[RowDoc]) -> dict[int, float]:
    """Where the text column ends on each page: the right edge most full lines reach (a
    high percentile of the rows' right ends, so one stray mark further right does not
    count)."""
    ends: dict[int, list[float]] = {}
    for rd in docs:
        # Confident words only: specks and scanner borders at the page's edge read as
        # stray letters of low confidence.
        words = [w for w in rd.row.words
                 if w.confidence >= 0.7 and sum(ch.isalnum() for ch in w.text) >= 2]
        if len(words) >= 3:
            ends.setdefault(rd.row.page, []).append(max(w.bbox[2] for w in words))
    out = {}
    for page, xs in ends.items():
        xs.sort()
        out[page] = xs[min(len(xs) - 1, int(0.9 * len(xs)))]
    return out


def _wraps(prev: tuple[RowDoc, int, int], nd: RowDoc, start: int, right: float) -> bool:
    """Whether a value's line runs on to the next one: text wraps only when the next word
    did not fit, so a line that ends well short of its column's right edge (by more than
    the next line's first word) ends the value."""
    rd, s, e = prev
    words = [rd.row.words[rd.word_of_token[t]] for t in range(s, e)
             if any(ch.isalnum() for ch in rd.doc[t].text)]
    if not words:
        return True
    end = max(w.bbox[2] for w in words)
    first = nd.row.words[nd.word_of_token[start]]
    room = right - end
    return room <= (first.bbox[2] - first.bbox[0]) + 2.5 * max(rd.row.height, 10)


_NEW_ITEM = re.compile(r"^\s*(?:\d{1,2}|[a-zđ]|[IVX]{1,4})\s*[.)]\s")


def _column_start(rd: RowDoc, col_x: float) -> int:
    """First token of a row whose word reaches into the column starting at ``col_x``."""
    for t in range(len(rd.doc)):
        if rd.row.words[rd.word_of_token[t]].bbox[2] > col_x:
            return t
    return len(rd.doc)


def _value_below(lab: _Label, docs: list[RowDoc], by_row: dict[int, list[_Label]],
                 col_x: float, table: bool = False) -> tuple[RowDoc, int, int] | None:
    """The value on the row under a label, in the label's column. A label printed on two
    lines ("Có giá trị đến /" over "Date of expiry:") is followed to its second line."""
    lrd = docs[lab.row]
    slack = 2 * max(lrd.row.height, 10)
    # The label's right end: a value below it starts before that (a value far to the right
    # belongs to another column).
    lab_x1 = lrd.row.words[lrd.word_of_token[lab.end - 1]].bbox[2] + slack
    nxt = lab.row + 1
    for _ in range(5):
        # A stray colon or speck can sit on a row of its own between a label and its value.
        while nxt + 1 < len(docs) and _is_speck(docs[nxt]) and not by_row.get(nxt):
            nxt += 1
        if nxt >= len(docs) or docs[nxt].row.page != docs[lab.row].row.page:
            return None
        nd = docs[nxt]
        start = _column_start(nd, col_x)
        if not _has_content(nd, start, len(nd.doc)) or \
                nd.row.words[nd.word_of_token[start]].bbox[0] > lab_x1:
            # Only another column (a card's photo side) on this row: look further down.
            nxt += 1
            continue
        here = sorted((x for x in by_row.get(nxt, []) if x.start >= start),
                      key=lambda x: x.start)
        if here and here[0].key == lab.key and not _has_content(nd, start, here[0].start):
            start = here[0].end
            here = [x for x in here[1:] if x.start >= start]
            first_label = here[0].start if here else len(nd.doc)
            if not _has_content(nd, start, first_label):
                nxt += 1
                continue
        first_label = here[0].start if here else len(nd.doc)
        if first_label > start and _has_content(nd, start, first_label):
            s2, e2 = _value_tokens(nd, start, first_label, 1, table)
            return nd, s2, e2
        return None
    return None


def _own_words(parts: list[tuple[RowDoc, int, int]], words: list) -> list:
    """Of ``words``, those with a letter or digit of the value: "tên:", the label's last
    word read with the colon the value starts at, is not the value's (nor its box's)."""
    own = {id(rd.row.words[rd.word_of_token[t]]) for rd, s, e in parts for t in range(s, e)
           if any(ch.isalnum() for ch in rd.doc[t].text)}
    return [w for w in words if id(w) in own]


def _words_used(parts: list[tuple[RowDoc, int, int]], parsed: Parsed):
    words = []
    for rd, s, e in parts:
        seen: set[int] = set()
        for t in range(s, e):
            wi = rd.word_of_token[t]
            if wi not in seen and any(ch.isalnum() for ch in rd.doc[t].text):
                seen.add(wi)
                words.append(rd.row.words[wi])
    if parsed.used_chars is not None and len(parts) == 1:
        # Keep the words the value came from, not trailing text after it.
        rd, s, e = parts[0]
        base = rd.token_start_char[s] if s < len(rd.token_start_char) else 0
        limit = base + parsed.used_chars
        words = [rd.row.words[wi] for wi in sorted({rd.word_of_token[t] for t in range(s, e)
                                                    if rd.token_start_char[t] < limit})
                 if any(ch.isalnum() for ch in rd.row.words[wi].text)]
    return words


FUTURE_BIRTH = "the date of birth is after today"
EXPIRY_NOT_BIRTHDAY = ("a card expires on its holder's 25th, 40th or 60th birthday: this date "
                       "is none of them")


def _cross_check(fields: list[ExtractedField]) -> None:
    """Checks across fields: the ID's century/sex digit and birth year against the date of
    birth and the sex, and a card's expiry against its holder's birthdays. A passing check is
    evidence for both values; a failing one a problem."""
    by_name = {f.name: f for f in fields}
    dob = by_name.get("date_of_birth")
    sex = by_name.get("sex")
    for f in fields:
        if f.name.endswith("date_of_birth") and f.value and f.value > date.today().isoformat():
            f.problems.append(FUTURE_BIRTH)
            f._evidence["check_bad"] = 1.0
    _check_expiry(by_name.get("expiry_date"), dob)
    for cid in fields:
        if not cid.name.endswith("id") or cid.name == "old_id":
            continue
        if cid.name != "citizen_id":
            # husband_id goes with husband_date_of_birth (or a form's husband_birth_year),
            # and so on.
            stem = cid.name[:-3]
            pdob = by_name.get(f"{stem}_date_of_birth") or by_name.get(f"{stem}_birth_year")
            psex = by_name.get(f"{stem}_sex")
        else:
            pdob, psex = dob, sex
        check_person_id(cid, pdob, psex)


def check_person_id(cid: ExtractedField, dob: ExtractedField | None,
                    sex: ExtractedField | None) -> None:
    """A 12-digit ID's century/sex digit and birth year against its person's date of birth
    (or birth year) and sex, read elsewhere on the document. A passing check is evidence for
    both values; a failing one a problem of both (either reading can be the wrong one)."""
    if not cid.value or cid.problems or len(cid.value) != 12:
        return
    year = _birth_year(dob.value) if dob and dob.value and not dob.problems else 0
    if dob and year:
        problems = check_citizen_id(cid.value, year)
        if problems:
            cid.problems.extend(p for p in problems if p not in cid.problems)
            dob.problems.extend(p for p in problems if p not in dob.problems)
            cid._evidence["check_bad"] = dob._evidence["check_bad"] = 1.0
        else:
            cid._evidence["check_ok"] = dob._evidence["check_ok"] = 1.0
    if sex and sex.value and not cid.problems:
        female = int(cid.value[3]) % 2 == 1
        if female != (sex.value == "Nữ"):
            cid.problems.append("the ID's sex digit does not match the sex")
            cid._evidence["check_bad"] = sex._evidence["check_bad"] = 1.0
        else:
            cid._evidence["check_ok"] = sex._evidence["check_ok"] = 1.0

def _birth_year(value: str) -> int:
    """The year of a date of birth (ISO) or of a year read alone; 0 when it is neither."""
    head = value[:4]
    if not head.isdigit() or (len(value) > 4 and value[4] != "-"):
        return 0
    year = int(head)
    return year if 1900 <= year <= date.today().year else 0


# Ages at which a citizen ID card expires (Law on Citizen Identification, art. 21): the card
# is valid until the holder's birthday at the first of them more than two years after issue.
CARD_EXPIRY_AGES = (25, 40, 60)


def card_expiries(dob: str) -> list[str]:
    """The dates a card of a holder born on ``dob`` (ISO) can expire on."""
    try:
        born = date.fromisoformat(dob)
    except ValueError:
        return []
    out = []
    for age in CARD_EXPIRY_AGES:
        try:
            out.append(born.replace(year=born.year + age).isoformat())
        except ValueError:  # born on 29 February
            out.append(date(born.year + age, 2, 28).isoformat())
    return out


def _check_expiry(exp: ExtractedField | None, dob: ExtractedField | None) -> None:
    """A card's expiry is one of its holder's birthdays (``card_expiries``). A reading one
    character away from exactly one of them is that date (the reading kept beside it, for a
    person to check); a reading near none of them is a problem of the expiry or the birth date."""
    if exp is None or dob is None or not dob.value or dob.problems:
        return
    dates = card_expiries(dob.value)
    if not dates:
        return
    if exp.value in dates:
        exp._evidence["check_ok"] = dob._evidence["check_ok"] = 1.0
        return
    read = (exp.raw or "") if exp.value is None else exp.value
    digits = re.sub(r"\D", "", read)
    near = [d for d in dates if _one_off(digits, _dmy_digits(d))]
    if len(near) == 1 and (exp.value is not None or exp.raw):
        exp.readings.append(Reading(value=exp.value or exp.raw or "", source=exp.source,
                                    confidence=exp.confidence))
        exp.value, exp.problems = near[0], [EXPIRY_FROM_BIRTHDAY]
        exp.status = FieldStatus.review
        exp._evidence["check_bad"] = 1.0
    elif exp.value is not None:
        # Either reading can be the wrong one.
        for f in (exp, dob):
            f.problems.append(EXPIRY_NOT_BIRTHDAY)
            f._evidence["check_bad"] = 1.0


EXPIRY_FROM_BIRTHDAY = ("expiry read with one character wrong; written as the holder's "
                        "birthday it is closest to: check it")


def _dmy_digits(iso: str) -> tuple[str, str]:
    y, m, d = iso.split("-")
    return f"{d}{m}{y}", f"{y}{m}{d}"


def _one_off(digits: str, forms: tuple[str, str]) -> bool:
    """Whether ``digits`` (the reading's) differ from one of ``forms`` (a date's digits, day
    first and year first) in at most one place."""
    for form in forms:
        if len(digits) == len(form) and sum(a != b for a, b in zip(digits, form,
                                                                   strict=True)) <= 1:
            return True
    return False


def find_citizen_ids(rows: list[Row]) -> list[str]:
    """Valid 12-digit personal ID numbers anywhere in the rows (entity ruler)."""
    ids: list[str] = []
    for r in rows:
        doc = find_entities(row_doc(r).doc)
        for ent in doc.ents:
            if ent.label_ == "CITIZEN_ID" and not check_citizen_id(ent.text):
                if ent.text not in ids:
                    ids.append(ent.text)
    return ids
