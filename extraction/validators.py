"""Typed value parsers and validators, one per field type.

Each returns a :class:`Parsed`: the normalized value (or None), and problems found.
A value with problems is kept but routed to review.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from extraction.mrz import checked_td1
from extraction.text import collapse_ws, fold, nfc, repair_digits
from models.errors import MissingDependencyError

__all__ = ["Parsed", "PARSERS", "parse_value", "province_codes", "province_table",
           "check_citizen_id", "parse_date", "parse_money", "CENTURY_BASE", "DATE_ORDERS"]


@dataclass
class Parsed:
    value: str | None
    problems: list[str] = field(default_factory=list)
    used_chars: int | None = None  # how much of the raw text the value consumed

    @property
    def valid(self) -> bool:
        return self.value is not None and not self.problems


@lru_cache(maxsize=2)
def province_table(units: str) -> dict[str, dict]:
    """The provinces of one of the ``vietnamadminunits`` address tables (``legacy``: the 63
    before 2025; ``from_2025``: the 34 after), by folded full name. Read from the package's
    data file without importing the package: that loads its whole address parser (half a
    second), which an ID number's check does not need."""
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the vietnamadminunits package is not installed",
                                     hint="install the project with `bash scripts/setup.sh`")
    data = Path(spec.submodule_search_locations[0]) / "data" / f"parser_{units}.json"
    return json.loads(data.read_text("utf-8"))["DICT_PROVINCE"]


@lru_cache(maxsize=1)
def unit_names() -> frozenset[str]:
    """The names of every province, district and ward, old and 2025, without their kind
    ("Hành Đức", "Hồ Chí Minh"), composed and in lower case; read from the package's data
    files as :func:`province_table` reads them."""
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the vietnamadminunits package is not installed",
                                     hint="install the project with `bash scripts/setup.sh`")
    data = Path(spec.submodule_search_locations[0]) / "data"
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("provinceShort", "districtShort", "wardShort"):
                if isinstance(node.get(key), str):
                    names.add(collapse_ws(nfc(node[key])).lower())
            for v in node.values():
                walk(v)

    for table in ("parser_legacy.json", "parser_from_2025.json"):
        walk(json.loads((data / table).read_text("utf-8")))
    return frozenset(names)


@lru_cache(maxsize=1)
def province_codes() -> frozenset[str]:
    """3-digit province codes used in personal ID numbers (the 63 legacy provinces)."""
    return frozenset(f"{int(p['provinceCode']):03d}" for p in province_table("legacy").values())


# The 4th digit of a citizen ID: the century of birth and the sex (even: male, odd: female).
CENTURY_BASE = {0: 1900, 1: 1900, 2: 2000, 3: 2000, 4: 2100, 5: 2100}


def check_citizen_id(digits: str, birth_year: int | None = None) -> list[str]:
    problems = []
    if len(digits) != 12 or not digits.isdigit():
        return [f"a citizen ID has 12 digits, found {len(digits)}"]
    if digits[:3] not in province_codes():
        problems.append(f"{digits[:3]} is not a province code")
    century = CENTURY_BASE.get(int(digits[3]))
    if century is None:
        problems.append("the century/sex digit is not valid")
    elif birth_year is not None and century + int(digits[4:6]) != birth_year:
        problems.append("the year in the ID does not match the date of birth")
    return problems


def _citizen_id(raw: str) -> Parsed:
    # Group runs of digit-like characters; spaces inside an ID are common on forms.
    candidates = re.findall(r"[0-9OoDQIl|SBZGTbgqiz!][0-9OoDQIl|SBZGTbgqiz! .]{9,20}", raw)
    for cand in candidates:
        digits = re.sub(r"[ .]", "", repair_digits(cand))
        digits = re.sub(r"\D", "", digits)
        if len(digits) == 12:
            end = raw.find(cand) + len(cand)
            return Parsed(digits, check_citizen_id(digits), used_chars=end)
        if len(digits) > 12:
            # Two numbers side by side (a table's two columns): the first one that is 12
            # digits by itself.
            for group in cand.split():
                g = re.sub(r"\D", "", repair_digits(group))
                if len(g) == 12:
                    end = raw.find(group) + len(group)
                    return Parsed(g, check_citizen_id(g), used_chars=end)
    digits = re.sub(r"\D", "", raw)
    if len(digits) >= 9:
        return Parsed(digits, [f"a citizen ID has 12 digits, found {len(digits)}"])
    return Parsed(None, ["no ID number found"])


_DATE_NUM = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})")
# A four-digit year first is year, month, day whatever the order (2018/02/22, 2018-01-05).
_DATE_YEAR_FIRST = re.compile(r"(?<!\d)([12]\d{3})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{1,2})(?!\d)")
# "ngày 05 tháng 3 năm 2020", or "05 tháng 3 năm 2020" after a label that ends in "ngày"
# ("Sinh ngày").
_DATE_WORDS = re.compile(r"(?:ngay\s*|\b)(\d{1,2})\s*thang\s*(\d{1,2})\s*nam\s*(\d{4})")
_DATE_SHORT = re.compile(r"\b(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{2})\b")
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul",
                                           "aug", "sep", "oct", "nov", "dec"))}
# 25 DEC 2018, 30 Dec 17, 24-Mar-18.
_DATE_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s*[ .\-/]?\s*(jan|feb|mar|apr|may|jun|jul|aug|"
                         r"sep|oct|nov|dec)[a-z]*\.?\s*[ .\-/,]?\s*(\d{4}|\d{2})\b")
_DATE_MONTH_FIRST = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
                               r"\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}|\d{2})\b")
DATE_ORDERS = ("dmy", "mdy", "ymd")


def _full_year(yy: str) -> int:
    """A year as printed: two digits are the nearest century not in the future by much."""
    if len(yy) == 4:
        return int(yy)
    y = int(yy)
    return 2000 + y if y <= (date.today().year % 100) + 10 else 1900 + y


def _date_match(text: str, order: str = "dmy") -> tuple[int, int, int, int] | None:
    """(day, month, year, end) of the first date in the usual notations; ``order`` says how
    a date of numbers only is written (``dmy`` 25/12/2018, ``mdy`` 12/25/2018, ``ymd``
    18/12/25), a four-digit year telling where the year is."""
    m = _DATE_YEAR_FIRST.search(text)
    if m:
        return int(m[3]), int(m[2]), int(m[1]), m.end()
    m = _DATE_NUM.search(text)
    if m:
        a, b = int(m[1]), int(m[2])
        return (b, a, int(m[3]), m.end()) if order == "mdy" else (a, b, int(m[3]), m.end())
    folded = fold(text)
    m = _DATE_WORDS.search(folded)
    if m:
        return int(m[1]), int(m[2]), int(m[3]), m.end()
    m = _DATE_MONTH.search(folded)
    if m:
        return int(m[1]), _MONTHS[m[2]], _full_year(m[3]), m.end()
    m = _DATE_MONTH_FIRST.search(folded)
    if m:
        return int(m[2]), _MONTHS[m[1]], _full_year(m[3]), m.end()
    m = _DATE_SHORT.search(text)
    if m:
        p1, p2, p3 = m[1], m[2], m[3]
        if order == "ymd":
            return int(p3), int(p2), _full_year(p1), m.end()
        if order == "mdy":
            return int(p2), int(p1), _full_year(p3), m.end()
        return int(p1), int(p2), _full_year(p3), m.end()
    return None


def parse_date(raw: str, order: str = "dmy") -> Parsed:
    """Dates as dd/mm/yyyy (or . -), dd-mm-yy, yyyy-mm-dd, 25 DEC 2018, 30 Dec 17,
    December 25, 2018 and "ngày 25 tháng 12 năm 2018"; the value is ISO yyyy-mm-dd.
    ``order`` (``dmy``, ``mdy``, ``ymd``) is how dates of numbers only are written. A date
    that is not on the calendar (31/02) is no value, only a problem."""
    text = repair_digits_in_numbers(raw)
    found = _date_match(text, order)
    if found is None:
        return Parsed(None, ["no date found"])
    d, mo, y, end = found
    try:
        value = date(y, mo, d)
    except ValueError:
        return Parsed(None, [f"not a real calendar date (day {d}, month {mo}, year {y})"],
                      used_chars=end)
    problems = [] if 1900 <= y <= 2100 else ["the year is implausible"]
    return Parsed(value.isoformat(), problems, used_chars=end)


def repair_digits_in_numbers(text: str) -> str:
    """Repair lookalike letters only inside tokens that are mostly digits."""
    def fix(m: re.Match[str]) -> str:
        tok = m.group(0)
        digits = sum(ch.isdigit() for ch in tok)
        return repair_digits(tok) if digits >= max(1, len(tok) // 2) else tok

    return re.sub(r"[\w|!]+", fix, text)


# A name word: letters, or letters joined by an apostrophe, ASCII or typographic (H'Hen,
# H’Hen: Ê Đê and other names of the Central Highlands).
_NAME_TOKEN = re.compile(r"^[^\W\d_]+(?:['\u2019][^\W\d_]+)*$", re.UNICODE)


def _split_glued(raw: str) -> str:
    """Words OCR glued together ("TrầnBảo Hương"): in a word written with Vietnamese
    letters, a capital after a small letter starts a new word (a Vietnamese name has no
    capital inside a word; "McDonald", all ASCII, is left alone)."""
    def split(word: str) -> str:
        if all(ch.isascii() for ch in word):
            return word
        return "".join(" " + ch if i and ch.isupper() and word[i - 1].islower() else ch
                       for i, ch in enumerate(word))

    return " ".join(split(w) for w in raw.split(" "))


def _person_name(raw: str) -> Parsed:
    if any(ch.islower() for ch in raw):
        raw = _split_glued(raw)
    tokens = [t for t in re.split(r"[\s,;:]+", raw.strip()) if t]
    name_tokens: list[str] = []
    for tok in tokens:
        clean = tok.strip(".-_'\u2019\"")
        if not clean or not _NAME_TOKEN.match(clean) or not clean[0].isupper():
            break
        # Names on cards are all capitals: a following Title-case word is the next label.
        if name_tokens and name_tokens[0].isupper() and len(name_tokens[0]) > 1 \
                and not clean.isupper():
            break
        name_tokens.append(clean)
    if not name_tokens:
        return Parsed(None, ["no name found"])
    value = " ".join(name_tokens[:7])
    problems = []
    if len(name_tokens) < 2:
        problems.append("a full name has at least two words")
    return Parsed(value, problems, used_chars=_consumed(raw, name_tokens[-1]))


def _consumed(raw: str, last: str) -> int:
    pos = raw.find(last)
    return pos + len(last) if pos >= 0 else len(raw)


def _sex(raw: str) -> Parsed:
    f = fold(raw)
    m = re.search(r"\b(nam|nu|male|female)\b", f)
    if not m:
        return Parsed(None, ["sex is neither Nam nor Nữ"])
    return Parsed({"nam": "Nam", "male": "Nam", "nu": "Nữ", "female": "Nữ"}[m.group(1)],
                  used_chars=m.end())


_PLACE_DATE = re.compile(r",\s*ngay\s*\d{1,2}\s*thang\b")


# A run of leader dots or fill underscores between two words (a value written over a
# dotted line, the leaders read through a gap between its words or after a comma).
_INNER_LEADER = re.compile(r"(?<=[\w,])\s*(?:\.{2,}|…+|_{2,})\s*(?=\w)")
# Marks OCR reads at the end of a value out of a table rule, a speck or the end of a
# leader line ("Kinh |", "đất.......~"): no value ends with them.
_TRAILING_SPECKS = re.compile(r"(?<=\w)[\s.…_]*[|~¡`^•][\s.…_|~¡`^•]*$")
# A sentence of prose keeps the full stop it ends with.
_SENTENCE_WORDS = 10


def _text(raw: str, keep_punctuation: bool = False) -> Parsed:
    if keep_punctuation:
        return _as_printed(raw)
    # Leader dots and blanks go at both ends; the strip is linear, whatever the OCR gives
    # (a nested-quantifier regex here took seconds on a long run of dots).
    stripped = raw.rstrip(" \t\n")
    words = stripped.split()
    # Prose (mostly lower-case words), not a name, a place or an authority in title case,
    # whose single trailing dot is more likely what is left of a dotted leader.
    full_stop = (stripped.endswith(".") and not stripped.endswith("..")
                 and len(stripped) > 1 and stripped[-2].isalpha()
                 and len(words) >= _SENTENCE_WORDS
                 and sum(w[0].islower() for w in words) >= 0.6 * len(words))
    value = collapse_ws(_TRAILING_SPECKS.sub("", raw).strip(" .:;,-_…"))
    value = value.lstrip(".…_: ")
    value = _INNER_LEADER.sub(" ", value)
    # "Xã Long Hòa, ngày 21 tháng 01 năm 2024": a place written before its date.
    dated = _PLACE_DATE.search(fold(value))
    if dated and dated.start() > 0:
        value = value[:dated.start()].rstrip(" ,.;")
    if not value:
        return Parsed(None, ["empty"])
    if full_stop and not dated:
        value += "."
    return Parsed(value)


# Leader runs (two dots or more, an ellipsis, underscores) and a colon left by the label at
# either end of a value: no printed text begins or ends with them.
_LEADERS_AT_ENDS = re.compile(r"^[\s:：]*(?:(?:\.{2,}|…+|_{2,})[\s:]*)*|(?:\s*(?:\.{2,}|…+|_{2,}))+\s*$")


def _as_printed(raw: str) -> Parsed:
    """Text as printed: its own punctuation kept (a final "." or ","), only the leaders,
    the label's colon and OCR's stray marks at its ends trimmed."""
    value = collapse_ws(_TRAILING_SPECKS.sub("", raw))
    value = _INNER_LEADER.sub(" ", _LEADERS_AT_ENDS.sub("", value)).strip()
    return Parsed(value) if value else Parsed(None, ["empty"])


def _address(raw: str, keep_punctuation: bool = False) -> Parsed:
    parsed = _text(raw, keep_punctuation)
    if parsed.value is None:
        return parsed
    if not keep_punctuation:
        parsed.value = parsed.value.rstrip(".")  # an address is no sentence
    if len(parsed.value) < 8 or "," not in parsed.value:
        parsed.problems.append("an address names at least a ward and a province")
    return parsed


def _digits(n_min: int, n_max: int, what: str):
    def parse(raw: str) -> Parsed:
        m = re.search(r"[0-9OoIlSB][0-9OoIlSB .\-]{" + str(n_min - 2) + ",}", raw)
        if not m:
            return Parsed(None, [f"no {what} found"])
        digits = re.sub(r"\D", "", repair_digits(m.group(0)))
        problems = [] if n_min <= len(digits) <= n_max else [
            f"{what} has {n_min}-{n_max} digits, found {len(digits)}"]
        return Parsed(digits, problems, used_chars=m.end())

    return parse


def _number(raw: str) -> Parsed:
    m = re.search(r"\d[\d.,]*", repair_digits_in_numbers(raw))
    if not m:
        return Parsed(None, ["no number found"])
    text = m.group(0).rstrip(".,")
    # Vietnamese writes 1.234,5 ; also accept 1234.5
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    elif text.count(".") > 1:
        text = text.replace(".", "")
    return Parsed(text, used_chars=m.end())


_MONEY = re.compile(r"\d[\d.,' ]*\d|\d")


def parse_money(raw: str) -> Parsed:
    """An amount: 1.500.000 đồng, 1,500,000 VND, $12.50, 12,50 €. The value is a plain
    decimal (``1500000``, ``12.50``); the currency, when written, is not part of it."""
    m = _MONEY.search(repair_digits_in_numbers(raw))
    if not m:
        return Parsed(None, ["no amount found"])
    text = m.group(0).replace(" ", "").replace("'", "")
    dot, comma = text.rfind("."), text.rfind(",")
    dec: str | None
    if dot >= 0 and comma >= 0:
        dec = "." if dot > comma else ","
    elif dot >= 0 or comma >= 0:
        sep = "." if dot >= 0 else ","
        groups = text.split(sep)
        # 1.500.000 or 1,500: thousands; 12.50 or 12,5: decimals.
        thousands = len(groups) > 2 or len(groups[-1]) == 3
        dec = None if thousands else sep
    else:
        dec = None
    if dec is None:
        value = re.sub(r"[.,]", "", text)
    else:
        whole, _, frac = text.rpartition(dec)
        value = re.sub(r"[.,]", "", whole) + "." + frac
    value = value.lstrip("0") or "0"
    if value.startswith("."):
        value = "0" + value
    return Parsed(value, used_chars=m.end())


def _code(raw: str) -> Parsed:
    """Document numbers and dossier codes: the first token with digits, e.g. 123/TLKS-BS."""
    m = re.search(r"[\w.\-/]*\d[\w.\-/]*", raw)
    if not m:
        return Parsed(None, ["no number found"])
    return Parsed(m.group(0).strip(".-/"), used_chars=m.end())


def _mrz(raw: str) -> Parsed:
    """The three 30-character lines of an ID card's machine-readable zone, check digits held."""
    text = re.sub(r"[^A-Z0-9<]", "", raw.upper().replace("«", "<"))
    if len(text) < 80:
        return Parsed(None, ["no machine-readable zone found"])
    lines = [text[:30], text[30:60], text[60:90]]
    zone = checked_td1(lines)
    if zone is None:
        return Parsed("\n".join(lines), ["the MRZ check digits do not hold"])
    mrz = zone.text
    return Parsed(mrz, mrz_problems(mrz))


def mrz_problems(mrz: str) -> list[str]:
    """What is doubtful in an MRZ whose check digits hold: its name line, which none guards."""
    lines = mrz.split("\n")
    return [] if len(lines) == 3 and _MRZ_NAME.fullmatch(lines[2]) else [MRZ_NAME_ODD]


# The name line has no check digit: surname, ``<<``, the other names each after ``<``; a
# Vietnamese syllable has two letters or more (a lone letter is a misread filler or mark).
_MRZ_NAME = re.compile(r"[A-Z]{2,}(?:<<[A-Z]{2,}(?:<[A-Z]{2,})*)?<*")
MRZ_NAME_ODD = "the MRZ's name line (which has no check digit) does not read as a name"


PARSERS = {
    "citizen_id": _citizen_id,
    "date": parse_date,
    "person_name": _person_name,
    "sex": _sex,
    "text": _text,
    "address": _address,
    "phone": _digits(9, 11, "a phone number"),
    "enterprise_code": _digits(10, 13, "an enterprise code"),
    "number": _number,
    "money": parse_money,
    "code": _code,
    "mrz": _mrz,
}


def parse_value(kind: str, raw: str, *, date_order: str = "dmy",
                keep_punctuation: bool = False) -> Parsed:
    """``raw`` parsed as a value of type ``kind``; ``date_order`` is how a date of numbers
    only is written, ``keep_punctuation`` keeps text (and addresses) as printed."""
    try:
        parser = PARSERS[kind]
    except KeyError as e:
        raise ValueError(f"unknown field type {kind!r}; known: {', '.join(PARSERS)}") from e
    if kind == "date":
        return parse_date(raw, date_order)
    if kind in ("text", "address") and keep_punctuation:
        return _address(raw, True) if kind == "address" else _text(raw, True)
    return parser(raw)
