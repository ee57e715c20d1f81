"""What is known before a value is read: closed lists, and what people already decided.

A reading that is exactly a member of a closed list (the 54 ethnic groups, nationalities,
kinship terms), or that equals a value a person confirmed or corrected (the same field of a
settled record of the same citizen, or the same field of any document as a vocabulary of
streets, offices, procedures...), is as good as a verified one: OCR does not turn a wrong
reading into exactly such a text. Each agreement is evidence on the value, shown to the
reviewer as a reading from a person, and the auto-accept rule takes it as confirmation
(``extraction.confidence.confirmed``).

Nothing here reads the database: the caller hands in a :class:`KnownLookup` (the record
index's, or a fixed list in the benchmark and the tests).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Protocol

from extraction.names import RESTORED as NAME_ACCENTS_RESTORED
from extraction.sources import ID_FROM_NAME, SEX_FROM_ID
from extraction.text import fold, nfc
from extraction.vocab import LEXICON_RESTORED
from models.records import ExtractedDocument, FieldSource, FieldStatus, Reading

__all__ = ["norm", "closed_list", "closed_list_names", "VerifiedValue", "KnownValues",
           "KnownLookup", "FixedKnown", "apply_known", "PERSON_AGREE", "VOCAB_AGREE",
           "LIST_EXACT"]

# Evidence names (``ExtractedField._evidence``); the scorer does not read them, the rule does.
PERSON_AGREE = "person_agree"  # a person verified this value for this citizen
VOCAB_AGREE = "vocab_agree"  # a person verified this value in this field of another document
LIST_EXACT = "list_exact"  # the reading is exactly a member of the field's closed list
# Its letters, accents aside, are exactly those of one member (``closed_list_member``).
LIST_LETTERS = "list_letters"
# How similar the reading's letters are to the one choice it was snapped to
# (``extraction.vocab.snap_choice``). A field's choices are a closed set: a reading at least
# ``CHOICE_NEAR`` similar to exactly one choice (no other within the snapping margin) is that
# choice.
CHOICE_SIM = "choice_sim"
CHOICE_NEAR = 0.9

# A vocabulary value shorter than this says too little to vouch for a reading.
MIN_VOCAB_CHARS = 4

# Problems that only ask a person to check how a value was made up (accents restored, a value
# taken from elsewhere on the papers): moot once the value is what a person verified.
ADVISORY = (LEXICON_RESTORED, NAME_ACCENTS_RESTORED, SEX_FROM_ID, ID_FROM_NAME)

_LISTS = "lists"


def norm(text: str) -> str:
    """A value as compared with known ones: composed, spaces collapsed (none before a comma,
    one after), letter case aside, no final stop. Diacritics count."""
    t = nfc(text)
    t = re.sub(r"\s*,\s*", ", ", t)
    t = re.sub(r"\s+", " ", t).strip().rstrip(".;:").strip()
    return t.casefold()


@cache
def _members(name: str) -> tuple[str, ...]:
    """The members of the closed list ``name`` (``extraction/lists/NAME.txt``), as written."""
    res = resources.files("extraction").joinpath(_LISTS, f"{name}.txt")
    if not res.is_file():
        raise ValueError(f"no closed list {name!r}; known: {', '.join(closed_list_names())}")
    lines = (ln.strip() for ln in res.read_text("utf-8").splitlines())
    return tuple(nfc(ln) for ln in lines if ln and not ln.startswith("#"))


@cache
def closed_list(name: str) -> frozenset[str]:
    """The normalized members of the closed list ``name`` (``extraction/lists/NAME.txt``)."""
    return frozenset(norm(m) for m in _members(name))


def closed_list_names() -> list[str]:
    folder = resources.files("extraction").joinpath(_LISTS)
    return sorted(p.name.removesuffix(".txt") for p in folder.iterdir()
                  if p.name.endswith(".txt"))


@dataclass(frozen=True)
class VerifiedValue:
    """A field's value as a person confirmed or corrected it, in a settled record."""

    doctype: str
    field: str
    value: str
    citizen_ids: tuple[str, ...] = ()  # the citizens the record names
    record_id: str | None = None


@dataclass
class KnownValues:
    """The person-verified values that bear on one dossier."""

    # (citizen id, field name, normalized value) -> the record a person verified it in
    by_citizen: dict[tuple[str, str, str], str | None] = field(default_factory=dict)
    # (document type, field name, normalized value)
    vocabulary: set[tuple[str, str, str]] = field(default_factory=set)


class KnownLookup(Protocol):
    def known_values(self, citizen_ids: Collection[str],
                     candidates: Collection[tuple[str, str, str]]) -> KnownValues:
        """What people verified for these citizens, and which of the candidate
        (document type, field name, normalized value) are in a field's vocabulary."""
        ...


class FixedKnown:
    """A :class:`KnownLookup` over a list of verified values held in memory."""

    def __init__(self, values: Iterable[VerifiedValue]) -> None:
        self.citizen: dict[tuple[str, str, str], str | None] = {}
        self.vocabulary: set[tuple[str, str, str]] = set()
        for v in values:
            n = norm(v.value)
            self.vocabulary.add((v.doctype, v.field, n))
            for cid in v.citizen_ids:
                self.citizen.setdefault((cid, v.field, n), v.record_id)

    def known_values(self, citizen_ids: Collection[str],
                     candidates: Collection[tuple[str, str, str]]) -> KnownValues:
        ids = set(citizen_ids)
        return KnownValues(
            by_citizen={k: r for k, r in self.citizen.items() if k[0] in ids},
            vocabulary={c for c in candidates if c in self.vocabulary})


def _citizens(doc: ExtractedDocument, citizen_fields: set[tuple[str, str]]) -> list[str]:
    return [f.value for f in doc.fields
            if (doc.doctype, f.name) in citizen_fields and f.value and not f.problems
            and f.value.isdigit()]


def _moot(problems: list[str], value: str, kind: str | None) -> list[str]:
    """``problems`` less those a person already saw and overrode when they verified this very
    value: the advice on how it was made up, and what the validators say of the value alone
    (a hospital named as a place of birth is no ward-and-province address)."""
    own: set[str] = set(ADVISORY)
    if kind is not None:
        from extraction.validators import parse_value

        own.update(parse_value(kind, value).problems)
    return [p for p in problems if p not in own]


def apply_known(docs: list[ExtractedDocument], lookup: KnownLookup | None,
                citizen_fields: set[tuple[str, str]],
                types: dict[tuple[str, str], str] | None = None) -> None:
    """Mark the values people already verified: for one of the document's citizens
    (``citizen_fields``: the (document type, field) pairs that hold a citizen id), or in the
    same field of any document. A citizen id whose other values agree with what a person
    verified for it is confirmed by them too. ``types`` gives each field's type, for the
    validators' verdict on a value alone."""
    types = types or {}
    if lookup is None or not docs:
        return
    cids = {c for d in docs for c in _citizens(d, citizen_fields)}
    candidates = {(d.doctype, f.name, norm(f.value)) for d in docs for f in d.fields
                  if f.value is not None and f.status != FieldStatus.missing}
    known = lookup.known_values(cids, candidates)
    if not known.by_citizen and not known.vocabulary:
        return
    for d in docs:
        mine = _citizens(d, citizen_fields)
        agreed = 0
        for f in d.fields:
            if f.value is None:
                continue
            n = norm(f.value)
            record = next((known.by_citizen[(c, f.name, n)] for c in mine
                           if (c, f.name, n) in known.by_citizen), False)
            if record is not False or ((d.doctype, f.name, n) in known.vocabulary
                                       and len(n) >= MIN_VOCAB_CHARS):
                f.problems = _moot(f.problems, f.value, types.get((d.doctype, f.name)))
            if record is not False:
                f._evidence[PERSON_AGREE] = 1.0
                if (d.doctype, f.name) not in citizen_fields:
                    agreed += 1
                f.readings.append(Reading(value=f.value, source=FieldSource.person,
                                          confidence=1.0, document=record or None))
            elif (d.doctype, f.name, n) in known.vocabulary and len(n) >= MIN_VOCAB_CHARS:
                f._evidence[VOCAB_AGREE] = 1.0
        if agreed:
            # The holder's other values are what a person verified for this id: the id is
            # that record's (a misread id would not bring its owner's name along).
            for f in d.fields:
                if (d.doctype, f.name) in citizen_fields and f.value in mine:
                    f._evidence[PERSON_AGREE] = 1.0


# A reading at least this long whose letters, accents aside, are exactly those of one member
# of a closed list (and of no other) is that member: OCR loses accents, it does not turn a
# catalogue's long phrase into another one's letters.
MIN_LETTERS_MATCH = 15


@cache
def _members_by_letters(name: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in _members(name):
        out.setdefault(fold(norm(m)), []).append(m)
    return out


def closed_list_member(value: str | None, list_name: str | None) -> str | None:
    """The member of the closed list ``list_name`` that ``value`` is a reading of, accents
    lost or misread: the one member with its letters, for a reading of at least
    ``MIN_LETTERS_MATCH`` letters; None otherwise."""
    if not value or not list_name:
        return None
    key = fold(norm(value))
    if sum(ch.isalpha() for ch in key) < MIN_LETTERS_MATCH:
        return None
    hits = _members_by_letters(list_name).get(key, [])
    return hits[0] if len(hits) == 1 else None


def mark_closed_list(value: str | None, list_name: str | None,
                     choices: Collection[str] = ()) -> bool:
    """Whether ``value``, as read, is exactly a member of the closed list ``list_name`` or
    one of the field's ``choices``; or has, accents lost or misread, the letters of exactly
    one choice (OCR drops the accents of capitals: "BO CONG AN"), which the field then takes
    (``extraction.vocab.snap_choice``)."""
    if not value:
        return False
    n = norm(value)
    if list_name and n in closed_list(list_name):
        return True
    keys = [norm(c) for c in choices]
    return n in keys or sum(fold(k) == fold(n) for k in keys) == 1


__all__ += ["mark_closed_list", "closed_list_member", "CHOICE_NEAR", "CHOICE_SIM",
            "LIST_LETTERS"]
