"""An identity card found in the page image by its shape and its photo, whatever OCR reads of
it, and what classification makes of that. Pages are the generator's cards and forms; the
classification tests read them with the pipeline's cleanup and real Tesseract and then drop
the words read (the OCR failure a fax-quality copy causes)."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest
from PIL import Image

from extraction import extract_documents, load_doctypes
from models.ocr import PageOCR
from models.records import FieldStatus
from ocr.loading import LoadedPage
from ocr.pipeline import OcrOptions, ocr_loaded_page
from ocr.shapes import find_card
from sample_scans.generator import render_document
from sample_scans.generator.canvas import render_raster
from sample_scans.generator.registry import new_ctx


def _bgr(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"))[:, :, ::-1].copy()


def _on_sheet(card: np.ndarray, angle: float = 0.0, fax: bool = False) -> np.ndarray:
    """The card copied at its size onto an A4 sheet at 300 dpi, turned by ``angle`` degrees;
    with ``fax``, sent as a fax: halved resolution, black and white."""
    sheet = np.full((3508, 2480, 3), 255, np.uint8)
    h, w = card.shape[:2]
    sheet[400:400 + h, 500:500 + w] = card
    if angle:
        m = cv2.getRotationMatrix2D((1240, 1754), angle, 1.0)
        sheet = cv2.warpAffine(sheet, m, (2480, 3508), borderValue=(255, 255, 255))
    if fax:
        gray = cv2.cvtColor(cv2.resize(sheet, None, fx=0.5, fy=0.5), cv2.COLOR_BGR2GRAY)
        sheet = cv2.cvtColor(np.where(gray < 170, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    return sheet


@pytest.fixture(scope="module")
def images():
    rng = random.Random(5)
    ctx = new_ctx(rng, "dejavu-serif")
    out = {}
    for layout in ("a", "b", "c"):
        out[f"front-{layout}"] = _bgr(render_raster(
            render_document("cccd_front", layout, rng, ctx=ctx).pages[0]))
        out[f"back-{layout}"] = _bgr(render_raster(
            render_document("cccd_back", layout, rng, ctx=ctx).pages[0]))
    for doctype in ("application_letter", "power_of_attorney", "receipt_appointment"):
        out[doctype] = _bgr(render_raster(render_document(doctype, "a", rng, ctx=ctx).pages[0]))
    return out


@pytest.mark.parametrize("layout", ["a", "b", "c"])
def test_card_front_shows_its_photo_alone_on_a_sheet_and_by_fax(images, layout) -> None:
    """GIVEN a card front scanned alone (upright and upside down), copied skewed onto an A4
    sheet, and faxed
    WHEN its shape is looked for THEN a card with its photo is found each time."""
    front = images[f"front-{layout}"]
    for image in (front, front[::-1, ::-1], _on_sheet(front, 4.0), _on_sheet(front, fax=True)):
        card = find_card(image)
        assert card is not None and card.photo
        assert 1.45 <= card.aspect <= 1.95


def test_card_on_a_sheet_is_located_where_it_lies(images) -> None:
    """GIVEN a card front copied onto an A4 sheet at (500, 400) WHEN its shape is looked for
    THEN its box (its printed content's) lies on the card and covers most of it, in the
    sheet's pixels."""
    front = images["front-b"]
    card = find_card(_on_sheet(front))
    h, w = front.shape[:2]
    x0, y0, x1, y1 = card.bbox
    assert x0 >= 480 and y0 >= 380 and x1 <= 500 + w + 20 and y1 <= 400 + h + 20
    assert x1 - x0 >= 0.85 * w and y1 - y0 >= 0.75 * h


@pytest.mark.parametrize("layout", ["a", "b", "c"])
def test_card_back_shows_no_photo(images, layout) -> None:
    """GIVEN a card back (fingerprints, chip, machine-readable zone), alone or on a sheet
    WHEN its shape is looked for THEN no photo is found: it is no front."""
    back = images[f"back-{layout}"]
    for image in (back, back[::-1, ::-1], _on_sheet(back)):
        card = find_card(image)
        assert card is None or not card.photo


@pytest.mark.parametrize("doctype", ["application_letter", "power_of_attorney",
                                     "receipt_appointment"])
def test_forms_show_no_card(images, doctype) -> None:
    """GIVEN an A4 form or letter, also faxed WHEN a card's shape is looked for THEN none is
    found: its text block has a card's proportions but no photo and spans the sheet."""
    page = images[doctype]
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    fax = cv2.cvtColor(np.where(gray < 170, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    assert find_card(page) is None
    assert find_card(fax) is None


def _read(image: np.ndarray, index: int) -> PageOCR:
    return ocr_loaded_page(LoadedPage(image, 300, 0), OcrOptions(), index=index).ocr


@pytest.fixture(scope="module")
def dossier(images):
    """Real OCR of a letter and of a card front faxed onto a sheet, the card's words dropped
    (its copy too poor to read)."""
    letter = _read(images["application_letter"], 0)
    faxed = _read(_on_sheet(images["front-a"], fax=True), 1)
    return letter, faxed.model_copy(update={"lines": [], "codes": []})


def test_faxed_card_front_read_as_nothing_is_a_front_held_for_review(dossier) -> None:
    """GIVEN a letter, then a card front faxed onto a sheet whose text OCR could not read
    WHEN the dossier is extracted THEN the card is a front of its own, not the letter's next
    page, and none of its values is accepted unconfirmed."""
    letter, faxed = dossier
    assert faxed.card is not None and faxed.card.photo
    docs = extract_documents([letter, faxed], load_doctypes())
    assert [(d.doctype, d.pages) for d in docs] == [("application_letter", [0]),
                                                    ("cccd_front", [1])]
    assert all(f.status != FieldStatus.accepted for f in docs[1].fields)


def test_card_without_photo_is_no_continuation_of_the_form_before(dossier) -> None:
    """GIVEN a letter, then a page whose image shows a card but no photo and nothing read
    WHEN the dossier is extracted THEN the page is not the letter's next page."""
    letter, faxed = dossier
    card = faxed.card.model_copy(update={"photo": False})
    docs = extract_documents([letter, faxed.model_copy(update={"card": card})],
                             load_doctypes())
    assert [d.pages for d in docs if d.doctype == "application_letter"] == [[0]]


def test_ocr_cached_before_the_card_field_still_loads(dossier) -> None:
    """GIVEN a page's OCR JSON written before pages carried a card WHEN it is loaded THEN it
    loads with no card; a page's card round-trips through its JSON."""
    _, faxed = dossier
    old = faxed.export()
    old.pop("card")
    assert PageOCR.from_dict(old).card is None
    assert PageOCR.from_dict(faxed.export()).card == faxed.card
