"""Values people verified, as the index keeps them for extraction to learn from.

A field a person confirmed or corrected, in a record that was not rejected, is a verified
value: the same field of a later document of the same citizen that reads exactly so, or any
document's same field that reads as one of them (a vocabulary of streets, offices,
procedures), is as good as verified (``extraction.known``). The rows are part of the record
projection (table ``verified_values``, migration 0005): written with the record's row, in the
same transaction, and rebuilt by ``reindex`` (:mod:`storage.db.verified_rows`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from difflib import SequenceMatcher

from sqlalchemy import case, func, literal, select, tuple_

from extraction.known import KnownValues, norm
from storage.db.projection import RecordCitizenRow
from storage.db.verified_rows import VerifiedValueRow, write_verified
from storage.index import RecordIndex

__all__ = ["VerifiedValueRow", "IndexKnown", "write_verified", "closest_verified",
           "SUGGEST_RATIO"]

# Candidates asked about in one statement: well under every database's parameter limit.
_CHUNK = 300


class IndexKnown:
    """``extraction.known.KnownLookup`` over the index: two queries per dossier."""

    def __init__(self, index: RecordIndex) -> None:
        self.index = index

    def known_values(self, citizen_ids: Collection[str],
                     candidates: Collection[tuple[str, str, str]]) -> KnownValues:
        known = KnownValues()
        with self.index.transaction("read the values people verified") as s:
            ids = sorted(set(citizen_ids))
            if ids:
                found = s.execute(
                    select(RecordCitizenRow.citizen_id, VerifiedValueRow.field,
                           VerifiedValueRow.norm, VerifiedValueRow.record_id)
                    .join(VerifiedValueRow,
                          VerifiedValueRow.record_id == RecordCitizenRow.record_id)
                    .where(RecordCitizenRow.citizen_id.in_(ids)))
                for cid, field, n, record_id in found:
                    known.by_citizen.setdefault((cid, field, n), record_id)
            wanted = sorted({(t, f, n[:1000]) for t, f, n in candidates})
            for i in range(0, len(wanted), _CHUNK):
                part = wanted[i:i + _CHUNK]
                seen = s.execute(
                    select(VerifiedValueRow.doctype, VerifiedValueRow.field,
                           VerifiedValueRow.norm).distinct()
                    .where(tuple_(VerifiedValueRow.doctype, VerifiedValueRow.field,
                                  VerifiedValueRow.norm).in_(part)))
                known.vocabulary.update((t, f, n) for t, f, n in seen)
        return known


# How close a verified value must be to a reading to be offered for it (difflib's ratio on
# the normalized texts).
SUGGEST_RATIO = 0.85
_WORD = re.compile(r"\d+|\w{2,}")
_WORDS = 12  # the reading's longest words (numbers included) a candidate is ranked by
_CANDIDATES = 40  # candidates per field compared in full


def closest_verified(index: RecordIndex, doctype: str,
                     readings: Mapping[str, str]) -> dict[str, str]:
    """For each field's reading (field name -> value), the verified value of the same
    document type and field closest to it, when it is at least :data:`SUGGEST_RATIO` alike
    and not the reading itself. Bounded work per field, whatever the table holds: the field's
    rows (an index range) of a length such a ratio allows are ranked in the database by the
    reading's words they contain, and only the best few are compared in full."""
    out: dict[str, str] = {}
    with index.transaction("read the values people verified") as s:
        for name, reading in readings.items():
            n = norm(reading)[:1000]
            words = sorted(set(_WORD.findall(n)), key=len, reverse=True)[:_WORDS]
            if not words:
                continue
            # ratio = 2M / (len a + len b) >= r needs the lengths within r / (2 - r) of each
            # other.
            k = SUGGEST_RATIO / (2 - SUGGEST_RATIO)
            score = sum((case((VerifiedValueRow.norm.contains(w, autoescape=True), len(w)),
                              else_=0) for w in words), literal(0))
            found = s.execute(
                select(VerifiedValueRow.norm, score.label("score")).distinct()
                .where(VerifiedValueRow.doctype == doctype, VerifiedValueRow.field == name,
                       func.length(VerifiedValueRow.norm).between(int(len(n) * k),
                                                                  int(len(n) / k) + 1))
                .order_by(score.desc()).limit(_CANDIDATES)).all()
            sm = SequenceMatcher(None, "", n, autojunk=False)
            best, best_ratio = None, SUGGEST_RATIO
            if any(cand == n for cand, _score in found):
                continue  # the reading is a verified value itself
            for cand, _score in found:
                sm.set_seq1(cand)
                if sm.quick_ratio() >= best_ratio:
                    r = sm.ratio()
                    if r >= best_ratio and (best is None or r > best_ratio):
                        best, best_ratio = cand, r
            if best is not None:
                value = s.execute(select(VerifiedValueRow.value).where(
                    VerifiedValueRow.doctype == doctype, VerifiedValueRow.field == name,
                    VerifiedValueRow.norm == best).limit(1)).scalar_one()
                out[name] = value
    return out
