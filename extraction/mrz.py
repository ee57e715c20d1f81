"""The machine-readable zone of a Vietnamese ID card (ICAO 9303 TD1: three lines of 30),
rebuilt from what OCR read of it.

OCR of an MRZ drops or doubles filler characters, swaps letters and digits and misreads a
digit here and there. The zone says enough about itself to undo most of that: every position
holds either a digit or a letter, the document number (the last nine digits of the personal ID
number) is printed twice on the first line, the personal ID number's birth-year digits repeat
the date of birth, and check digits guard the numbers and the whole. A line is rebuilt from
its parts (not from its character count), a number whose check digit fails is repaired only
when exactly one single-digit change makes it hold, and the result is given back only when every
check digit of the zone holds.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from itertools import product
from typing import Any, NamedTuple

__all__ = ["check_digit", "clean", "rebuild_td1", "name_line", "CheckedZone", "checked_td1"]

log = logging.getLogger(__name__)

_MRZ_FIX = str.maketrans({"«": "<", "‹": "<", "(": "<", "[": "<", "{": "<", "≤": "<",
                          "£": "<", "¢": "<"})
_TO_DIGIT = str.maketrans({"O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1",
                           "J": "1", "Z": "2", "S": "5", "B": "8", "G": "6", "T": "7",
                           "A": "4", "E": "8"})
_TO_LETTER = str.maketrans({"0": "O", "1": "I", "2": "Z", "5": "S", "8": "B", "6": "G",
                            "4": "A", "7": "T"})


def clean(text: str) -> str:
    """Upper case, lookalikes of ``<`` made ``<``, everything else than A-Z, 0-9 and ``<``
    dropped (OCR's spaces inside a line too)."""
    t = text.upper().translate(_MRZ_FIX)
    return re.sub(r"[^A-Z0-9<]", "", t)


def check_digit(s: str) -> str:
    """ICAO 9303 check digit: weights 7, 3, 1; ``<`` counts 0, letters A=10 .. Z=35."""
    total = 0
    for i, ch in enumerate(s):
        v = int(ch) if ch.isdigit() else 0 if ch == "<" else ord(ch) - 55
        total += v * (7, 3, 1)[i % 3]
    return str(total % 10)


def _repairs(number: str, check: str, valid=lambda _s: True) -> list[str]:
    """``[number]`` when its check digit holds, else every single-digit change that makes it
    hold and stays ``valid`` (the zone's composite check digit chooses among them)."""
    if check_digit(number) == check and valid(number):
        return [number]
    fixes = []
    for i in range(len(number)):
        for d in "0123456789":
            if d != number[i]:
                cand = number[:i] + d + number[i + 1:]
                if check_digit(cand) == check and valid(cand):
                    fixes.append(cand)
    return fixes


def _yymmdd_ok(s: str) -> bool:
    try:
        date(2000 + int(s[:2]), int(s[2:4]), int(s[4:6]))
    except ValueError:
        return False
    return True


def _line1(raw: str) -> list[tuple[str, str]]:
    """Candidate (document number, personal ID number) pairs from the first line ``IDVNM`` +
    9 digits + check + 12 digits + filler."""
    at = raw.find("VNM", 0, 8)
    body = raw[at + 3:] if at >= 0 else raw[5:]
    digits = re.sub(r"\D", "", body.rstrip("<").translate(_TO_DIGIT))
    if len(digits) < 21:
        return []
    # The ID number is the last twelve digits; the document number its last nine, printed
    # before it with a check digit. Extra or lost digits are in the middle as often as not.
    pid, doc = digits[-12:], digits[:9]
    cd = digits[9] if len(digits) >= 22 else None
    if cd is None:
        return [(doc, pid)] if pid[3:] == doc else []
    out: list[tuple[str, str]] = []
    for cand in (pid[3:], doc):
        for fixed in _repairs(cand, cd):
            if (fixed, pid[:3] + fixed) not in out:
                out.append((fixed, pid[:3] + fixed))
        if out and cand == pid[3:] and check_digit(cand) == cd:
            break  # the copy in the ID number holds: no repair needed
    return out


def _dates(raw: str, pid: str) -> tuple[list[str], str, list[str], str] | None:
    """Candidate dates of birth (with check), the sex, candidate expiry dates (with check)
    and the composite check, from the second line ``YYMMDD`` + check + sex + ``YYMMDD`` (or
    filler) + check + ``VNM`` + filler + composite check."""
    at = raw.find("VNM", 12)
    if at < 0:
        return None
    head, tail = raw[:at], raw[at + 3:]
    m = re.search(r"[MF<]", head[6:]) if len(head) > 7 else None
    if m is None:
        return None
    s = 6 + m.start()
    dob_part = head[:s].translate(_TO_DIGIT)
    exp_part = head[s + 1:]
    if len(dob_part) != 7 or len(exp_part) != 7 or not dob_part.isdigit():
        return None
    # The ID number's 5th and 6th digits are the year of birth.
    dobs = [d + dob_part[6] for d in _repairs(dob_part[:6], dob_part[6],
                                               lambda d: _yymmdd_ok(d) and d[:2] == pid[4:6])]
    sex = head[s]
    if sex == "<":
        sex = "F" if int(pid[3]) % 2 else "M"
    if exp_part.strip("<").translate(_TO_DIGIT) in ("", "0"):
        exps = ["<<<<<<0"]
    else:
        e = exp_part.translate(_TO_DIGIT)
        if not e.isdigit():
            return None
        exps = [x + e[6] for x in _repairs(e[:6], e[6], _yymmdd_ok)]
    final = tail[-1:].translate(_TO_DIGIT)
    if not final.isdigit():
        return None
    return dobs, sex, exps, final


def name_line(surname_first: list[str]) -> str:
    """The third line from a name's words (surname first, no diacritics, upper case)."""
    if not surname_first:
        return "<" * 30
    line = surname_first[0] + "<<" + "<".join(surname_first[1:])
    return (line + "<" * 30)[:30]


def _line3(raw: str) -> str:
    t = raw.translate(_TO_LETTER)
    # Filler read as letters sits at the end in a run; a name never has three of a kind.
    t = re.sub(r"([^<])\1{2,}[^<]?$", "", t.rstrip("<")).rstrip("<")
    words = [w for w in re.split(r"<+", t) if w]
    return name_line(words)


def rebuild_td1(lines: list[str]) -> list[str] | None:
    """The three lines of a Vietnamese card's MRZ, rebuilt and repaired from OCR's reading
    of them; None unless every check digit holds, and one reading alone makes them hold."""
    if len(lines) != 3:
        return None
    raw = [clean(x) for x in lines]
    # The document code (ID) is rewritten; the country code must be where TD1 puts it.
    at = raw[0].find("VNM", 0, 6)
    if not 2 <= at <= 4:
        return None
    found = []
    for doc, pid in _line1("IDVNM" + raw[0][at + 3:]):
        dates = _dates(raw[1], pid)
        if dates is None:
            continue
        dobs, sex, exps, final = dates
        l1 = (f"IDVNM{doc}{check_digit(doc)}{pid}" + "<" * 30)[:30]
        for dob, exp in product(dobs, exps):
            l2 = f"{dob}{sex}{exp}VNM" + "<" * 11
            if check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]) == final:
                found.append([l1, l2 + final])
    if len(found) != 1:
        return None
    return [*found[0], _line3(raw[2])]


class CheckedZone(NamedTuple):
    """A TD1 zone every check digit of which holds."""

    text: str  # its three lines, joined by newlines
    fields: Any  # what the ``mrz`` library read in it (``TD1CodeChecker.fields()``)


def checked_td1(lines: list[str]) -> CheckedZone | None:
    """The zone rebuilt from OCR's lines (:func:`rebuild_td1`), when the ``mrz`` library
    finds every check digit holds; else None."""
    from mrz.checker.td1 import TD1CodeChecker

    fixed = rebuild_td1(lines)
    if fixed is None:
        return None
    text = "\n".join(fixed)
    try:
        checker = TD1CodeChecker(text)
    except Exception as e:  # the library raises bare errors on malformed input
        log.debug("MRZ not parsed: %s", e)
        return None
    # Every check digit must hold. The library also rejects an expiry of fillers, which a card
    # without expiry (its holder over 60) carries: that alone is no reason to refuse it.
    if not (checker.document_number_hash and checker.birth_date_hash
            and checker.expiry_date_hash and checker.final_hash):
        return None
    return CheckedZone(text, checker.fields())
