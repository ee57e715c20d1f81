"""Addresses parsed with ``vietnamadminunits``: the official codes of the ward, district and
province stored beside the text, for the old three-level units and the 2025 two-level ones."""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from importlib import resources

from extraction.text import fold
from models.records import ExtractedDocument, ExtractedField

__all__ = ["address_codes", "annotate_addresses", "normalize_address", "ends_with_province"]

log = logging.getLogger(__name__)


def _similarity(a: str, b: str) -> float:
    from difflib import SequenceMatcher

    fa, fb = fold(a).replace(" ", ""), fold(b).replace(" ", "")
    return SequenceMatcher(None, fa, fb).ratio()


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


def normalize_address(text: str) -> tuple[str, dict[str, str], float]:
    """The address with its administrative units spelt as officially named, their codes, and
    the share of its levels placed.

    Old three-level addresses (ward, district, province) are tried first, then the 2025
    two-level ones (ward, province). The units replace the address's last comma-separated
    parts only when each of those parts is close to the unit's name (OCR slips, lost
    diacritics); the street part is kept as read."""
    from vietnamadminunits import parse_address

    parts = [p.strip() for p in text.split(",") if p.strip()]
    if parts and (lead := fix_lead_term(parts[0])) != parts[0]:
        parts[0] = lead
        text = ", ".join(parts)
    best: tuple[str, dict[str, str], float] = (text, {}, 0.0)
    for mode, levels in (("LEGACY", ("ward", "district", "province")),
                         ("FROM_2025", ("ward", "province"))):
        try:
            unit = parse_address(text, mode=mode)
        except Exception as e:  # the parser raises plain errors on text it cannot place
            log.debug("address not parsed (%s): %s", mode, e)
            continue
        names = [getattr(unit, lv, None) for lv in levels]
        codes = {lv: str(getattr(unit, f"{lv}_code")) for lv in levels
                 if getattr(unit, f"{lv}_code", None)}
        share = len(codes) / len(levels)
        if share < 1.0:
            if share > best[2]:
                best = (text, {**codes, "units": _UNITS[mode]}, share)
            continue
        tail = parts[-len(levels):]
        spelt = [_as_read(p, str(n)) for p, n in zip(tail, names, strict=False)]
        if len(tail) == len(levels) and all(spelt):
            value = ", ".join(parts[:-len(levels)] + spelt)
            return value, {**codes, "units": _UNITS[mode]}, 1.0
        if share > best[2]:
            best = (text, {**codes, "units": _UNITS[mode]}, share * 0.5)
    return best


_UNITS = {"LEGACY": "legacy", "FROM_2025": "2025"}
# The kinds of unit a name starts with; short addresses (a 2016 card's place of origin,
# "Xuân Mỹ, Nghi Xuân, Hà Tĩnh") leave them out.
_UNIT_KINDS = re.compile(r"^(?:Thành phố|Thị trấn|Thị xã|Phường|Quận|Huyện|Tỉnh|Xã|Đặc khu)\s+")


def _as_read(part: str, name: str) -> str | None:
    """The unit's official name written as the part has it (with or without the kind of
    unit), when the part is a reading of it; None when it is not."""
    bare = _UNIT_KINDS.sub("", name)
    scored = sorted((_similarity(part, form), form) for form in {name, bare})
    return scored[-1][1] if scored[-1][0] >= 0.85 else None


def address_codes(text: str) -> tuple[dict[str, str], float]:
    """Official codes of the units an address names, and the share of its levels placed."""
    _, codes, share = normalize_address(text)
    return codes, share


def annotate_addresses(docs: list[ExtractedDocument], kinds: dict[tuple[str, str], str]) -> None:
    """Official spelling and codes for every address found; how much of it was placed is
    scoring evidence."""
    for d in docs:
        for f in d.fields:
            if kinds.get((d.doctype, f.name)) == "address" and f.value:
                _annotate(f)


def _annotate(f: ExtractedField) -> None:
    value, codes, share = normalize_address(f.value or "")
    f.codes = codes
    f._evidence["addr_units"] = share
    if value != f.value:
        f._evidence["addr_fixed"] = 1.0
        f.value = value


@lru_cache(maxsize=1)
def _province_keys() -> frozenset[str]:
    """Every province's full name (old and 2025 units), folded and without spaces."""
    keys: set[str] = set()
    for name in ("parser_legacy.json", "parser_from_2025.json"):
        data = json.loads(resources.files("vietnamadminunits").joinpath(
            f"data/{name}").read_text("utf-8"))
        keys.update(data["DICT_PROVINCE"])
    return frozenset(keys)


def ends_with_province(text: str) -> bool:
    """Whether an address's last part is a whole province ("Tỉnh Khánh Hòa", "Thành phố Hà
    Nội"): an address names its province last, so nothing after it belongs to it."""
    last = text.rsplit(",", 1)[-1]
    key = re.sub(r"[^a-z0-9]", "", fold(last))
    return key in _province_keys()
