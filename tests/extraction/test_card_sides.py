"""Identity card sides whose title OCR lost: told by their printed headings read through heavy
OCR errors, by the card-sized region their text covers, by the machine-readable zone, and by
the card side scanned next to them. Pages are the generator's cards and forms read by the
pipeline's cleanup and real Tesseract; OCR errors are injected into that reading."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from extraction import extract_documents, load_doctypes
from extraction.classify import UNKNOWN, card_headings, classify_page
from extraction.text import fold
from extraction.validators import check_citizen_id
from models.ocr import Line, PageOCR, Word
from models.records import FieldStatus
from ocr.loading import LoadedPage
from ocr.pipeline import OcrOptions, ocr_loaded_page
from sample_scans.generator import render_document
from sample_scans.generator.canvas import render_raster
from sample_scans.generator.registry import new_ctx


def _ocr(img: Image.Image, index: int = 0) -> PageOCR:
    arr = np.asarray(img.convert("RGB"))[:, :, ::-1].copy()
    return ocr_loaded_page(LoadedPage(arr, 300, 0), OcrOptions(), index=index).ocr


@pytest.fixture(scope="module")
def scans():
    """Real OCR of a chip card's two sides, of the front copied onto an A4 sheet, and of an
    application letter."""
    rng = random.Random(11)
    ctx = new_ctx(rng, "dejavu-serif")
    front = render_raster(render_document("cccd_front", "b", rng, ctx=ctx).pages[0])
    back = render_raster(render_document("cccd_back", "b", rng, ctx=ctx).pages[0])
    letter = render_raster(render_document("application_letter", "a", rng, ctx=ctx).pages[0])
    sheet = Image.new("RGB", (2480, 3508), "white")
    sheet.paste(front.convert("RGB"), (300, 300))
    return {"front": _ocr(front), "back": _ocr(back, 1), "sheet": _ocr(sheet),
            "letter": _ocr(letter)}


_TITLES = ("căn cước", "citizen", "identity", "đặc điểm", "cục cảnh", "ministry")


def _garbled(page: PageOCR, keep: int | None = None, english: bool = True) -> PageOCR:
    """The page as a worse scan would read: titles lost, the first letter of every word of
    three letters or more misread, the machine-readable zone and QR code unread; only its first
    ``keep`` lines; without ``english``, only the Vietnamese labels (as on older cards)."""
    lines = []
    for ln in page.lines:
        if any(t in ln.text.lower() for t in _TITLES) or "<<" in ln.text:
            continue
        words = ln.words
        if not english and "/" in [w.text for w in words]:
            words = words[:[w.text for w in words].index("/")]
        words = [w.model_copy(update={"text": ("x" + w.text[1:]) if len(w.text) >= 3
                                      else w.text}) for w in words]
        if words:
            lines.append(Line(words=words, block=ln.block))
    return page.model_copy(update={"lines": lines[:keep], "codes": []})


def test_garbled_back_is_told_by_its_own_headings(scans) -> None:
    """GIVEN a card back whose title, authority line and MRZ OCR lost and whose words are
    misspelled WHEN it is extracted alone THEN its fingerprint headings still make it a back."""
    page = _garbled(scans["back"])
    types = load_doctypes()
    assert classify_page(page, types).doctype == UNKNOWN
    assert card_headings(page)["cccd_back"][0] >= 2
    assert [(d.doctype, d.pages) for d in extract_documents([page], types)] == [
        ("cccd_back", [0])]


def test_card_copied_onto_a_sheet_lies_in_a_card_sized_region(scans) -> None:
    """GIVEN a card front copied onto an A4 sheet, read with its title lost and a few labels
    left WHEN extracted alone THEN the card-sized text region and its labels make it a front;
    the same labels spread over a sheet are no card."""
    types = load_doctypes()
    page = _garbled(scans["sheet"], english=False)
    assert classify_page(page, types).doctype == UNKNOWN
    assert extract_documents([page], types)[0].doctype == "cccd_front"
    spread = page.model_copy(update={"lines": [
        Line(words=[w.model_copy(update={"bbox": (w.bbox[0], w.bbox[1] * 4, w.bbox[2],
                                                  w.bbox[3] * 4)}) for w in ln.words])
        for ln in page.lines], "card": None})  # a sheet so filled shows no card either
    assert extract_documents([spread], types)[0].doctype == UNKNOWN


def test_few_front_labels_next_to_a_front_are_a_front(scans) -> None:
    """GIVEN two people's card fronts scanned in a row, the second read as only a handful of
    misspelled labels WHEN the dossier is extracted THEN the second is a front too."""
    weak = _garbled(scans["front"], keep=8, english=False)
    weak = weak.model_copy(update={"width": weak.height, "height": weak.width, "index": 1})
    types = load_doctypes()
    assert classify_page(weak, types).doctype == UNKNOWN
    docs = extract_documents([scans["front"], weak], types)
    assert [(d.doctype, d.pages) for d in docs] == [("cccd_front", [0]), ("cccd_front", [1])]


def test_unreadable_page_before_a_back_is_its_front(scans) -> None:
    """GIVEN a page OCR read almost nothing of, scanned before a card back WHEN extracted
    THEN it is the card's front; the same page between two forms stays untyped."""
    blank = PageOCR(width=2480, height=3508, lines=[
        Line(words=[Word(text="o-", bbox=(600, 650, 860, 800), confidence=0.1)])])
    types = load_doctypes()
    docs = extract_documents([blank, scans["back"]], types)
    assert [(d.doctype, d.pages) for d in docs] == [("cccd_front", [0]), ("cccd_back", [1])]
    letter = scans["letter"]
    docs = extract_documents([letter, blank, letter], types)
    assert all(d.doctype != "cccd_front" and d.doctype != "cccd_back" for d in docs)


def test_page_nothing_was_read_on_joins_no_form(scans) -> None:
    """GIVEN an application letter, then a page OCR read nothing of (a card copied too faintly)
    WHEN the dossier is extracted THEN the letter keeps its one page and the faint page is
    a document of its own, of no type (too little to tell which)."""
    blank = PageOCR(width=2480, height=3508, index=1, lines=[
        Line(words=[Word(text="o-", bbox=(600, 650, 860, 800), confidence=0.1)])])
    docs = extract_documents([scans["letter"], blank], load_doctypes())
    assert [(d.doctype, d.pages) for d in docs] == [("application_letter", [0]),
                                                    (UNKNOWN, [1])]


def test_form_next_to_a_card_is_no_card(scans) -> None:
    """GIVEN the part of an application letter that names its person ("Sinh ngày", "Địa chỉ
    thường trú"), the rest of the letter unread, scanned after a card front WHEN the dossier is
    extracted THEN it is not taken for a card side: it names them as a form does, not with the
    card's labels."""
    letter = scans["letter"]
    part = [ln for ln in letter.lines if fold(ln.text).startswith(("toi ten", "sinh ngay",
                                                                   "so cccd", "dia chi"))]
    assert len(part) >= 3
    untitled = letter.model_copy(update={"lines": part, "index": 1})
    types = load_doctypes()
    assert classify_page(untitled, types).doctype == UNKNOWN
    docs = extract_documents([scans["front"], untitled], types)
    assert all(d.doctype not in ("cccd_front", "cccd_back") for d in docs if 1 in d.pages)


def test_broken_mrz_band_still_makes_a_back(scans) -> None:
    """GIVEN a back of which OCR read only the machine-readable zone, one check digit wrong
    WHEN extracted THEN the zone's three lines make it a back."""
    back = scans["back"]
    mrz = [ln for ln in back.lines if "<<" in ln.text or "VNM" in ln.text]
    assert len(mrz) >= 3
    first = mrz[0]
    broken = [w.model_copy(update={"text": w.text[:-1] + ("1" if w.text[-1] != "1" else "2")})
              for w in first.words]
    page = back.model_copy(update={"lines": [Line(words=broken), *mrz[1:]], "codes": []})
    assert fold(page.text).count("vnm") >= 1
    docs = extract_documents([page], load_doctypes())
    assert [(d.doctype, d.pages) for d in docs] == [("cccd_back", [0])]


def test_qr_code_of_the_card_layout_makes_a_card_side(scans) -> None:
    """GIVEN a front OCR read no text of, whose QR code has the chip card's layout but a number
    that fails the checks (its province code unknown) WHEN extracted THEN the code still makes
    it a card front, and the number is not taken as a value."""
    front = scans["front"]
    qr = next(c for c in front.codes if c.format.startswith("QR"))
    parts = qr.text.split("|")
    bad = "999" + parts[0][3:]
    assert check_citizen_id(bad)
    page = front.model_copy(update={"lines": [], "codes": [
        qr.model_copy(update={"text": "|".join([bad, *parts[1:]])})]})
    docs = extract_documents([page], load_doctypes())
    assert [(d.doctype, d.pages) for d in docs] == [("cccd_front", [0])]
    assert docs[0].field("citizen_id").value != bad


def test_values_of_a_guessed_card_side_are_not_accepted_unconfirmed(scans) -> None:
    """GIVEN a second card front told only by a few misspelled labels beside another front
    WHEN the dossier is extracted THEN none of its values is accepted: it was read on a
    layout guessed for it; the first front, typed by its own title, keeps its accepted ones."""
    weak = _garbled(scans["front"], english=False).model_copy(update={"index": 1})
    docs = extract_documents([scans["front"], weak], load_doctypes())
    assert [(d.doctype, d.pages) for d in docs] == [("cccd_front", [0]), ("cccd_front", [1])]
    assert any(f.status == FieldStatus.accepted for f in docs[0].fields)
    found = [f for f in docs[1].fields if f.value is not None]
    assert found and all(f.status != FieldStatus.accepted for f in found)
