"""Addresses parsed with ``vietnamadminunits``: the official codes of the ward, district and
province stored beside the text, for the old three-level units and the 2025 two-level ones."""

from __future__ import annotations

import logging

from models.records import ExtractedDocument, ExtractedField

__all__ = ["address_codes", "annotate_addresses"]

log = logging.getLogger(__name__)


def address_codes(text: str) -> tuple[dict[str, str], float]:
    """Official codes of the units an address names, and the share of its levels found.

    Old three-level addresses (ward, district, province) are tried first; an address with no
    district is read as a 2025 two-level one (ward, province)."""
    from vietnamadminunits import parse_address

    best: dict[str, str] = {}
    best_share = 0.0
    for mode, levels in (("LEGACY", ("ward", "district", "province")),
                         ("FROM_2025", ("ward", "province"))):
        try:
            unit = parse_address(text, mode=mode)
        except Exception as e:  # the parser raises plain errors on text it cannot place
            log.debug("address not parsed (%s): %s", mode, e)
            continue
        codes = {lv: str(getattr(unit, f"{lv}_code")) for lv in levels
                 if getattr(unit, f"{lv}_code", None)}
        share = len(codes) / len(levels)
        if share > best_share:
            best = {**codes, "units": "legacy" if mode == "LEGACY" else "2025"}
            best_share = share
        if share == 1.0:
            break
    return best, best_share


def annotate_addresses(docs: list[ExtractedDocument], kinds: dict[tuple[str, str], str]) -> None:
    """Codes for every address value found; how much of it was placed is scoring evidence."""
    for d in docs:
        for f in d.fields:
            if kinds.get((d.doctype, f.name)) == "address" and f.value:
                _annotate(f)


def _annotate(f: ExtractedField) -> None:
    codes, share = address_codes(f.value or "")
    f.codes = codes
    f._evidence["addr_units"] = share
