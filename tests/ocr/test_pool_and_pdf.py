"""The OCR worker pool, both Tesseract engines, and the searchable PDF, on real Tesseract."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest

from models.batches import PageJob
from models.errors import OcrEngineError, UnsupportedFormatError
from ocr import tesseract
from ocr.files import ocr_files
from ocr.pipeline import OcrOptions
from ocr.pool import get_pool, run_page_job
from ocr.searchable import searchable_pdf
from tests.pages import BIRTH_FORM, render, save


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    return render(BIRTH_FORM)


@pytest.fixture(scope="module")
def files(tmp_path_factory, page):
    d = tmp_path_factory.mktemp("pool")
    bad = d / "not-a-scan.png"
    bad.write_text("hello")
    return [save(page, d / "a.png"), bad, save(cv2.rotate(page, cv2.ROTATE_180), d / "b.png")]


@pytest.fixture(scope="module")
def read(files):
    return list(ocr_files(files, OcrOptions(), workers=2, page_images=True))


def test_both_engines_read_the_same_words_and_boxes(page):
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    a = tesseract.recognize(gray, engine="tesserocr")
    b = tesseract.recognize(gray, engine="cli")
    assert "Nguyễn Thị Bình" in a.text and "Nguyễn Thị Bình" in b.text
    wa = {w.text: w.bbox for w in a.words}
    wb = {w.text: w.bbox for w in b.words}
    same = [t for t in wa if t in wb]
    assert len(same) > 0.9 * len(wb)
    assert all(np.abs(np.subtract(wa[t], wb[t])).max() <= 3 for t in same if len(t) > 3)


def test_engines_agree_on_orientation(page):
    gray = cv2.cvtColor(cv2.rotate(page, cv2.ROTATE_90_CLOCKWISE), cv2.COLOR_BGR2GRAY)
    for engine in tesseract.ENGINES:
        assert tesseract.detect_orientation(gray, engine=engine).rotate == 270, engine


def test_unknown_engine_is_a_clear_error():
    from models.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError, match="unknown OCR engine"):
        tesseract.check_engine("abbyy")


def test_many_files_through_the_pool_one_result_each_in_order(read, files):
    assert [r.path for r in read] == files
    first, bad, flipped = read
    assert "TỜ KHAI ĐĂNG KÝ KHAI SINH" in first.document.text
    assert isinstance(bad.error, UnsupportedFormatError) and str(files[1]) in str(bad.error)
    assert flipped.document.pages[0].rotation == 180
    assert "Quan hệ với người được khai sinh" in flipped.document.text
    # The page image the boxes refer to comes back as JPEG of the OCR's size.
    assert first.page_images[0][:2] == b"\xff\xd8"
    img = cv2.imdecode(np.frombuffer(first.page_images[0], np.uint8), cv2.IMREAD_GRAYSCALE)
    assert img.shape == (first.document.pages[0].height, first.document.pages[0].width)


def test_a_page_error_comes_back_as_the_pipelines_own_error(files):
    outcome = get_pool(2).run(PageJob(path=str(files[1]), source_page=0))
    err = outcome.error("scan.png")
    assert isinstance(err, UnsupportedFormatError) and err.path == "scan.png"
    with pytest.raises(UnsupportedFormatError):
        outcome.result()
    # and in-process the same job gives the same answer
    outcome = run_page_job(PageJob(path=str(files[1]), source_page=0))
    assert outcome.error_kind == "UnsupportedFormatError"


def test_searchable_pdf_has_the_ocr_words_on_their_boxes_in_reading_order(read):
    import pdfplumber

    first = read[0]
    ocr = first.document.pages[0]
    data = searchable_pdf(zip(first.page_images, first.document.pages, strict=True),
                          title="a.png")
    assert data.startswith(b"%PDF-") and b"pdfaid" in data  # PDF/A metadata
    # The cleaned page's JPEG is embedded as the OCR process wrote it, not encoded again.
    assert first.page_images[0] in data
    k = 72.0 / ocr.dpi
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        (p,) = pdf.pages
        assert (p.width, p.height) == pytest.approx((ocr.width * k, ocr.height * k), abs=0.5)
        assert len(p.images) == 1
        words = p.extract_words()
        lines = p.extract_text().splitlines()
    assert [w["text"] for w in words] == [w.text for w in ocr.words]
    for got, want in zip(words, ocr.words, strict=True):
        x0, y0, x1, y1 = want.bbox
        assert got["x0"] == pytest.approx(x0 * k, abs=1.0)
        assert got["x1"] == pytest.approx(x1 * k, abs=1.0)
        assert y0 * k - 3 <= (got["top"] + got["bottom"]) / 2 <= y1 * k + 3
    assert lines == [line.text for line in ocr.lines]
    assert "Họ, chữ đệm, tên: Nguyễn Thị Bình" in lines


def test_searchable_pdf_refuses_an_image_that_is_not_the_ocrs(read):
    first = read[0]
    small = np.full((100, 100), 255, np.uint8)
    with pytest.raises(OcrEngineError, match="does not match"):
        searchable_pdf([(small, first.document.pages[0])])


def test_a_started_worker_has_the_models_loaded_before_its_first_page():
    from ocr.pool import OcrPool

    pool = OcrPool(1, OcrOptions())
    try:
        pool.start()
        loaded = pool.call(tesseract.loaded_languages).result(timeout=120)
    finally:
        pool.shutdown()
    assert loaded == ["osd", "vie+eng"]


def test_searchable_pdf_draws_a_word_the_cut_down_font_lacks_with_the_whole_font(read):
    """
    GIVEN a page whose OCR has a word in Cyrillic (outside the Vietnamese and English letters
      the text layer's cut-down font carries) beside Vietnamese words
    WHEN its searchable PDF is written
    THEN the text copies out with every word as read, the Cyrillic one included, and the
      whole font is embedded beside the cut-down one only for that
    """
    import copy

    import pdfplumber

    first = read[0]
    ocr = copy.deepcopy(first.document.pages[0])
    ocr.lines[1].words[0].text = "Жанна"
    data = searchable_pdf([(first.page_images[0], ocr)], title="a.png")
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        (p,) = pdf.pages
        words = [w["text"] for w in p.extract_words()]
    assert words == [w.text for w in ocr.words]
    assert "Жанна" in words
    assert data.count(b"/FontFile2") == 2  # two fonts embedded
    plain = searchable_pdf([(first.page_images[0], first.document.pages[0])])
    assert plain.count(b"/FontFile2") == 1

def test_searchable_pdf_of_a_page_kept_as_png_before(read):
    """GIVEN a page whose cleaned image was kept as PNG (pages digitized before JPEG)
    WHEN its searchable PDF is made THEN the page is there at its size, as one JPEG image,
    with its words."""
    import pdfplumber

    first = read[0]
    ocr = first.document.pages[0]
    gray = cv2.imdecode(np.frombuffer(first.page_images[0], np.uint8), cv2.IMREAD_GRAYSCALE)
    ok, png = cv2.imencode(".png", gray)
    assert ok
    data = searchable_pdf([(png.tobytes(), ocr)])
    k = 72.0 / ocr.dpi
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        (p,) = pdf.pages
        assert (p.width, p.height) == pytest.approx((ocr.width * k, ocr.height * k), abs=0.5)
        assert len(p.images) == 1 and b"/DCTDecode" in data
        assert [w["text"] for w in p.extract_words()] == [w.text for w in ocr.words]
