"""Exact sources and cross-checks: what a document carries in machine-readable form (the chip
card's QR code, its MRZ, a receipt's barcode) and what documents of one dossier say about the
same person.

Exact sources beat reading: a value read from a QR code or a check-digit-valid MRZ replaces
the OCR reading, which stays beside it as a second reading. Every agreement or disagreement is
recorded as evidence for the calibrated scorer (``extraction.confidence``); a disagreement
between documents is never auto-accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher

from extraction.mrz import checked_td1, name_line
from extraction.mrz import clean as mrz_clean
from extraction.text import fold
from extraction.validators import CENTURY_BASE, MRZ_NAME_ODD, check_citizen_id, mrz_problems
from models.ocr import PageOCR
from models.records import ExtractedDocument, ExtractedField, FieldSource, FieldStatus, Reading

__all__ = ["parse_cccd_qr", "parse_mrz", "find_mrz", "apply_exact_sources", "reconcile",
           "PersonData"]

CARD_DOCTYPES = ("cccd_front", "cccd_back")


@dataclass
class PersonData:
    """What an exact source says: field name -> value, and whose ID it is."""

    source: FieldSource
    values: dict[str, str] = field(default_factory=dict)
    page: int | None = None
    folded: set[str] = field(default_factory=set)  # fields compared without diacritics

    @property
    def citizen_id(self) -> str | None:
        return self.values.get("citizen_id")


def _ddmmyyyy(text: str) -> str | None:
    if not re.fullmatch(r"\d{8}", text):
        return None
    try:
        return date(int(text[4:]), int(text[2:4]), int(text[:2])).isoformat()
    except ValueError:
        return None


def parse_cccd_qr(text: str) -> PersonData | None:
    """The chip card's QR text ``ID|old ID|name|ddmmyyyy|sex|address|issue ddmmyyyy``."""
    parts = text.split("|")
    if len(parts) < 7 or not re.fullmatch(r"\d{12}", parts[0]) or check_citizen_id(parts[0]):
        return None
    values = {"citizen_id": parts[0], "full_name": parts[2].strip()}
    if parts[1].strip():
        values["old_id"] = parts[1].strip()
    if dob := _ddmmyyyy(parts[3]):
        values["date_of_birth"] = dob
    if parts[4] in ("Nam", "Nữ"):
        values["sex"] = parts[4]
    if parts[5].strip():
        values["place_of_residence"] = parts[5].strip()
    if issued := _ddmmyyyy(parts[6]):
        values["issue_date"] = issued
    return PersonData(FieldSource.qr, values)


# ---- MRZ (ICAO 9303 TD1: three lines of 30) -------------------------------------------------

def find_mrz(page: PageOCR) -> list[str] | None:
    """The three MRZ lines of a card back, as OCR read them (lightly cleaned): a line with the
    country code ``VNM`` after the two-letter document code (however OCR read those), and the
    two lines under it."""
    lines = [mrz_clean(ln.text) for ln in page.lines]
    for i in range(len(lines) - 2):
        if 2 <= lines[i].find("VNM", 0, 6) <= 4:
            trio = [lines[i], lines[i + 1], lines[i + 2]]
            if all(20 <= len(x) <= 36 for x in trio):
                return trio
    return None


def _yymmdd(s: str, century: int) -> str | None:
    try:
        return date(century + int(s[:2]), int(s[2:4]), int(s[4:6])).isoformat()
    except ValueError:
        return None


def parse_mrz(lines: list[str]) -> PersonData | None:
    """A TD1 MRZ whose every check digit holds (``mrz`` library), as person data."""
    zone = checked_td1(lines)
    if zone is None:
        return None
    f = zone.fields
    values: dict[str, str] = {"mrz": zone.text}
    cid = f.optional_data.replace("<", "")
    if re.fullmatch(r"\d{12}", cid):
        values["citizen_id"] = cid
        century = CENTURY_BASE.get(int(cid[3]), 1900)
        if dob := _yymmdd(f.birth_date, century):
            values["date_of_birth"] = dob
    if f.expiry_date.isdigit():
        if exp := _yymmdd(f.expiry_date, 2000):
            values["expiry_date"] = exp
    if f.sex in ("M", "F"):
        values["sex"] = "Nam" if f.sex == "M" else "Nữ"
    name = " ".join(x for x in (f.surname, f.name) if x).strip()
    if name:
        values["full_name"] = name
    return PersonData(FieldSource.mrz, values, folded={"full_name"})


# ---- applying exact sources ---------------------------------------------------------------

def _same(a: str, b: str, *, folded: bool = False) -> bool:
    def norm(v: str) -> str:
        v = re.sub(r"\s*,\s*", ", ", v)
        v = re.sub(r"\s+", " ", v).strip().casefold()
        return fold(v) if folded else v

    return norm(a) == norm(b)


NAME_FROM_MRZ = ("name not read on the document: the letters of the card's MRZ, which has no "
                 "accents and no check digit on its name line; check it")


def _take_exact(f: ExtractedField, value: str, src: PersonData) -> None:
    """Cross-check one field with an exact source's value."""
    folded = f.name in src.folded
    if f.value is not None and _same(f.value, value, folded=folded):
        # A name without diacritics (MRZ) confirms the letters, not the diacritics.
        f._evidence["folded_agree" if folded else "exact_agree"] = 1.0
        if not folded and f.value != value:
            # Same text; the exact source has the diacritics and the spelling right.
            f.readings.append(Reading(value=f.value, source=f.source, confidence=f.confidence))
            f.value = value
            f.source = src.source
        return
    if folded:
        # The MRZ carries names without diacritics: it can confirm a reading, not replace it;
        # a name OCR did not read at all is its letters, in the card's capitals, for review
        # (the accents are restored later as names most often have them).
        if f.value is not None:
            f._evidence["exact_disagree"] = 1.0
            f.readings.append(Reading(value=value, source=src.source, confidence=1.0))
        elif value.strip():
            f.value, f.source, f.status = value.upper(), src.source, FieldStatus.review
            f.problems = [NAME_FROM_MRZ]
            if src.page is not None:
                f.page = src.page
        return
    if f.value is not None:
        f.readings.append(Reading(value=f.value, source=f.source, confidence=f.confidence))
        f._evidence["ocr_differs"] = 1.0
    f.value = value
    f.source = src.source
    f.problems = []
    f.status = FieldStatus.review
    if src.page is not None:
        f.page = src.page
    f._evidence["exact_source"] = 1.0


def _exact_sources(doc: ExtractedDocument, pages: list[PageOCR]) -> list[PersonData]:
    found: list[PersonData] = []
    for i in doc.pages:
        for code in pages[i].codes:
            pd = parse_cccd_qr(code.text) if code.format.startswith("QR") else None
            if pd:
                pd.page = i
                found.append(pd)
        if doc.doctype == "cccd_back":
            trio = find_mrz(pages[i])
            pd = parse_mrz(trio) if trio else None
            if pd:
                pd.page = i
                found.append(pd)
    return found


def apply_exact_sources(docs: list[ExtractedDocument], pages: list[PageOCR]) -> None:
    """QR codes and MRZs of the dossier's cards cross-check (and, where read, supply) the
    cards' fields; a receipt's barcode supplies its dossier code."""
    per_doc = [_exact_sources(d, pages) for d in docs]
    by_id: dict[str, list[PersonData]] = {}
    for found in per_doc:
        for pd in found:
            if pd.citizen_id:
                by_id.setdefault(pd.citizen_id, []).append(pd)
    for i, (d, own) in enumerate(zip(docs, per_doc, strict=True)):
        if d.doctype == "receipt_appointment":
            _receipt_code(d, pages)
            continue
        if d.doctype not in CARD_DOCTYPES:
            continue
        cid_field = d.field("citizen_id")
        cid = cid_field.value if cid_field else None
        if cid is None:
            # A card's back names its holder in its own codes.
            cid = next((s.citizen_id for s in own if s.citizen_id), None)
        sources = list(own)
        # Another document's code applies only through the same ID number: a dossier can
        # hold the cards of several people.
        if cid and cid in by_id:
            sources += [s for s in by_id[cid] if s not in sources]
        elif cid is None:
            sources += _other_side(i, docs, per_doc)
        # Exact sources first in the order QR, MRZ: the QR has diacritics.
        sources.sort(key=lambda s: s.source != FieldSource.qr)
        for f in d.fields:
            for src in sources:
                value = src.values.get(f.name)
                if value is None:
                    continue
                if f.source in (FieldSource.qr, FieldSource.mrz) and f.source != src.source:
                    if _same(f.value or "", value, folded=f.name in src.folded):
                        f._evidence["exact_agree"] = 1.0
                    else:
                        f._evidence["exact_disagree"] = 1.0
                        f.readings.append(Reading(value=value, source=src.source,
                                                  confidence=1.0))
                    continue
                if src.page is not None and src.page not in d.pages and f.value is not None \
                        and f._evidence.get("check_ok") \
                        and not _same(f.value, value, folded=f.name in src.folded):
                    # This side's own reading passes its checks and the other side's code
                    # says otherwise: two cards of one person (an old and a new), or a
                    # misread; a person decides.
                    f._evidence["exact_disagree"] = 1.0
                    f.readings.append(Reading(value=value, source=src.source, confidence=1.0))
                    if OTHER_CODE_DIFFERS not in f.problems:
                        f.problems.append(OTHER_CODE_DIFFERS)
                    f.status = FieldStatus.review
                    continue
                _take_exact(f, value, src)
                if f.name == "mrz" and f.value == value:
                    f.problems += [p for p in mrz_problems(value) if p not in f.problems]
        if d.doctype == "cccd_back":
            _mrz_name(d, sources, docs)


OTHER_CODE_DIFFERS = ("the code on another document of this person says otherwise, and this "
                      "document's own reading passes its checks")


def _other_side(i: int, docs: list[ExtractedDocument],
                per_doc: list[list[PersonData]]) -> list[PersonData]:
    """The codes of the other side of the same card, for a side whose ID number OCR could not
    read: the card scanned just before or after it, if what this side does say (date of
    birth, or the name's letters) agrees with them."""
    d = docs[i]
    for j in (i + 1, i - 1):
        if not (0 <= j < len(docs)) or docs[j].doctype not in CARD_DOCTYPES \
                or docs[j].doctype == d.doctype:
            continue
        theirs = [s for s in per_doc[j] if s.citizen_id]
        if theirs and any(_confirms(d, s) for s in theirs):
            return theirs
    return []


def _confirms(d: ExtractedDocument, src: PersonData) -> bool:
    dob, name = d.field("date_of_birth"), d.field("full_name")
    if dob is not None and dob.value and src.values.get("date_of_birth"):
        return dob.value == src.values["date_of_birth"]
    if name is not None and name.value and src.values.get("full_name"):
        return _same(name.value, src.values["full_name"], folded=True)
    return False


def _mrz_name(d: ExtractedDocument, sources: list[PersonData],
              docs: list[ExtractedDocument]) -> None:
    """The MRZ's name line has no check digit: the holder's name from the card's QR code (or,
    when close, from the front's reading) gives it letter for letter."""
    f = d.field("mrz")
    if f is None or not f.value or f.value.count("\n") != 2:
        return
    lines = f.value.split("\n")
    cid = lines[0][15:27]
    exact = [s.values["full_name"] for s in sources
             if s.source == FieldSource.qr and s.citizen_id == cid and s.values.get("full_name")]
    read: list[str] = []
    for x in docs:
        xid, xname = x.field("citizen_id"), x.field("full_name")
        if (x.doctype == "cccd_front" and xid is not None and xid.value == cid
                and xname is not None and xname.value):
            read.append(xname.value)
    for name, sure in [(n, True) for n in exact] + [(n, False) for n in read]:
        line = name_line(fold(name).upper().split())
        if line == lines[2]:
            f._evidence["exact_agree" if sure else "doc_agree"] = 1.0
            return
        if sure or SequenceMatcher(None, line, lines[2], autojunk=False).ratio() >= 0.85:
            f.readings.append(Reading(value=f.value, source=f.source, confidence=f.confidence))
            f.value = "\n".join([*lines[:2], line])
            if sure:
                f.source = FieldSource.qr
                f.problems = [p for p in f.problems if p != MRZ_NAME_ODD]
            return


_CODE_RE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.H\d{2}-\d{6}-\d{4}$")


def _receipt_code(d: ExtractedDocument, pages: list[PageOCR]) -> None:
    f = d.field("dossier_code")
    if f is None:
        return
    codes = [c.text for i in d.pages for c in pages[i].codes if _CODE_RE.match(c.text)]
    if not codes:
        return
    src = PersonData(FieldSource.barcode, {"dossier_code": codes[0]})
    _take_exact(f, codes[0], src)


# ---- one person on several documents ------------------------------------------------------

# Which fields of a document describe one person: (ID field, name field, date-of-birth field).
PERSON_FIELDS: dict[str, list[tuple[str, str, str | None]]] = {
    "cccd_front": [("citizen_id", "full_name", "date_of_birth")],
    "birth_registration": [("declarant_id", "declarant_name", None),
                           ("father_id", "father_name", None),
                           ("mother_id", "mother_name", None)],
    "marriage_registration": [("wife_id", "wife_name", "wife_date_of_birth"),
                              ("husband_id", "husband_name", "husband_date_of_birth")],
    "receipt_appointment": [("applicant_id", "applicant_name", None)],
    "power_of_attorney": [("grantor_id", "grantor_name", None),
                          ("grantee_id", "grantee_name", None)],
    "enterprise_registration": [("representative_id", "legal_representative", None)],
    "residence_confirmation": [("citizen_id", "full_name", "date_of_birth")],
    "application_letter": [("citizen_id", "full_name", "date_of_birth")],
    "birth_certificate_extract": [],
}


def _diacritics(v: str) -> int:
    return sum(1 for a, b in zip(v, fold(v), strict=False) if a.lower() != b)


def _name_key(v: str) -> str:
    return " ".join(fold(v).casefold().split())


def _merge_diacritics(own: str, other: str) -> str:
    """``own`` with each word that OCR read without diacritics written as ``other`` has it
    (the same letters), in ``own``'s case; words that have diacritics stay as read."""
    a, b = own.split(), other.split()
    out = []
    for x, y in zip(a, b, strict=True):
        if fold(x) == x.lower() and fold(y) != y.lower() and fold(x) == fold(y):
            y = y.upper() if x.isupper() else y[0].upper() + y[1:].lower() \
                if x[:1].isupper() else y.lower()
            out.append(y)
        else:
            out.append(x)
    return " ".join(out)


ID_FROM_NAME = "ID number read on another document naming the same person: check it"


def _reconcile_names(docs: list[ExtractedDocument]) -> None:
    """A name read without its diacritics (capitals on a card) takes them from the same name,
    letter for letter, on another document of the dossier: found by the name itself, since a
    card's number can be unreadable. A document of that person whose ID number is missing
    takes the one the others give (for review)."""
    names: dict[str, list[tuple[int, ExtractedField, ExtractedField | None,
                                ExtractedField | None]]] = {}
    for di, d in enumerate(docs):
        for id_name, name_name, dob_name in PERSON_FIELDS.get(d.doctype, []):
            nf = d.field(name_name)
            if nf is not None and nf.value and len(nf.value.split()) >= 2:
                names.setdefault(_name_key(nf.value), []).append(
                    (di, nf, d.field(id_name), d.field(dob_name) if dob_name else None))
    for group in names.values():
        if len({g[0] for g in group}) < 2:
            continue
        for _, f, _, _ in group:
            # Every name of a group was read (two words or more) and stays so when merged.
            merged = f.value or ""
            for _, other, _, _ in group:
                theirs = other.value or ""
                if other is not f and len(theirs.split()) == len(merged.split()):
                    merged = _merge_diacritics(merged, theirs)
            if merged != f.value:
                f.readings.append(Reading(value=f.value, source=f.source,
                                          confidence=f.confidence))
                f.value = merged
                f.source = FieldSource.reconciled
        _fill_id(group)


def _fill_id(group: list[tuple[int, ExtractedField, ExtractedField | None,
                               ExtractedField | None]]) -> None:
    ids = {idf.value for _, _, idf, _ in group
           if idf is not None and idf.value and not idf.problems}
    dobs = {dob.value for _, _, _, dob in group if dob is not None and dob.value}
    if len(ids) != 1 or len(dobs) > 1:
        return  # two people of one name, or nothing to give
    (cid,) = ids
    for _, _, idf, _ in group:
        if idf is not None and idf.value is None:
            idf.value, idf.source, idf.status = cid, FieldSource.reconciled, FieldStatus.review
            idf.problems = [ID_FROM_NAME]
            idf._evidence["doc_agree"] = 1.0


def reconcile(docs: list[ExtractedDocument]) -> None:
    """The same ID number on several documents of a dossier is the same person: their names
    and dates of birth must agree. Agreeing readings confirm each other (the one with
    diacritics wins); disagreeing ones go to review with every reading shown. A name without
    diacritics takes them from the same name on another document. A residence read alike on
    two documents, and a person printed twice on one form, confirm themselves."""
    _reconcile_by_id(docs)
    _one_digit_apart(docs)
    _reconcile_names(docs)
    _residence_agrees(docs)
    for d in docs:
        _same_person_twice(d)
        _sex_from_id(d)


# Where a document gives a person's residence: (ID field, residence field).
RESIDENCE_FIELDS: dict[str, list[tuple[str, str]]] = {
    "cccd_front": [("citizen_id", "place_of_residence")],
    "residence_confirmation": [("citizen_id", "permanent_residence")],
    "application_letter": [("citizen_id", "address")],
    "birth_registration": [("declarant_id", "declarant_residence")],
    # The form's table gives the bride's column first: its residence is hers.
    "marriage_registration": [("wife_id", "residence")],
}


def _residence_agrees(docs: list[ExtractedDocument]) -> None:
    """One person's residence read the same on two documents of the dossier (the card, the
    application, the residence confirmation): each reading confirms the other. Readings that
    differ say nothing (a card may show a residence since left)."""
    people: dict[str, list[tuple[int, ExtractedField]]] = {}
    for di, d in enumerate(docs):
        for id_name, res_name in RESIDENCE_FIELDS.get(d.doctype, []):
            idf, res = d.field(id_name), d.field(res_name)
            if idf is None or not idf.value or idf.problems or res is None or not res.value:
                continue
            people.setdefault(idf.value, []).append((di, res))
    for group in people.values():
        for di, f in group:
            mine = f.value or ""
            if any(dj != di and _same(mine, g.value or "") for dj, g in group):
                f._evidence["doc_agree"] = 1.0


def _same_person_twice(doc: ExtractedDocument) -> None:
    """One person printed twice on a form (the declarant who is the child's father): the two
    readings of the ID number, from two places of the page, say the same, and so do the names.
    Each confirms the other as another document's reading would."""
    people = [(doc.field(i), doc.field(n)) for i, n, _ in PERSON_FIELDS.get(doc.doctype, [])]
    for k, (id_a, name_a) in enumerate(people):
        for id_b, name_b in people[k + 1:]:
            if (id_a is None or id_b is None or not id_a.value or id_a.problems
                    or id_b.problems or id_a.value != id_b.value):
                continue
            id_a._evidence["doc_agree"] = id_b._evidence["doc_agree"] = 1.0
            if (name_a is not None and name_b is not None and name_a.value and name_b.value
                    and _same(name_a.value, name_b.value)):
                name_a._evidence["doc_agree"] = name_b._evidence["doc_agree"] = 1.0


def _one_digit_apart(docs: list[ExtractedDocument]) -> None:
    """Two ID numbers of one dossier that differ in a single digit are one number, misread on
    one document: two people's numbers agree on everything but one of the six serial digits
    about once in twenty thousand pairs, OCR confuses a digit far more often. The reading fewer
    documents give goes to review, with the other shown (both, when as many give each)."""
    ids: list[tuple[int, ExtractedField, str]] = []
    for di, d in enumerate(docs):
        for id_name, _, _ in PERSON_FIELDS.get(d.doctype, []):
            f = d.field(id_name)
            if f is not None and f.value and not f.problems and f.value.isdigit():
                ids.append((di, f, f.value))
    support: dict[str, set[int]] = {}
    for di, _, mine in ids:
        support.setdefault(mine, set()).add(di)
    for _, f, mine in ids:
        for value, docs_with in support.items():
            if (value == mine or len(value) != len(mine)
                    or sum(a != b for a, b in zip(value, mine, strict=True)) != 1
                    or len(docs_with) < len(support[mine])):
                continue
            f._evidence["doc_disagree"] = 1.0
            other = next(g for _, g, theirs in ids if theirs == value)
            f.readings.append(Reading(value=value, source=other.source,
                                      confidence=other.confidence,
                                      document=docs[min(docs_with)].doctype))


SEX_FROM_ID = "sex read from the ID number's sex digit: check it on the document"


def _sex_from_id(d: ExtractedDocument) -> None:
    """The personal ID number's fourth digit says the holder's sex (even: male, odd: female):
    a sex OCR could not read is that, for review."""
    sex, cid = d.field("sex"), d.field("citizen_id")
    if sex is None or sex.value is not None or cid is None or not cid.value \
            or cid.problems or not re.fullmatch(r"\d{12}", cid.value):
        return
    sex.value = "Nữ" if int(cid.value[3]) % 2 else "Nam"
    sex.source, sex.status, sex.problems = FieldSource.reconciled, FieldStatus.review, [
        SEX_FROM_ID]


def _reconcile_by_id(docs: list[ExtractedDocument]) -> None:
    people: dict[str, list[tuple[int, ExtractedField | None, ExtractedField | None]]] = {}
    for di, d in enumerate(docs):
        for id_name, name_name, dob_name in PERSON_FIELDS.get(d.doctype, []):
            idf = d.field(id_name)
            if idf is None or idf.value is None or idf.problems:
                continue
            people.setdefault(idf.value, []).append(
                (di, d.field(name_name), d.field(dob_name) if dob_name else None))
    for _cid, group in people.items():
        if len({di for di, _, _ in group}) < 2:
            continue
        for slot, folded in ((1, True), (2, False)):
            # Each field with the value it was read with.
            fields = [(f, f.value) for _, name, dob in group
                      if (f := name if slot == 1 else dob) is not None and f.value]
            if len(fields) < 2:
                continue
            values = [v for _, v in fields]
            if all(_same(values[0], v, folded=folded) for v in values[1:]):
                best = max(values, key=_diacritics)
                for f, mine in fields:
                    f._evidence["doc_agree"] = 1.0
                    if slot == 1 and mine != best and not _same(mine, best):
                        f.readings.append(Reading(value=mine, source=f.source,
                                                  confidence=f.confidence))
                        f.value = best if not mine.isupper() else best.upper()
                        f.source = FieldSource.reconciled
            else:
                for f, mine in fields:
                    f._evidence["doc_disagree"] = 1.0
                    for other, theirs in fields:
                        if other is not f and not _same(theirs, mine):
                            doc = docs[next(di for di, *rest in group
                                            if other in rest)].doctype
                            f.readings.append(Reading(value=theirs, source=other.source,
                                                      confidence=other.confidence,
                                                      document=doc))
