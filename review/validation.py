"""Checks on values a person types: stricter than the OCR parsers, which dig values out of
noisy text. Values are stored in Unicode NFC, so "Nguyễn" typed with combining marks and
"Nguyễn" typed precomposed are the same value.

The review page's script applies these same rules as the clerk types
(``api/web/static/review/validation.js``); the limits it needs (:data:`RULES`) and each
field's partner for the ID-against-birth-date check (:func:`birth_pairs`) come from here, and
every problem is a :class:`Problem` code the page and the server word alike.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from extraction.validators import CENTURY_BASE, province_codes

__all__ = ["Problem", "Checked", "check", "check_value", "nfc", "province_codes",
           "is_multiline", "birth_pairs", "id_birth_year", "RULES", "MESSAGES",
           "NAME_JOINERS", "YEARS"]


class Problem(StrEnum):
    """What can be wrong with a typed value; the page's script has a message for each."""

    empty = "empty"
    id12 = "id12"
    province = "province"
    century = "century"
    id_birth = "id_birth"  # the only one a person may keep, when the document says so
    date_format = "date_format"
    date_real = "date_real"
    date_range = "date_range"
    name_letters = "name_letters"
    name_words = "name_words"
    digits = "digits"


# English, for whoever calls the service without the pages (the pages translate the codes).
MESSAGES: dict[Problem, str] = {
    Problem.empty: "enter a value, or mark the field as not on the document",
    Problem.id12: "a personal ID number has exactly 12 digits",
    Problem.province: "the first three digits of the ID are not a province code",
    Problem.century: "the century/sex digit is not valid",
    Problem.id_birth: "the year in the ID does not match the date of birth",
    Problem.date_format: "write the date as dd/mm/yyyy",
    Problem.date_real: "not a real calendar date",
    Problem.date_range: "the year is implausible (not between 1900 and 2100)",
    Problem.name_letters: "a name has letters only",
    Problem.name_words: "a full name has at least two words",
    Problem.digits: "digits only",
}

YEARS = (1900, 2100)  # the years a date may have, both included
# Marks that may join the letters of one name word: the ASCII and the typographic (U+2019)
# apostrophe, as in H'Hen or H’Hen (Ê Đê names), and the hyphen. None is a letter, so a word
# is letters with single joiners between them (the modifier apostrophe ʼ, U+02BC, is a letter
# in Unicode and passes as one).
NAME_JOINERS = "'\u2019-"
# Kinds whose values have several lines (an ID card's MRZ: three).
MULTILINE_KINDS = frozenset({"mrz"})
# What the page's script needs to apply the same limits.
RULES: dict[str, Any] = {"years": list(YEARS), "name_joiners": NAME_JOINERS,
                         "centuries": {str(k): v for k, v in CENTURY_BASE.items()},
                         "multiline_kinds": sorted(MULTILINE_KINDS)}

# Exactly the characters JavaScript's ``\s`` matches, so the page and the server collapse the
# same spaces (Python's ``str.split()`` has others).
_WS = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_SPACES = re.compile(f"[{_WS}]+")
_LINE_SPACES = re.compile(f"[{_WS.replace(chr(10), '').replace(chr(13), '')}]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# ASCII digits only: Python's \d and str.isdigit() also take other scripts' digits.
_ISO = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_DMY = re.compile(f"^([0-9]{{1,2}})[{_WS}]*[/.\\-][{_WS}]*([0-9]{{1,2}})[{_WS}]*[/.\\-]"
                  f"[{_WS}]*([0-9]{{4}})$")
_ID = re.compile(r"^[0-9]{12}$")
_DIGITS = re.compile(r"^[0-9]+$")
_JOINER = re.compile(f"[{re.escape(NAME_JOINERS)}]")


def is_multiline(kind: str, value: str | None = None) -> bool:
    """Whether a field's value has several lines and is edited as such."""
    return kind in MULTILINE_KINDS or (value is not None and "\n" in value)


def nfc(value: str, *, multiline: bool = False) -> str:
    """NFC, runs of spaces made one, ends trimmed; a value of several lines keeps its line
    breaks (each line trimmed, blank lines dropped)."""
    value = unicodedata.normalize("NFC", value)
    if not multiline:
        return _SPACES.sub(" ", value).strip(" ")
    lines = (_LINE_SPACES.sub(" ", line).strip(" ") for line in _LINE_BREAK.split(value))
    return "\n".join(line for line in lines if line)


def id_birth_year(digits: str) -> int | None:
    """The birth year a 12-digit citizen ID encodes (century/sex digit and two digits)."""
    if not _ID.match(digits) or int(digits[3]) not in CENTURY_BASE:
        return None
    return CENTURY_BASE[int(digits[3])] + int(digits[4:6])


def birth_pairs(kinds: dict[str, str]) -> dict[str, str]:
    """Each person's ID field and birth-date field, both ways: ``wife_id`` with
    ``wife_date_of_birth``, ``citizen_id`` with ``date_of_birth``, ``id_number_2`` with
    ``date_of_birth_2``. A person is what the name has around ``id`` / ``citizen_id`` /
    ``id_number`` and around ``date_of_birth`` / ``birth_date`` / ``dob``; a person with two
    of either gets no pair."""
    def person(name: str, words: tuple[str, ...]) -> str | None:
        for w in words:
            m = re.fullmatch(rf"(?:(.+)_)?{w}(?:_(.+))?", name)
            if m:
                return f"{m[1] or ''}|{m[2] or ''}"
        return None

    ids: dict[str, list[str]] = {}
    births: dict[str, list[str]] = {}
    for name, kind in kinds.items():
        if kind == "citizen_id":
            key = person(name, ("citizen_id", "id_number", "id"))
            if key is not None:
                ids.setdefault(key, []).append(name)
        elif kind == "date":
            key = person(name, ("date_of_birth", "birth_date", "dob"))
            if key is not None:
                births.setdefault(key, []).append(name)
    pairs: dict[str, str] = {}
    for key, [id_field, *more_ids] in ids.items():
        found = births.get(key, [])
        if not more_ids and len(found) == 1:
            pairs[id_field], pairs[found[0]] = found[0], id_field
    return pairs


@dataclass
class Checked:
    value: str  # the stored form
    problems: list[Problem] = field(default_factory=list)

    @property
    def messages(self) -> list[str]:
        return [MESSAGES[p] for p in self.problems]


def _date(value: str) -> Checked:
    m = _ISO.match(value)
    if m:
        y, mo, d = (int(x) for x in m.groups())
    else:
        m = _DMY.match(value)
        if not m:
            return Checked(value, [Problem.date_format])
        d, mo, y = (int(x) for x in m.groups())
    try:
        iso = date(y, mo, d).isoformat()
    except ValueError:
        return Checked(value, [Problem.date_real])
    if not YEARS[0] <= y <= YEARS[1]:
        return Checked(iso, [Problem.date_range])
    return Checked(iso)


def _name_word(word: str) -> bool:
    # Letters (Unicode category L, as the page's \p{L}), joined by single joiners.
    return all(part and all(unicodedata.category(ch)[0] == "L" for ch in part)
               for part in _JOINER.split(word))


def check(kind: str, raw: str, *, birth_date: str | None = None,
          citizen_id: str | None = None) -> Checked:
    """The stored form of a value a person typed and what is wrong with it (no problems:
    valid).

    ``kind`` is the field type of the document-type definition (``citizen_id``, ``date``,
    ``person_name``, ...). The same person's birth date (ISO) checks a citizen ID, and the
    same person's citizen ID a birth date: the ID encodes the year of birth.
    """
    value = nfc(raw, multiline=is_multiline(kind, raw))
    if not value:
        return Checked(value, [Problem.empty])
    if kind == "citizen_id":
        digits = value.replace(" ", "")
        if not _ID.match(digits):
            return Checked(digits, [Problem.id12])
        problems = []
        if digits[:3] not in province_codes():
            problems.append(Problem.province)
        year = id_birth_year(digits)
        if year is None:
            problems.append(Problem.century)
        elif birth_date and _ISO.match(birth_date) and int(birth_date[:4]) != year:
            problems.append(Problem.id_birth)
        return Checked(digits, problems)
    if kind == "date":
        checked = _date(value)
        year = id_birth_year(citizen_id) if citizen_id else None
        if not checked.problems and year is not None and int(checked.value[:4]) != year:
            checked.problems.append(Problem.id_birth)
        return checked
    if kind == "person_name":
        words = value.split(" ")
        if not all(_name_word(w) for w in words):
            return Checked(value, [Problem.name_letters])
        if len(words) < 2:
            return Checked(value, [Problem.name_words])
        return Checked(value)
    if kind in ("phone", "enterprise_code", "number"):
        digits = re.sub(r"[ .]", "", value)
        if not _DIGITS.match(digits):
            return Checked(value, [Problem.digits])
        return Checked(digits)
    return Checked(value)


def check_value(kind: str, raw: str, *, birth_date: str | None = None,
                citizen_id: str | None = None) -> tuple[str, list[str]]:
    """:func:`check` with the problems in English words: (stored form, problems)."""
    checked = check(kind, raw, birth_date=birth_date, citizen_id=citizen_id)
    return checked.value, checked.messages
