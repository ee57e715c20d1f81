"""Checks on values a person types: stricter than the OCR parsers, which dig values out of
noisy text. Values are stored in Unicode NFC, so "Nguyễn" typed with combining marks and
"Nguyễn" typed precomposed are the same value."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from extraction.validators import check_citizen_id, province_codes

__all__ = ["check_value", "nfc", "province_codes"]

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})$")
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['-][^\W\d_]+)*$", re.UNICODE)


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", " ".join(value.split()))


def _date(value: str) -> tuple[str | None, list[str]]:
    m = _ISO.match(value)
    if m:
        y, mo, d = (int(x) for x in m.groups())
    else:
        m = _DMY.match(value)
        if not m:
            return None, ["write the date as dd/mm/yyyy"]
        d, mo, y = (int(x) for x in m.groups())
    try:
        iso = date(y, mo, d).isoformat()
    except ValueError:
        return None, ["not a real calendar date"]
    if not 1900 <= y <= 2100:
        return iso, ["the year is implausible"]
    return iso, []


def check_value(kind: str, raw: str, *, birth_date: str | None = None) -> tuple[str, list[str]]:
    """The stored form of a value a person typed and what is wrong with it (empty: valid).

    ``kind`` is the field type of the document-type definition (``citizen_id``, ``date``,
    ``person_name``, ...); ``birth_date`` (ISO) lets a citizen ID be checked against it.
    """
    value = nfc(raw)
    if not value:
        return value, ["enter a value, or mark the field as not on the document"]
    if kind == "citizen_id":
        digits = value.replace(" ", "")
        if not digits.isdigit() or len(digits) != 12:
            return digits, ["a personal ID number has exactly 12 digits"]
        year = int(birth_date[:4]) if birth_date and birth_date[:4].isdigit() else None
        return digits, check_citizen_id(digits, year)
    if kind == "date":
        iso, problems = _date(value)
        return iso or value, problems
    if kind == "person_name":
        words = value.split(" ")
        if not all(_NAME_WORD.match(w) for w in words):
            return value, ["a name has letters only"]
        if len(words) < 2:
            return value, ["a full name has at least two words"]
        return value, []
    if kind in ("phone", "enterprise_code", "number"):
        digits = re.sub(r"[ .]", "", value)
        if not digits.isdigit():
            return value, ["digits only"]
        return digits, []
    return value, []
