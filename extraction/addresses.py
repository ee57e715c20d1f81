"""Addresses parsed with ``vietnamadminunits``: the official codes of the ward, district and
province stored beside the text, for the old three-level units and the 2025 two-level ones."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from extraction.known import LIST_EXACT, norm
from extraction.text import fold, in_case
from extraction.validators import province_table, unit_names
from models.records import ExtractedDocument, ExtractedField

__all__ = ["address_codes", "annotate_addresses", "normalize_address", "place_address",
           "Placement", "ends_with_province",
           "restore_unit_kinds"]

log = logging.getLogger(__name__)


def _similarity(a: str, b: str) -> float:
    from difflib import SequenceMatcher

    fa, fb = fold(a).replace(" ", ""), fold(b).replace(" ", "")
    return SequenceMatcher(None, fa, fb).ratio()


def _similar(a: str, b: str) -> bool:
    return _similarity(a, b) >= 0.85


# The words an address's first part starts with: the units below a commune (residential
# group, quarter, hamlet, village) and the street number. OCR drops their accents or slips a
# letter; a part that starts with a number or a name after them is written with them again.
LEAD_TERMS = ("Tổ dân phố", "Khu phố", "Khu dân cư", "Ấp", "Thôn", "Xóm", "Bản", "Buôn",
              "Khóm", "Làng", "Tổ", "Số")


def fix_lead_term(part: str) -> str:
    """``part`` with its first words written as the unit term they read as: a word without
    accents, or a term of several words with other accents or one letter off."""
    words = part.split()
    for term in LEAD_TERMS:
        n = len(term.split())
        if len(words) <= n:
            continue
        head = " ".join(words[:n])
        a, b = fold(head), fold(term)
        # One word read with other accents can be another word (Bàn is not Bản).
        if (a == b and (n > 1 or a == head.lower())) or (
                n > 1 and len(a) == len(b)
                and sum(x != y for x, y in zip(a, b, strict=True)) == 1):
            return " ".join([term, *words[n:]]) if head != term else part
    return part


# The words of an address's first parts that name no place: unit terms, house number, lane.
_HEAD_TERMS = frozenset(w for t in (*LEAD_TERMS, "ngõ", "ngách", "hẻm", "kiệt", "đường",
                                    "phố", "số", "nhà")
                        for w in fold(t).split())

# The kinds of units an address's parts begin with ("Ấp 2", "Tổ dân phố 5", "Tỉnh Cà Mau"):
# Vietnamese administrative and residential units, and the house number's "Số".
_UNIT_KINDS = (
    "Tỉnh", "Thành phố", "Quận", "Huyện", "Thị xã", "Phường", "Xã", "Thị trấn", "Đặc khu",
    "Tổ dân phố", "Khu phố", "Ấp", "Thôn", "Xóm", "Bản", "Buôn", "Khóm", "Số",
)
_KINDS_BY_FOLD = {tuple(fold(k).split()): k for k in _UNIT_KINDS}
_KIND_WORDS = max(len(k) for k in _KINDS_BY_FOLD)


def restore_unit_kinds(text: str) -> str:
    """An address whose parts begin with the kind of their unit written with its accents
    when OCR lost or misread them ("Ap 2, Tổ dan phố 5, Tinh Cà Mau" -> "Ấp 2, Tổ dân phố 5,
    Tỉnh Cà Mau"). Only the words of the kind, at the start of a part, change: a place's own
    name can spell the same letters as a kind with other accents ("Tỉnh Thanh Hóa")."""
    out = []
    for part in text.split(","):
        lead = part[:len(part) - len(part.lstrip())]
        words = part.split()
        for n in range(min(_KIND_WORDS, len(words)), 0, -1):
            kind = _KINDS_BY_FOLD.get(tuple(fold(w) for w in words[:n]))
            if kind is not None:
                read = words[:n]
                words[:n] = [in_case(k, r) for k, r in zip(kind.split(), read, strict=True)]
                break
        out.append(lead + " ".join(words) if words else part)
    return ",".join(out)


@dataclass(frozen=True)
class Placement:
    """An address's administrative units placed in the official list."""

    value: str  # the address with its units spelt as officially named
    codes: dict[str, str]  # the units' official codes, and which list ("units")
    share: float  # the share of the list's levels placed
    head: int  # how many parts come before the units (street, hamlet)
    # Every level placed, and each unit's part as read exactly its official name (with or
    # without the kind of unit; an office named after its ward, "Ủy ban nhân dân xã X", counts
    # its ward): the units are a member of the official list, not a reading near one.
    exact: bool


# Offices named after the unit they serve ("Ủy ban nhân dân xã X", "Công an phường Y").
OFFICES = ("Ủy ban nhân dân", "UBND", "Công an")


def normalize_address(text: str) -> tuple[str, dict[str, str], float]:
    """The address with its administrative units spelt as officially named, their codes, and
    the share of its levels placed (``place_address``)."""
    p = place_address(text)
    return p.value, p.codes, p.share


def place_address(text: str) -> Placement:
    """The address's units placed in the official list.

    Old three-level addresses (ward, district, province) are tried first, then the 2025
    two-level ones (ward, province). The units replace the address's last comma-separated
    parts only when each of those parts is close to the unit's name (OCR slips, lost
    diacritics); the street part is kept as read."""
    from vietnamadminunits import parse_address

    parts = [p.strip() for p in text.split(",") if p.strip()]
    if parts and (lead := fix_lead_term(parts[0])) != parts[0]:
        parts[0] = lead
        text = ", ".join(parts)
    best = Placement(text, {}, 0.0, len(parts), False)
    for mode, levels in (("LEGACY", ("ward", "district", "province")),
                         ("FROM_2025", ("ward", "province"))):
        try:
            unit = parse_address(text, mode=mode)
        except Exception as e:  # the parser raises plain errors on text it cannot place
            log.debug("address not parsed (%s): %s", mode, e)
            continue
        names = [getattr(unit, lv, None) for lv in levels]
        # The address names its units last, the province at the end: each level the parser
        # placed counts only when the part at its place is a reading of the unit's name (the
        # parser also guesses from a few letters: "Tỉnh Thai Bình" is no ward of Thanh Hóa).
        out = list(parts)
        codes: dict[str, str] = {}
        exact = len(parts) >= len(levels)
        for k in range(1, min(len(parts), len(levels)) + 1):
            lv, name = levels[-k], names[-k]
            fitted = _fit(parts[-k], str(name)) if name else None
            if fitted is not None and getattr(unit, f"{lv}_code", None):
                out[-k] = fitted
                codes[lv] = str(getattr(unit, f"{lv}_code"))
                exact = exact and _exactly(parts[-k], str(name), office=k == len(levels))
            else:
                exact = False
        share = len(codes) / len(levels)
        if share > best.share:
            best = Placement(", ".join(out), {**codes, "units": _UNITS[mode]}, share,
                             len(parts) - len(codes), exact and share == 1.0)
        if share == 1.0:
            break
    return best


def _exactly(part: str, name: str, *, office: bool) -> bool:
    """Whether ``part`` is, as read, exactly the unit's official ``name`` (with or without
    its kind); ``office``: or an office named after it ("Ủy ban nhân dân xã X")."""
    forms = {norm(name), norm(_KIND_PREFIX.sub("", name))}
    read = norm(part)
    if read in forms:
        return True
    return office and any(read == f"{norm(o)} {f}" for o in OFFICES for f in forms)


_UNITS = {"LEGACY": "legacy", "FROM_2025": "2025"}
# The kinds of unit a name starts with; short addresses (a 2016 card's place of origin,
# "Xuân Mỹ, Nghi Xuân, Hà Tĩnh") leave them out.
_KIND_PREFIX = re.compile(
    r"^(?:Thành phố|Thị trấn|Thị xã|Phường|Quận|Huyện|Tỉnh|Xã|Đặc khu)\s+")


def _as_read(part: str, name: str) -> str | None:
    """The unit's official name written as the part has it (with or without the kind of
    unit), when the part is a reading of it; None when it is not."""
    bare = _KIND_PREFIX.sub("", name)
    scored = sorted((_similarity(part, form), form) for form in {name, bare})
    return scored[-1][1] if scored[-1][0] >= 0.85 else None


def _fit(part: str, name: str) -> str | None:
    """``part`` written with the unit's official ``name``: its last words when they are a
    reading of the name ("Ủy ban nhân dân xã Phiéng Ban" -> "Ủy ban nhân dân xã Phiêng Ban",
    an office named after its ward), the words before them kept; else the whole part when
    it is a reading of the name; None when neither."""
    words, unit = part.split(), name.split()
    if not any(ch.isalnum() for w in words[:-len(unit)] for ch in w):
        words = words[-len(unit):]  # a leader's dot or a speck before the unit: no words
    if len(words) > len(unit) and _similar(" ".join(words[-len(unit):]), name):
        read = words[-len(unit):]
        tail = [in_case(u, r) for u, r in zip(unit, read, strict=True)]
        # A capital kind ("Ap 2 Xã Gia Phong") begins a part of its own whose comma OCR
        # lost; a lower-case one is inside a name ("Ủy ban nhân dân xã Phiêng Ban").
        joint = ", " if read[0][:1].isupper() else " "
        return " ".join(words[:-len(unit)]) + joint + " ".join(tail)
    return _as_read(part, name)


def address_codes(text: str) -> tuple[dict[str, str], float]:
    """Official codes of the units an address names, and the share of its levels placed."""
    _, codes, share = normalize_address(text)
    return codes, share


def annotate_addresses(docs: list[ExtractedDocument], kinds: dict[tuple[str, str], str],
                       units_only: Collection[tuple[str, str]] = ()) -> None:
    """Official spelling and codes for every address found; how much of it was placed is
    scoring evidence. ``units_only``: the (document type, field) pairs whose value names
    official units only (a place of origin, an office named after its ward)."""
    for d in docs:
        for f in d.fields:
            kind = kinds.get((d.doctype, f.name))
            if kind == "address" and f.value:
                _annotate(f, (d.doctype, f.name) in units_only)
            # After the units placed were written as officially named (``addr_fixed``).
            if kind in ("address", "text") and f.value and names_unknown_unit(f.value):
                f._evidence["unit_unknown"] = 1.0


def _annotate(f: ExtractedField, units_only: bool) -> None:
    p = place_address(f.value or "")
    value = restore_unit_kinds(p.value)
    f.codes = p.codes
    f._evidence["addr_units"] = p.share
    # The words before the units that no pattern vouches for: a street's or a hamlet's name
    # ("Số 12, ngõ 5 đường Lê Lợi": two; "Xóm 3", "Tổ dân phố 12": none).
    head = [w for part in p.value.split(",")[:p.head] for w in part.split()]
    f._evidence["head_free"] = math.log1p(sum(
        not (w.isdigit() or fold(w) in _HEAD_TERMS) for w in head))
    if p.exact:
        f._evidence["addr_exact"] = 1.0
        if units_only and p.head == 0:
            # Nothing but official units, each exactly as named in the list, in one
            # consistent hierarchy: a member of a closed list (``extraction.known``).
            f._evidence[LIST_EXACT] = 1.0
    if value != f.value:
        f._evidence["addr_fixed"] = 1.0
        f.value = value


@lru_cache(maxsize=1)
def _province_keys() -> frozenset[str]:
    """Every province's full name (old and 2025 units), folded and without spaces."""
    return frozenset(province_table("legacy")) | frozenset(province_table("from_2025"))


def ends_with_province(text: str) -> bool:
    """Whether an address's last part is a whole province ("Tỉnh Khánh Hòa", "Thành phố Hà
    Nội"): an address names its province last, so nothing after it belongs to it."""
    last = text.rsplit(",", 1)[-1]
    key = re.sub(r"[^a-z0-9]", "", fold(last))
    return key in _province_keys()


# A unit named in running text: its kind, then its name's capitalized words or its number
# ("Xã Hành Đức", "Phường 1", "Thành phố Hồ Chí Minh").
_NAMED_UNIT = re.compile(
    r"\b(?i:tỉnh|thành phố|quận|huyện|thị xã|phường|xã|thị trấn|đặc khu)"
    r"((?:\s+(?:[A-ZĐÀ-Ỹ][^\s,.;:()]*|\d+))+)")


@lru_cache(maxsize=1)
def _unit_names() -> frozenset[str]:
    """The names of every province, district and ward (``unit_names``), as ``norm`` writes
    them."""
    return frozenset(norm(n) for n in unit_names())


def names_unknown_unit(text: str) -> bool:
    """Whether ``text`` names a unit ("Xã Hành Đúc") with a name no province, district or
    ward has, as read: a misreading, since official names are what papers print."""
    known = _unit_names()
    for m in _NAMED_UNIT.finditer(text):
        words = m.group(1).split()
        if words[0].isdigit():
            continue  # "Phường 1": numbered wards are not in the list by name
        # The unit's name is its first words; what follows may be other text in capitals.
        if not any(norm(" ".join(words[:n])) in known for n in range(len(words), 0, -1)):
            return True
    return False
