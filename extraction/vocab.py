"""Values from a known set: a field whose value is one of a few fixed texts (``choices``: the
offices that issue a card), or whose words come from a small vocabulary (``words``: the terms a
card's identifying marks are written in).

OCR loses accents on small or capital letters and slips a letter here and there; a value that is
known to be one of a few texts can be given back exactly. Each change is recorded as evidence for
the calibrated scorer, so a snapped value is judged as such, not as a clean reading.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

from extraction.names import FAMILY, GIVEN
from extraction.text import fold, in_case, nfc
from extraction.validators import unit_names

__all__ = ["snap_choice", "snap_prefix", "restore_words", "restore_bare_syllables",
           "LEXICON_RESTORED", "syllables", "lexicon_share"]

LEXICON_RESTORED = "accents of some words restored from the Vietnamese word list: check them"

# A reading this similar (letters without accents) to one choice, and clearly more similar to it
# than to any other, is that choice.
MIN_SIMILARITY = 0.85
MARGIN = 0.05


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", fold(text).casefold()).strip()


def _best(scored: list[tuple[float, str]]) -> tuple[str, float] | None:
    scored = sorted(scored, reverse=True)
    if not scored or scored[0][0] < MIN_SIMILARITY:
        return None
    if len(scored) > 1 and scored[1][0] > scored[0][0] - MARGIN:
        return None
    return scored[0][1], scored[0][0]


def snap_choice(value: str, choices: list[str]) -> tuple[str, float] | None:
    """The choice ``value`` is a reading of, with the similarity of their letters (1.0: same
    letters, only accents or spacing differ); None when no choice is close enough or two are.
    A reading that starts with a choice and goes on (the next line's words read into it) is
    that choice too."""
    key = _key(value)
    whole = _best([(SequenceMatcher(None, key, _key(c), autojunk=False).ratio(), c)
                   for c in choices])
    if whole is not None:
        return whole
    words = key.split()
    return _best([(SequenceMatcher(None, " ".join(words[:len(_key(c).split())]), _key(c),
                                   autojunk=False).ratio(), c)
                  for c in choices if len(_key(c).split()) < len(words)])


_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _one_letter_off(tok: str, by_key: dict[str, set[str]]) -> set[str]:
    """The vocabulary word a word of three letters or more is a one-letter slip of (rudi:
    ruồi): of those one letter away, the one whose letters and accents match the reading's
    best; none when two match alike."""
    key = fold(tok).casefold()
    if len(key) < 3:
        return set()
    near = [f for k, fs in by_key.items() if len(k) == len(key)
            and sum(a != b for a, b in zip(k, key, strict=True)) == 1 for f in fs]
    low = tok.lower()
    scored = sorted(((sum(a == b for a, b in zip(low, f.lower(), strict=False)), f)
                     for f in near), reverse=True)
    if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return set()
    return {scored[0][1]}


def restore_words(value: str, words: list[str]) -> tuple[str, int]:
    """``value`` with each word that has the letters of a vocabulary word (accents aside) but
    not its accents written as that word, in the reading's case (of several such words, the
    one whose accents are closest to the reading's); and how many words changed."""
    by_key: dict[str, set[str]] = {}
    for w in words:
        by_key.setdefault(fold(w).casefold(), set()).add(w)
    changed = 0

    def fix(m: re.Match[str]) -> str:
        nonlocal changed
        tok = m.group(0)
        forms = by_key.get(fold(tok).casefold()) or _one_letter_off(tok, by_key)
        if not forms:
            return tok
        if len(forms) > 1:
            # Same letters (dưới, đuôi): the one whose accents are closest to the reading's.
            low = tok.lower()
            scored = sorted(((sum(a == b for a, b in zip(low, f.lower(), strict=False)), f)
                             for f in forms), reverse=True)
            if scored[0][0] == scored[1][0]:
                return tok
            forms = {scored[0][1]}
        (form,) = forms
        if form.casefold() == tok.casefold():
            return tok
        changed += 1
        return in_case(form, tok)

    return _WORD.sub(fix, value), changed


def _same_word(read: str, word: str) -> bool:
    a, b = _key(read), _key(word)
    if a == b:
        return True
    # One OCR slip in a longer word ("PHAM" for "PHẦN" is two: no).
    return len(b) >= 4 and len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) <= 1


def snap_prefix(value: str, prefixes: list[str]) -> str:
    """``value`` with its first words written as the prefix they are a reading of (the same
    letters accents aside, word by word, or one slip in a longer word), in the reading's
    case; the longest such prefix wins, and the words after it are kept as read."""
    words = value.split()
    for prefix in sorted(prefixes, key=lambda p: -len(p.split())):
        parts = prefix.split()
        if len(parts) > len(words) or not all(
                _same_word(r, w) for r, w in zip(words, parts, strict=False)):
            continue
        written = [w.upper() if r.isupper() else
                   w[:1].upper() + w[1:].lower() if r[:1].isupper() else w.lower()
                   for r, w in zip(words, parts, strict=False)]
        return " ".join(written + words[len(parts):])
    return value


@lru_cache(maxsize=1)
def _pairs() -> dict[str, set[tuple[str, str]]]:
    """Two-syllable words of pyvi's Vietnamese word list (about 31,000 words), by their
    letters without accents: ``dang ky`` -> {(đăng, ký)}."""
    from importlib import resources

    text = resources.files("pyvi").joinpath("models/words.txt").read_text("utf-8")
    out: dict[str, set[tuple[str, str]]] = {}
    for line in text.splitlines():
        if len(line.split()) != 2:
            continue  # not two syllables: skipped before it is cased and composed
        parts = nfc(line.strip().lower()).split()
        if all(p.isalpha() for p in parts):
            out.setdefault(f"{fold(parts[0])} {fold(parts[1])}", set()).add((parts[0], parts[1]))
    return out


def _is_bare(word: str) -> bool:
    return len(word) >= 2 and word.isascii() and word.isalpha()


def restore_bare_syllables(value: str) -> tuple[str, int]:
    """``value`` (Vietnamese text with some of its accents read) with each syllable read
    without any accent written as the word list has it beside its neighbour: ``Dang ký`` is
    ``Đăng ký``, ``DU LICH`` is ``DU LỊCH``. A syllable changes only when every word the list
    has with those letters beside the neighbour's (accents as read, where read) gives it the
    same form; and how many changed. Text with no accent at all is left as it is: it may not
    be Vietnamese."""
    if value.isascii():
        return value, 0
    spans = [(m.start(), m.end(), m.group(0)) for m in _WORD.finditer(value)]
    pairs = _pairs()
    forms: dict[int, set[str]] = {}
    for i, (_, _, w) in enumerate(spans):
        if not _is_bare(w):
            continue
        found: set[str] = set()
        for j in (i - 1, i + 1):
            if not 0 <= j < len(spans):
                continue
            a, b = (j, i) if j < i else (i, j)
            if value[spans[a][1]:spans[b][0]].strip():
                continue  # not neighbours: punctuation between
            other = spans[j][2].lower()
            for left, right in pairs.get(f"{fold(spans[a][2]).lower()} "
                                         f"{fold(spans[b][2]).lower()}", ()):
                mine, theirs = (right, left) if j < i else (left, right)
                if _is_bare(other) or theirs == nfc(other):
                    found.add(mine)
        forms[i] = found
    out, last, changed = [], 0, 0
    for i, (start, end, w) in enumerate(spans):
        chosen = forms.get(i)
        if not chosen or len(chosen) != 1:
            continue
        (form,) = chosen
        if form == w.lower():
            continue
        out.append(value[last:start] + in_case(form, w))
        last = end
        changed += 1
    out.append(value[last:])
    return "".join(out), changed


@lru_cache(maxsize=1)
def syllables() -> frozenset[str]:
    """Every syllable of pyvi's Vietnamese word list, of common family and given names, and
    of the names of provinces, districts and wards, lower case and composed (about 8,000):
    OCR that slips a letter or an accent mostly writes a syllable Vietnamese does not have."""
    from importlib import resources

    text = resources.files("pyvi").joinpath("models/words.txt").read_text("utf-8")
    words = [*text.splitlines(), *FAMILY, *GIVEN, *unit_names()]
    return frozenset(nfc(s) for line in words for s in line.lower().split() if s.isalpha())


def lexicon_share(text: str) -> float:
    """The share of the words of ``text`` (letters only) that are Vietnamese syllables, as
    read; 1.0 when it has none."""
    words = [w.lower() for w in _WORD.findall(nfc(text))]
    if not words:
        return 1.0
    known = syllables()
    return sum(w in known for w in words) / len(words)
