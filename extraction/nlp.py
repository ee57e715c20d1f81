"""The spaCy side: OCR rows become spaCy Docs with diacritic-free norms, labels and keywords
are found with fuzzy token Matchers, and an EntityRuler marks ID numbers and dates.

The tokenizer is syllable-based (no pyvi word segmentation): labels and values on forms are
matched syllable by syllable, and it keeps ``dossier extract`` quick to start.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import spacy
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.pipeline import EntityRuler
from spacy.tokens import Doc

from extraction.layout import Row
from extraction.text import TOKEN_RE, fold, nfc

__all__ = ["get_nlp", "RowDoc", "row_doc", "text_doc", "phrase_pattern", "build_matcher",
           "find_entities", "match_spans"]


_nlp: Language | None = None
_nlp_lock = threading.Lock()


def get_nlp() -> Language:
    """The process's one spaCy pipeline, built by the first caller while others wait. Two
    threads building it side by side (the extraction warm-up beside a dossier's extraction)
    would each get a pipeline of its own, and a Doc made with one, matched with the other's
    vocabulary, fails with spaCy's E018 ("Can't retrieve string for hash")."""
    global _nlp
    if _nlp is None:
        with _nlp_lock:
            if _nlp is None:
                _nlp = _build_nlp()
    return _nlp


def _build_nlp() -> Language:
    nlp = spacy.blank("vi", config={"nlp": {"tokenizer": {"use_pyvi": False}}})
    # add_pipe is typed as returning any pipe; this name makes an EntityRuler.
    ruler = cast(EntityRuler, nlp.add_pipe("entity_ruler"))
    date_words: list[dict[str, Any]] = [{"NORM": "ngay"}, {"IS_DIGIT": True}, {"NORM": "thang"}, {"IS_DIGIT": True},
                  {"NORM": "nam"}, {"IS_DIGIT": True, "LENGTH": 4}]
    ruler.add_patterns([
        {"label": "CITIZEN_ID", "pattern": [{"TEXT": {"REGEX": r"^\d{12}$"}}]},
        {"label": "DATE", "pattern": [{"TEXT": {"REGEX": r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}$"}}]},
        {"label": "DATE", "pattern": date_words},
    ])
    return nlp


@dataclass
class RowDoc:
    row: Row
    doc: Doc
    word_of_token: list[int]  # OCR word index in row.words of each token
    token_start_char: list[int]  # char offset of each token in row text


def _tokens(text: str) -> list[tuple[str, int]]:
    out = []
    for m in TOKEN_RE.finditer(text):
        tok, start = m.group(0), m.start()
        # A lower-case letter followed by a capital inside one word: two words OCR read
        # without the space between them ("SốCCCD"), matched as two tokens.
        cuts = [i for i in range(1, len(tok)) if tok[i - 1].islower() and tok[i].isupper()]
        for a, b in zip([0, *cuts], [*cuts, len(tok)], strict=True):
            out.append((tok[a:b], start + a))
    return out


@lru_cache(maxsize=32768)
def _word_tokens(word: str) -> tuple[tuple[str, int], ...]:
    """The tokens of one OCR word: the same words recur on every row and page."""
    return tuple(_tokens(nfc(word)))


def row_doc(row: Row) -> RowDoc:
    nlp = get_nlp()
    words, spaces, owner, starts = [], [], [], []
    offset = 0
    for wi, w in enumerate(row.words):
        toks = _word_tokens(w.text)
        for ti, (tok, start) in enumerate(toks):
            words.append(tok)
            end = start + len(tok)
            spaces.append(ti == len(toks) - 1 or end < (toks[ti + 1][1]))
            owner.append(wi)
            starts.append(offset + start)
        offset += len(w.text) + 1
    doc = Doc(nlp.vocab, words=words, spaces=spaces)
    for token in doc:
        token.norm_ = fold(token.text)
    return RowDoc(row=row, doc=doc, word_of_token=owner, token_start_char=starts)


def text_doc(text: str) -> Doc:
    """A Doc of free text with folded norms (for keyword matching over a page)."""
    nlp = get_nlp()
    toks = _tokens(nfc(text))
    words = [t for t, _ in toks]
    spaces = [i == len(toks) - 1 or toks[i][1] + len(toks[i][0]) < toks[i + 1][1]
              for i in range(len(toks))]
    doc = Doc(nlp.vocab, words=words, spaces=spaces)
    for tok in doc:
        tok.norm_ = fold(tok.text)
    return doc


_STRAY_MARKS = ("-", "–", "—", "_", "~", "'", "`", "‘", "’", "\"", "“", "”", "|", "/")


def phrase_pattern(phrase: str, stray_marks: bool = False) -> list[dict]:
    """Token pattern for a label: fuzzy on long syllables, punctuation optional; with
    ``stray_marks`` also a mark between two of its words."""
    pattern: list[dict] = []
    for tok, _ in _tokens(nfc(phrase)):
        norm = fold(tok)
        if not any(ch.isalnum() for ch in norm):
            pattern.append({"IS_PUNCT": True, "OP": "?"})
            continue
        if stray_marks and pattern and pattern[-1].get("OP") != "?":
            # OCR reads a stray mark between two words of a label ("công ty-viết"); not
            # a comma, which parts a value's words ("Huyện Thanh Miện, Tỉnh" is no
            # "Diện tích").
            pattern.append({"TEXT": {"IN": list(_STRAY_MARKS)}, "OP": "?"})
        if len(norm) >= 6:
            pattern.append({"NORM": {"FUZZY2": norm}})
        elif len(norm) >= 4:
            pattern.append({"NORM": {"FUZZY1": norm}})
        else:
            pattern.append({"NORM": norm})
    # Trailing optional punctuation adds nothing to a match; drop it.
    while pattern and pattern[-1].get("OP") == "?":
        pattern.pop()
    return pattern


def build_matcher(phrases: dict[str, list[str]], stray_marks: bool = False) -> Matcher:
    """A Matcher with one rule per key, matching any of its phrases (see
    :func:`phrase_pattern` for ``stray_marks``)."""
    matcher = Matcher(get_nlp().vocab)
    for key, texts in phrases.items():
        patterns = [p for p in (phrase_pattern(t, stray_marks) for t in texts) if p]
        if patterns:
            matcher.add(key, patterns)
    _EXACT[id(matcher)] = (matcher, frozenset(
        _folded(t) for texts in phrases.values() for t in texts))
    return matcher


# Each matcher's phrases as folded words, to tell an exact match from a fuzzy one (the
# matcher is kept beside them so that its id is not reused).
_EXACT: dict[int, tuple[Matcher, frozenset[str]]] = {}


def _folded(text: str) -> str:
    return " ".join(fold(t) for t, _ in _tokens(nfc(text)) if any(ch.isalnum() for ch in t))


def match_spans(matcher: Matcher, doc: Doc) -> list[tuple[list[str], int, int]]:
    """Non-overlapping matches, longest first: (keys, start token, end token).

    One span may carry several keys (the same label serves several fields).
    """
    vocab = doc.vocab
    found = matcher(doc)
    keys: dict[tuple[int, int], list[str]] = {}
    for m, s, e in found:
        keys.setdefault((s, e), []).append(vocab.strings[m])
    phrases = _EXACT.get(id(matcher), (None, frozenset()))[1]

    def fuzzy(s: int, e: int) -> bool:
        return " ".join(t.norm_ for t in doc[s:e] if any(ch.isalnum() for ch in t.text)) \
            not in phrases

    # Longest first; of two as long that overlap, the one read exactly ("Bình Ngày sinh:" is
    # a name and the label "Ngày sinh", not "Sinh ngày" one letter off); then the first.
    kept: list[tuple[int, int]] = []
    for s, e in sorted(keys, key=lambda se: (se[0] - se[1], fuzzy(*se), se[0])):
        if all(e <= a or s >= b for a, b in kept):
            kept.append((s, e))
    return sorted(((keys[(s, e)], s, e) for s, e in kept), key=lambda x: x[1])


def find_entities(doc: Doc) -> Doc:
    """Run the entity ruler over a Doc built by :func:`row_doc` or :func:`text_doc`."""
    return get_nlp().get_pipe("entity_ruler")(doc)
