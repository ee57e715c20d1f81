"""Classification, splitting and field extraction over OCR results.

Nothing here imports Prefect, FastAPI or the storage layer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from extraction.doctypes import DoctypeDef, generic_identity, load_doctypes

if TYPE_CHECKING:
    from extraction.known import KnownLookup
    from extraction.reread import LineReader
    from models.ocr import PageOCR
    from models.records import ExtractedDocument

# ``UNKNOWN`` lives in ``extraction.classify``, which loads spaCy: importing this package stays
# cheap until extraction is used.
__all__ = ["extract_documents", "load_doctypes", "DoctypeDef", "SEPARATOR", "warm_up",
           "start_warm_up", "wait_for_warm_up", "read_as_their_types"]

SEPARATOR = "separator"

log = logging.getLogger(__name__)


def extract_documents(pages: list[PageOCR], doctypes: list[DoctypeDef], *,
                      review_threshold: float | None = None,
                      calibration: Path | None = None,
                      calibrate: bool = True,
                      known: KnownLookup | None = None,
                      reread: LineReader | None = None) -> list[ExtractedDocument]:
    """Classify the pages of a dossier, split them into documents and extract the fields;
    cross-check them with the exact sources the documents carry (QR codes, MRZ, barcodes)
    and with each other; give each value its calibrated confidence and decide which are
    accepted. ``review_threshold`` overrides the calibrated rule's threshold; ``calibration``
    is another calibration file than the committed one; ``known`` tells the values people
    already verified (``extraction.known``); ``reread`` reads a value's lines again where
    that could settle its document (``extraction.reread``; not with ``review_threshold``,
    whose stricter rule has no second threshold to go with it)."""
    from extraction.addresses import annotate_addresses
    from extraction.classify import (
        UNKNOWN,
        classify_by_shape,
        classify_card_sides,
        classify_page,
        split_pages,
    )
    from extraction.confidence import apply_calibration, load_calibrator
    from extraction.fields import extract_fields
    from extraction.identity import fill_identity
    from extraction.known import apply_known
    from extraction.layout import page_rows
    from extraction.names import restore_names
    from extraction.sources import apply_exact_sources, reconcile
    from models.records import ExtractedDocument

    by_id = {d.id: d for d in doctypes}
    from extraction.classify import PageClass
    from extraction.separator import is_separator

    # A separator sheet ends a document and is no document itself.
    classes = [PageClass(SEPARATOR, 1.0, 1.0, True, 1) if is_separator(p)
               else classify_page(p, doctypes) for p in pages]
    by_code: set[int] = set()  # pages typed by a machine-readable zone or code they carry
    for i, (c, p) in enumerate(zip(classes, pages, strict=True)):
        c.aspect = p.width / p.height if p.width and p.height else None
        c.card = p.card is not None
        if c.doctype == UNKNOWN and "cccd_back" in by_id and _mrz_lines(p):
            # Too little text read to tell it, but a card's machine-readable zone is there
            # (its three lines, even when OCR broke a check digit).
            c.doctype, c.confidence, c.max_pages = "cccd_back", 0.5, by_id["cccd_back"].max_pages
            by_code.add(i)
        elif c.doctype == UNKNOWN and _card_qr(p):
            # A chip card's QR code: the 2021 card carries it on its front, the 2024 card on
            # its back beside the machine-readable zone.
            side = "cccd_back" if _mrz_lines(p) else "cccd_front"
            if side in by_id:
                c.doctype, c.confidence, c.max_pages = side, 0.5, by_id[side].max_pages
                by_code.add(i)
    classify_card_sides(classes, pages, doctypes)
    classify_by_shape(classes, doctypes)
    # Pages no keyword of their own typed, nor a code they carry: their shape, their
    # neighbours or headings read through heavy OCR errors did.
    guessed = {i for i, c in enumerate(classes)
               if c.doctype in by_id and c.score == 0.0 and i not in by_code}
    out = []
    for doctype, idxs, conf in split_pages(classes):
        if doctype == SEPARATOR:
            continue
        rows = [r for i in idxs for r in page_rows(pages[i], i)]
        d = by_id.get(doctype)
        if d is not None:
            fields = extract_fields(d, rows, page_sizes={i: (pages[i].width, pages[i].height)
                                                         for i in idxs})
            # The person's data under labels the definition does not list.
            fill_identity(d, fields, rows)
            _lone_citizen_id(d, fields, rows)
            _names_printed_twice(d, fields, rows)
        else:
            # A form we have no definition for still names its person.
            fields = extract_fields(generic_identity(), rows)
            for f in fields:
                f._evidence["generic"] = 1.0
        doc = ExtractedDocument(doctype=doctype, title=d.title if d else "Không xác định",
                                pages=idxs, classification_confidence=conf, fields=fields)
        out.append(doc)
    apply_exact_sources(out, pages)
    reconcile(out)
    types = {(d.id, f.name): f.type for d in (*doctypes, generic_identity())
             for f in d.fields}
    restore_names(out, types)
    annotate_addresses(out, types, {(d.id, f.name) for d in doctypes for f in d.fields
                                    if f.units_only})
    apply_known(out, known, {(d.id, f.name) for d in doctypes for f in d.fields if f.citizen},
                types)
    if calibrate:
        cal = load_calibrator(str(calibration) if calibration else None)
        apply_calibration(out, cal, threshold=review_threshold)
        if reread is not None and review_threshold is None:
            from extraction.reread import settle_by_rereading

            # Not a document read on a layout it was only guessed to have.
            settle_by_rereading([d for d in out if not (d.pages and set(d.pages) <= guessed)],
                                cal, reread)
        _review_guessed(out, guessed)
    else:
        # Training the scorer: the evidence is what matters; nothing is decided.
        for doc in out:
            for fld in doc.fields:
                fld._evidence["class_conf"] = doc.classification_confidence
    return out


def read_as_their_types(pages: list[PageOCR], doctypes: list[DoctypeDef], lang: str,
                        reread: Callable[[int, str, int], PageOCR]) -> list[PageOCR]:
    """The pages, each one of a type that says how it is read (its own OCR languages,
    ``lang``, other than ``lang`` the pages were read in, or ``page_layout: column``) read
    again so, by ``reread(page index, languages, Tesseract page segmentation mode)``: an
    English receipt read as Vietnamese loses letters to accents, and read as a page of
    columns its amounts to another block. The others are returned as they are."""
    from extraction.classify import classify_page

    def how(d: DoctypeDef) -> tuple[str, int] | None:
        langs = d.lang or lang
        if set(langs.split("+")) != set(lang.split("+")) or d.page_layout != "auto":
            return langs, d.psm
        return None

    by_id = {d.id: d for d in doctypes}
    ways = list(dict.fromkeys(w for w in map(how, doctypes) if w is not None))
    if not ways:
        return pages
    out = list(pages)
    for i, page in enumerate(pages):
        d = by_id.get(classify_page(page, doctypes).doctype)
        # A page no type claims may be one read too poorly as it was (an English receipt's
        # words in Vietnamese): read so, it may show its type's keywords.
        tries = [how(d)] if d is not None else ways
        for way in tries:
            if way is None:
                continue
            again = reread(i, *way)
            again.index = page.index
            typed = d or by_id.get(classify_page(again, doctypes).doctype)
            if typed is not None and (d is not None or how(typed) == way):
                log.info("page %d is a %s: read again in %s, page segmentation %d", i + 1,
                         typed.id, *way)
                out[i] = again
                break
    return out


def _review_guessed(docs: list[ExtractedDocument], guessed: set[int]) -> None:
    """A document whose pages were all typed by guess (shape, neighbours, garbled headings) was
    read on a layout it may not have: none of its values is accepted unless an exact source or
    another document of the dossier confirms it."""
    from extraction.confidence import confirmed
    from models.records import FieldStatus

    for d in docs:
        if not d.pages or not set(d.pages) <= guessed:
            continue
        for f in d.fields:
            if f.status == FieldStatus.accepted and not confirmed(f):
                f.status = FieldStatus.review


def _card_qr(page: PageOCR) -> bool:
    """A QR code with the chip card's layout (``ID|old ID|name|...``, seven parts, a 12-digit
    number first): a card side, even when its number fails the checks that make it a value."""
    import re

    def card_layout(text: str) -> bool:
        parts = text.split("|")
        return len(parts) >= 7 and re.fullmatch(r"\d{12}", parts[0]) is not None

    return any(c.format.startswith("QR") and card_layout(c.text) for c in page.codes)


def _mrz_lines(page: PageOCR) -> bool:
    from extraction.sources import find_mrz

    return find_mrz(page) is not None


def _names_printed_twice(d: DoctypeDef, fields: list, rows: list) -> None:
    """A person's name printed a second time on the document (under the signature, "Ký, ghi
    rõ họ tên") and read there letter for letter as in its field, accents included: two
    readings of one name that agree, as another document's would (``doc_agree``)."""
    import re

    from extraction.known import norm

    kinds = {f.name: f.type for f in d.fields}
    texts = [norm(" ".join(w.text for w in r.words)) for r in rows]
    for f in fields:
        if kinds.get(f.name) != "person_name" or not f.value or len(f.value.split()) < 2:
            continue
        key = re.compile(r"(?<!\w)" + re.escape(norm(f.value)) + r"(?!\w)")
        if sum(bool(key.search(t)) for t in texts) >= 2:
            f._evidence["doc_agree"] = 1.0


def _lone_citizen_id(d: DoctypeDef, fields: list, rows: list) -> None:
    """A document that names one person by ID number (a card) whose ID label OCR could not
    read: the one valid ID number in its text is that person's. Found so (by the label-less
    personal-data block or here), it is checked against the person's birth date and sex like
    a labelled one, and the scorer weighs it (``lone_id``) instead of holding it unseen."""
    from extraction.fields import check_person_id, find_citizen_ids
    from models.records import FieldStatus

    wanted = [f for f in d.fields if f.citizen]
    if len(wanted) != 1:
        return
    f = next((x for x in fields if x.name == wanted[0].name), None)
    if f is None or (f.value is not None and not f._evidence.get("generic")):
        return
    ids = find_citizen_ids(rows)
    if len(ids) != 1 or (f.value is not None and f.value != ids[0]):
        return
    if f.value is None:
        f.value, f.status, f.problems = ids[0], FieldStatus.review, []
        f.confidence = 0.5
        f._evidence.update(valid=1.0)
    f._evidence.pop("generic", None)
    f._evidence["lone_id"] = 1.0
    by_name = {x.name: x for x in fields}
    check_person_id(f, by_name.get("date_of_birth"), by_name.get("sex"))


def citizen_ids_of(doc: ExtractedDocument, doctype: DoctypeDef | None,
                   pages: list[PageOCR]) -> list[str]:
    """Every citizen ID a document names: its ID fields, then any other valid ID in its text."""
    from extraction.fields import find_citizen_ids
    from extraction.layout import page_rows

    ids: list[str] = []
    citizen_fields = {f.name for f in doctype.fields if f.citizen} if doctype else set()
    for f in doc.fields:
        if f.name in citizen_fields and f.value and not f.problems and f.value not in ids:
            ids.append(f.value)
    rows = [r for i in doc.pages for r in page_rows(pages[i], i)]
    for cid in find_citizen_ids(rows):
        if cid not in ids:
            ids.append(cid)
    return ids


def warm_up() -> None:
    """Load what extraction needs (the spaCy pipeline, the administrative-unit tables, the
    calibration) ahead of time, about two CPU-seconds the first dossier would otherwise wait
    for. :func:`start_warm_up` runs it beside OCR."""
    from vietnamadminunits import parse_address

    import extraction.classify
    import extraction.fields
    import extraction.sources  # noqa: F401 - loaded ahead, not used here
    from extraction.confidence import load_calibrator
    from extraction.nlp import get_nlp
    from extraction.validators import province_codes

    get_nlp()
    province_codes()
    load_calibrator()
    parse_address("Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh", mode="LEGACY")


_warm: threading.Thread | None = None
_warm_lock = threading.Lock()


def start_warm_up() -> None:
    """Run :func:`warm_up` on a thread of its own, once per process: a process that reads
    pages extracts them next, and the loading overlaps the reading. Call
    :func:`wait_for_warm_up` before extracting (two threads must not build the spaCy pipeline
    side by side)."""
    global _warm
    with _warm_lock:
        if _warm is None:
            _warm = threading.Thread(target=_warm_up_quietly, name="extraction-warm-up",
                                     daemon=True)
            _warm.start()


def wait_for_warm_up() -> None:
    """Return once :func:`start_warm_up`'s loading is done (at once if it never started)."""
    with _warm_lock:
        warm = _warm
    if warm is not None:
        warm.join()


def _warm_up_quietly() -> None:
    try:
        warm_up()
    except Exception as e:  # noqa: BLE001 - the first extraction reports the same problem
        log.debug("extraction warm-up skipped: %s", e)
