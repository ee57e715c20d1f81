"""ID cards end to end on real OCR: the generator's front and back of one person's chip card
are read by the pipeline's cleanup and Tesseract, classified, split and extracted; the two
sides lend each other what one of them could not give."""

from __future__ import annotations

import random

import numpy as np
import pytest

from extraction import extract_documents, load_doctypes
from extraction.classify import classify_page
from extraction.sources import PersonData, _mrz_name
from extraction.text import fold
from models.ocr import Line, PageOCR
from models.records import ExtractedDocument, ExtractedField, FieldSource, FieldStatus
from ocr.loading import LoadedPage
from ocr.pipeline import OcrOptions, ocr_loaded_page
from sample_scans.generator import render_document
from sample_scans.generator.canvas import render_raster
from sample_scans.generator.registry import new_ctx


@pytest.fixture(scope="module")
def card():
    """The OCR of both sides of one chip card (2021 layout), and their truth."""
    rng = random.Random(7)
    ctx = new_ctx(rng, "dejavu-serif")
    sides = [render_document("cccd_front", "b", rng, ctx=ctx),
             render_document("cccd_back", "b", rng, ctx=ctx)]
    pages = []
    for i, side in enumerate(sides):
        img = np.asarray(render_raster(side.pages[0]).convert("RGB"))[:, :, ::-1].copy()
        pages.append(ocr_loaded_page(LoadedPage(img, 300, 0), OcrOptions(), index=i).ocr)
    return pages, [s.fields for s in sides]


def _without(page: PageOCR, drop) -> PageOCR:
    """The page as OCR would have read it had it missed the words ``drop`` picks, its QR code
    worn past reading."""
    lines = [Line(words=[w for w in ln.words if not drop(w.text)], block=ln.block)
             for ln in page.lines]
    return page.model_copy(update={"lines": [ln for ln in lines if ln.words], "codes": []})


def test_both_sides_are_classified_split_and_read(card) -> None:
    pages, (front, back) = card
    types = load_doctypes()
    assert [classify_page(p, types).doctype for p in pages] == ["cccd_front", "cccd_back"]
    docs = extract_documents(pages, types)
    assert [(d.doctype, d.pages) for d in docs] == [("cccd_front", [0]), ("cccd_back", [1])]
    got = {f.name: f.value for f in docs[0].fields}
    for name in ("citizen_id", "date_of_birth", "sex", "expiry_date"):
        assert got[name] == front[name], name
    assert got["full_name"].casefold() == front["full_name"].casefold()
    assert docs[1].field("mrz").value == back["mrz"]
    assert docs[1].field("issue_date").value == back["issue_date"]
    assert docs[1].field("issuing_authority").value == back["issuing_authority"]


def test_front_whose_number_was_lost_takes_it_from_the_back(card) -> None:
    """GIVEN a front whose ID number OCR did not read at all and whose QR code is worn, and its
    back scanned after it
    WHEN the dossier is extracted THEN the number comes from the back's MRZ, whose date of
    birth agrees with the front's reading."""
    pages, (front, _) = card
    lost = _without(pages[0], lambda t: front["citizen_id"] in t)
    docs = extract_documents([lost, pages[1]], load_doctypes())
    f = docs[0].field("citizen_id")
    assert f.value == front["citizen_id"] and f.source == FieldSource.mrz


def test_front_whose_number_label_was_lost_keeps_its_number_for_review(card) -> None:
    """GIVEN a front alone whose ID label OCR garbled and whose QR code is worn
    WHEN it is extracted THEN the one valid ID number in its text is its number, and a person
    checks it."""
    pages, (front, _) = card
    garbled = _without(pages[0], lambda t: fold(t).strip("/.: ").replace("/", "")
                       in ("so", "no", "sono", ""))
    assert "No." not in garbled.text
    f = extract_documents([garbled], load_doctypes())[0].field("citizen_id")
    assert f.value == front["citizen_id"]
    assert f.status == FieldStatus.review


def test_mrz_name_line_comes_from_the_qr_code_of_the_same_card() -> None:
    mrz = ("IDVNM0686579117049068657911<<<\n6806112M2806114VNM<<<<<<<<<<<8\n"
           "TRAN<<BA<H0ANG<HAV<<<<<<<<<<<<")
    back = ExtractedDocument(doctype="cccd_back", title="", pages=[1], fields=[
        ExtractedField(name="mrz", value=mrz, confidence=0.8, status=FieldStatus.review)])
    qr = PersonData(FieldSource.qr, {"citizen_id": "049068657911",
                                     "full_name": "Trần Bá Hoàng Hậu"})
    other = PersonData(FieldSource.qr, {"citizen_id": "001190012345", "full_name": "Lê Văn A"})
    _mrz_name(back, [other, qr], [back])
    f = back.field("mrz")
    assert f.value.split("\n")[2] == "TRAN<<BA<HOANG<HAU" + "<" * 12
    assert f.source == FieldSource.qr and f.readings[0].value == mrz


def test_back_read_too_poorly_to_tell_is_known_by_its_mrz(card) -> None:
    """GIVEN a card back where OCR read nothing but the machine-readable zone
    WHEN it is extracted THEN it is a card back with its MRZ."""
    pages, (_, back) = card
    only_mrz = _without(pages[1], lambda t: "<" not in t)
    docs = extract_documents([only_mrz], load_doctypes())
    assert [d.doctype for d in docs] == ["cccd_back"]
    assert docs[0].field("mrz").value == back["mrz"]
