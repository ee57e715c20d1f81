"""A held value read a second time, where that alone could settle its document.

Most documents wait for a person because of one or two values the scorer puts a little
under the auto-accept threshold: a long free text, an address, a name nothing on the papers
confirms. Such a value's printed lines are read again, each alone (``ocr.reread``). When the
second reading says the same, letter for letter and accent for accent, the value is accepted
if its probability reaches the calibration's second threshold, chosen on the dev split among
values read twice alike (``extraction.training``), as the first is among all values.

Only documents whose every held value could be settled so are read again (at most
``MAX_HELD`` values), so the cost is a few lines for a document that then needs no person.
The second reading is kept on the field (``readings``, source ``reread``), whether or not it
agrees: a reviewer sees it beside the first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from extraction.confidence import Calibrator, held_whatever_is_read, kind_of
from extraction.names import RESTORED as NAME_ACCENTS_RESTORED
from extraction.vocab import LEXICON_RESTORED
from models.ocr import BBox
from models.records import ExtractedDocument, ExtractedField, FieldSource, FieldStatus, Reading

__all__ = ["LineReader", "MAX_HELD", "LIFTED", "candidates", "confirmable", "joined",
           "same_reading", "settle_by_rereading"]

# A document holding more values than this for a person is not read again.
MAX_HELD = 3
# Problems a second reading that says the same lifts: accents restored from the word list or
# from common names, which the second reading then reads on the page itself.
LIFTED = (LEXICON_RESTORED, NAME_ACCENTS_RESTORED)
# The text of each box on the dossier's page ``page`` (None: that page cannot be read again).
LineReader = Callable[[int, list[BBox]], list[str] | None]
# Field types whose value is its reading's digits, rewritten (a date read 23/05/1995 is
# 1995-05-23): a second reading agrees when its digits are the first's. An amount's
# separators count too: "10.000,000" is not "10,000,000".
_DIGIT_KINDS = frozenset({"date", "citizen_id", "phone", "enterprise_code"})
_NUMBER_KINDS = frozenset({"number"})
_NOT_WORD = re.compile(r"[\W_]+")
# What a second reading cannot catch, since it reads the same: a value cut short after a
# unit's word, its name missing ("Trạm y tế phường", "..., Huyện") ...
_ENDS_WITH_UNIT = re.compile(
    r"(?:^|\s)(?:xã|phường|huyện|tỉnh|quận|thị xã|thị trấn|thành phố)\W*$", re.IGNORECASE)
# ... a unit's word whose accents the print loses for both readings ("Tinh Gia Lai", "Uy ban");
_BARE_UNIT = re.compile(r"\b(?:tinh|huyen|phuong|thanh pho|thi xa|thi tran|uy ban)\s+\w",
                        re.IGNORECASE)
# ... a free text in capitals, whose small accents the print loses for both readings alike
# ("IN ẤN VA QUẢNG CÁO"); and a free text of one word, a fragment of a longer one as often as
# not.
_MIN_TEXT_WORDS = 2


def joined(texts: list[str]) -> str:
    """A value's second reading: the texts of its lines, read one by one, as one text (what
    ``same_reading`` compares, at run time and when the second thresholds are chosen)."""
    return " ".join(t for t in texts if t.strip())


def _letters(text: str) -> str:
    return _NOT_WORD.sub("", unicodedata.normalize("NFC", text).casefold())


def same_reading(f: ExtractedField, text: str) -> bool:
    """Whether ``text``, a second reading of ``f``'s lines, says what ``f`` says: the same
    letters and digits with the same accents (case, spaces and punctuation aside); for a
    value made of its reading's digits, the same digits as the first reading (and for an
    amount, the same separators between them)."""
    if not text.strip() or f.value is None:
        return False
    kind = kind_of(f)
    if kind in _DIGIT_KINDS:
        digits = re.sub(r"\D", "", text)
        return bool(digits) and digits == re.sub(r"\D", "", f.raw or f.value)
    if kind in _NUMBER_KINDS:
        number = re.sub(r"[^\d.,]", "", text).strip(".,")
        return bool(number) and number == re.sub(r"[^\d.,]", "", f.raw or f.value).strip(".,")
    return _letters(text) == _letters(f.value)


def confirmable(f: ExtractedField) -> bool:
    """Whether a second reading that agrees could confirm ``f``: not when what may be wrong
    with it is what a second reading reads the same (``_ENDS_WITH_UNIT``, ``_BARE_UNIT``,
    a free text in capitals or of one word)."""
    value = unicodedata.normalize("NFC", f.value or "")
    kind = kind_of(f)
    if kind in ("text", "address"):
        if _ENDS_WITH_UNIT.search(value) or _BARE_UNIT.search(value):
            return False
        letters = [ch for ch in value if ch.isalpha()]
        if kind == "text" and (len(value.split()) < _MIN_TEXT_WORDS
                               or (len(letters) >= 4 and all(ch.isupper() for ch in letters))):
            return False
    return bool(value.strip())


def candidates(docs: list[ExtractedDocument], calibrator: Calibrator | None
               ) -> list[ExtractedField]:
    """The held values worth a second reading: in documents whose every held value is one
    (at most ``MAX_HELD``), read by OCR, held by their probability, a word Tesseract doubted
    or accents restored (``LIFTED``), nothing else, and at or above the calibration's second
    threshold."""
    if calibrator is None or (calibrator.reread_threshold is None
                              and not calibrator.reread_kinds):
        return []
    out: list[ExtractedField] = []
    for doc in docs:
        held = [f for f in doc.fields if not f.settled]
        if not held or len(held) > MAX_HELD:
            continue
        if all(_worth_it(f, calibrator) for f in held):
            out.extend(held)
    return out


def _worth_it(f: ExtractedField, cal: Calibrator) -> bool:
    second = cal.second_threshold(f)
    return (f.status == FieldStatus.review and f.value is not None
            and f.source == FieldSource.ocr and f.page is not None and bool(f._line_boxes)
            and not held_whatever_is_read(f, LIFTED) and second is not None and confirmable(f)
            and cal.probability(f) >= second)


def settle_by_rereading(docs: list[ExtractedDocument], calibrator: Calibrator | None,
                        read: LineReader) -> int:
    """Read the ``candidates`` again with ``read`` and accept those the second reading
    confirms; how many were accepted."""
    accepted = 0
    for f in candidates(docs, calibrator):
        assert f.page is not None and calibrator is not None
        texts = read(f.page, list(f._line_boxes))
        if texts is None:
            continue
        text = joined(texts)
        agree = same_reading(f, text)
        f.readings.append(Reading(value=text or None, source=FieldSource.reread))
        if agree:
            f.problems = [p for p in f.problems if p not in LIFTED]
            f.status = FieldStatus.accepted
            accepted += 1
    return accepted
