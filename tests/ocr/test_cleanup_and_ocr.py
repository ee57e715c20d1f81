"""Cleanup steps on real renders, and real Tesseract on the cleaned pages."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from models.ocr import PageOCR
from ocr import cleanup, tesseract
from ocr.files import ocr_file
from ocr.loading import LoadedPage
from ocr.pipeline import OcrOptions, ocr_loaded_page
from tests.pages import BIRTH_FORM, render, save


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    return render(BIRTH_FORM)


def _rotate(img: np.ndarray, angle: float) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(img, m, (w, h), borderValue=(255, 255, 255))


@pytest.mark.parametrize("angle", [-6.0, -2.5, 3.0, 7.5])
def test_skew_is_measured_within_half_a_degree(page, angle):
    gray = cv2.cvtColor(_rotate(page, angle), cv2.COLOR_BGR2GRAY)
    assert abs(cleanup.estimate_skew(gray) + angle) < 0.5 or \
        abs(cleanup.estimate_skew(gray) - angle) < 0.5
    # deskew by the estimate leaves a level page
    fixed = cleanup.deskew(gray, cleanup.estimate_skew(gray))
    assert abs(cleanup.estimate_skew(fixed)) < 0.5


def test_red_seal_fades_but_black_text_stays(page):
    stamped = page.copy()
    cv2.circle(stamped, (900, 700), 250, (40, 40, 220), 18)  # red ring, BGR
    gray = cleanup.to_gray_dropping_color_ink(stamped)
    ring = gray[700 - 5:700 + 5, 900 + 250 - 5:900 + 250 + 5]
    assert ring.mean() > 200  # the seal is gone
    text_ink = gray[page[:, :, 0] < 50]
    assert text_ink.mean() < 80  # the print is not


def test_low_resolution_scan_is_upscaled_for_tesseract(page):
    small = cv2.resize(page, None, fx=0.33, fy=0.33, interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    out, scale = cleanup.normalize_resolution(gray, dpi_hint=100)
    assert 2.0 < scale < 4.1
    assert out.shape[0] == pytest.approx(gray.shape[0] * scale, rel=0.01)


def test_small_print_is_enlarged_and_print_of_reading_size_is_left_alone(page):
    """Capitals under 24 px (their line under Tesseract's 36 px) are enlarged to 30 px;
    a page printed at reading size keeps its pixels."""
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    height = cleanup.estimate_text_height(gray)
    assert height is not None and height >= cleanup.MIN_TEXT_HEIGHT
    assert cleanup.normalize_resolution(gray)[1] == 1.0
    small = cv2.resize(gray, None, fx=20 / height, fy=20 / height, interpolation=cv2.INTER_AREA)
    out, scale = cleanup.normalize_resolution(small)
    assert scale == pytest.approx(cleanup.TARGET_TEXT_HEIGHT / 20, rel=0.1)
    assert cleanup.estimate_text_height(out) == pytest.approx(30, abs=3)


def test_uneven_light_is_flattened(page):
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY).astype(np.float32)
    ramp = np.linspace(0.45, 1.0, gray.shape[1], dtype=np.float32)[None, :]
    shaded = (gray * ramp).astype(np.uint8)
    flat = cleanup.flatten_background(shaded)
    left_bg = np.median(flat[50:150, 20:120])
    right_bg = np.median(flat[50:150, -120:-20])
    assert abs(float(left_bg) - float(right_bg)) < 20
    assert np.median(shaded[50:150, 20:120]) < 130


def test_light_is_evened_out_only_where_it_is_uneven(page):
    """A clean page is left as it is (dividing out flat light only softens it); a page
    shaded from one side gets its light divided out."""
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    assert not cleanup.uneven_light(gray)
    assert "light" not in cleanup.clean_page(page, dpi_hint=300).steps
    ramp = np.linspace(0.45, 1.0, gray.shape[1], dtype=np.float32)[None, :]
    shaded = (gray.astype(np.float32) * ramp).astype(np.uint8)
    assert cleanup.uneven_light(shaded)
    assert "light" in cleanup.clean_page(cv2.cvtColor(shaded, cv2.COLOR_GRAY2BGR),
                                         dpi_hint=300).steps


def test_a_photo_on_the_page_is_no_shade(page):
    """A large dark object without text (a portrait photo, a card's chip) under even light
    does not make the light uneven: only the paper around the text is looked at."""
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    with_photo = gray.copy()
    with_photo[h // 10:h // 10 + h // 4, w - w // 4:w - w // 20] = 90
    assert not cleanup.uneven_light(with_photo)
    # the same page, its text half in shadow as dark as the photo, is uneven
    shaded = gray.astype(np.float32)
    shaded[:, : w // 2] *= 0.45
    assert cleanup.uneven_light(shaded.astype(np.uint8))


def test_dotted_leaders_are_removed_and_letters_kept():
    from PIL import Image, ImageDraw, ImageFont

    from tests.pages import FONT

    img = Image.new("L", (2000, 300), 255)
    draw = ImageDraw.Draw(img)
    draw.text((60, 100), "Họ và tên: Nguyễn Thị Ánh", font=ImageFont.truetype(FONT, 40), fill=0)
    for x in range(640, 1900, 14):  # the leader the value is written on
        draw.ellipse((x, 148, x + 4, 152), fill=0)
    # A scan's dots have soft edges, lighter than the threshold that finds the dots.
    gray = cv2.GaussianBlur(np.asarray(img), (5, 5), 1.0)
    assert (gray[140:160, 1500:1900] < 200).sum() > 0
    cleaned, removed = cleanup.remove_dotted_leaders(gray)
    assert removed
    # the dots past the text are gone, soft edges too (a ring left behind reads as "o")
    assert (cleaned[140:160, 1500:1900] < 200).sum() == 0
    # the letters (which end at x = 611) are untouched
    assert (cleaned[90:147, 60:630] == gray[90:147, 60:630]).all()
    result = tesseract.recognize(cleaned, lang="vie+eng")
    assert "Nguyễn Thị Ánh" in result.text and "..." not in result.text


def test_leaders_in_a_table_cell_and_on_the_page_edge_are_removed_and_short_dots_kept():
    gray = np.full((400, 1600), 255, np.uint8)
    cv2.rectangle(gray, (20, 60), (1580, 380), 0, 3)  # a table: the cell is a hole in it
    for x in range(100, 1500, 14):  # a leader inside the cell
        cv2.circle(gray, (x, 200), 2, 0, -1)
    for x in range(100, 1500, 14):  # a leader cut by the page's top edge
        cv2.circle(gray, (x, 1), 2, 0, -1)
    for x in range(100, 160, 14):  # five dots: too short for a leader
        cv2.circle(gray, (x, 300), 2, 0, -1)
    cleaned, removed = cleanup.remove_dotted_leaders(gray)
    assert removed
    assert (cleaned[190:210, 90:1510] < 128).sum() == 0
    assert (cleaned[0:6, 90:1510] < 128).sum() == 0
    assert (cleaned[290:310, 90:170] == gray[290:310, 90:170]).all()
    assert (cleaned[55:66, :] == gray[55:66, :]).all()  # the table's rule stays


def test_faint_leader_dots_of_a_blurred_scan_are_removed():
    """GIVEN a scan whose small leader dots came out faint (pale toner, then blur), a third
    of the ink's contrast
    WHEN leaders are looked for
    THEN the faint dots are found and whitened like dark ones, and the letters stay."""
    from PIL import Image, ImageDraw, ImageFont

    from tests.pages import FONT

    img = Image.new("L", (2000, 300), 250)
    draw = ImageDraw.Draw(img)
    draw.text((60, 100), "Số CCCD: 037062890150", font=ImageFont.truetype(FONT, 40), fill=20)
    for x in range(640, 1900, 14):
        draw.ellipse((x, 148, x + 4, 152), fill=160)
    gray = cv2.GaussianBlur(np.asarray(img), (5, 5), 1.0)
    dots = gray[140:160, 700:1900]
    assert 128 < dots.min() < 200  # lighter than half the contrast: no longer "dark"
    cleaned, removed = cleanup.remove_dotted_leaders(gray)
    assert removed
    assert (cleaned[140:160, 700:1900] < 240).sum() == 0
    assert (cleaned[90:147, 60:600] == gray[90:147, 60:600]).all()


def test_a_leader_on_a_page_skewed_too_little_to_deskew_is_removed():
    """GIVEN a leader that climbs 0.45 degrees over 1,600 pixels (a page skewed less than
    deskewing is worth), so its dots span more rows than a dot is tall
    WHEN leaders are looked for
    THEN it is removed whole."""
    gray = np.full((300, 2000), 255, np.uint8)
    slope = np.tan(np.radians(0.45))
    for x in range(200, 1800, 14):
        cv2.circle(gray, (x, int(round(200 - slope * (x - 200)))), 2, 0, -1)
    assert (gray < 128).any(axis=1).sum() > 0.3 * cleanup.TARGET_TEXT_HEIGHT
    cleaned, removed = cleanup.remove_dotted_leaders(gray)
    assert removed
    assert (cleaned < 200).sum() == 0


@pytest.mark.parametrize("shape", [(3508, 2480), (3509, 2481), (2339, 1653), (718, 1092)])
@pytest.mark.parametrize("longest", [500, 600, 1000, 1200])
def test_a_page_is_shrunk_to_the_size_and_shades_area_averaging_gives(page, shape, longest):
    gray = cv2.resize(cv2.cvtColor(page, cv2.COLOR_BGR2GRAY), shape[::-1],
                      interpolation=cv2.INTER_AREA)
    factor = min(1.0, longest / max(shape))
    direct = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    shrunk = cleanup._shrink(gray, factor)
    assert shrunk.shape == direct.shape
    diff = np.abs(shrunk.astype(np.int16) - direct.astype(np.int16))
    # Both average the same pixels; the steps only round differently, and an odd last row
    # or column may be left out.
    assert diff.mean() < 2.0
    assert abs(float(shrunk.mean()) - float(direct.mean())) < 1.0


def test_component_boxes_are_the_labelled_components_boxes():
    rng = np.random.default_rng(3)
    bw = (rng.random((300, 400)) < 0.3).astype(np.uint8)
    cv2.rectangle(bw, (50, 50), (250, 250), 1, 4)
    bw[100:200, 100:200] = 0
    bw[140:160, 140:160] = 1  # a component in another's hole
    bw[0, :] = 1  # and one along the image's edge
    n, _, stats, _ = cv2.connectedComponentsWithStats(bw, connectivity=8)
    boxes = sorted(map(tuple, cleanup._component_boxes(bw).tolist()))
    assert boxes == sorted(map(tuple, stats[1:, :4].tolist()))


def test_tesseract_gives_vietnamese_words_with_boxes_and_confidences(page):
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    result = tesseract.recognize(gray)
    assert isinstance(result, PageOCR)
    assert "TỜ KHAI ĐĂNG KÝ KHAI SINH" in result.text
    assert "Nguyễn Thị Bình" in result.text
    w = next(w for w in result.words if w.text == "079085001234")
    assert 0.5 < w.confidence <= 1.0
    x0, y0, x1, y1 = w.bbox
    assert 0 <= x0 < x1 <= result.width and 0 <= y0 < y1 <= result.height


def test_sideways_page_is_turned_upright_before_ocr(page):
    sideways = cv2.rotate(page, cv2.ROTATE_90_COUNTERCLOCKWISE)
    result = ocr_loaded_page(LoadedPage(sideways, 300, 0), OcrOptions()).ocr
    assert result.rotation == 90
    assert "Họ, chữ đệm, tên người mẹ" in result.text


def test_upside_down_page_is_turned_and_upright_page_skips_osd(page):
    flipped = ocr_loaded_page(LoadedPage(cv2.rotate(page, cv2.ROTATE_180), 300, 0), OcrOptions())
    assert flipped.ocr.rotation == 180 and "orientation" in flipped.timings
    assert "Quan hệ với người được khai sinh" in flipped.ocr.text
    upright = ocr_loaded_page(LoadedPage(page, 300, 0), OcrOptions())
    assert upright.ocr.rotation == 0 and "orientation" not in upright.timings


def test_ocr_file_reads_every_page_of_a_tiff_in_parallel(tmp_path, page):
    from PIL import Image

    first = Image.fromarray(page[:, :, ::-1])
    second = Image.fromarray(cv2.rotate(page, cv2.ROTATE_180)[:, :, ::-1])
    p = tmp_path / "two.tiff"
    first.save(p, save_all=True, append_images=[second], dpi=(300, 300))
    doc = ocr_file(p, workers=2)
    assert [pg.index for pg in doc.pages] == [0, 1]
    assert all("TỜ KHAI ĐĂNG KÝ KHAI SINH" in pg.text for pg in doc.pages)
    assert doc.pages[1].rotation == 180


def test_missing_language_is_a_clear_error():
    from models.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError) as e:
        tesseract.check_tesseract("tesseract", "vie+xyz")
    assert "xyz" in str(e.value)


def test_page_export_round_trips(page, tmp_path):
    doc = ocr_file(save(page, tmp_path / "p.png"))
    again = PageOCR.from_dict(doc.pages[0].export())
    assert again.text == doc.pages[0].text
    assert again.words == doc.pages[0].words


def test_colored_print_is_read_but_a_stamp_over_text_fades():
    """GIVEN a page with a red printed title and a red stamp ring over black text
    WHEN it is turned gray for OCR
    THEN the title stays dark ink (and is read), the stamp fades to paper."""
    from PIL import Image, ImageDraw, ImageFont

    from tests.pages import FONT

    img = Image.new("RGB", (2480, 1400), "white")
    draw = ImageDraw.Draw(img)
    draw.text((600, 120), "CĂN CƯỚC CÔNG DÂN", font=ImageFont.truetype(FONT, 64),
              fill=(200, 30, 30))
    body = ImageFont.truetype(FONT, 44)
    for i, line in enumerate(BIRTH_FORM[3:12]):
        draw.text((180, 320 + 100 * i), line, font=body, fill="black")
    draw.ellipse((1300, 500, 1800, 1000), outline=(220, 40, 40), width=18)  # the stamp
    bgr = np.asarray(img)[:, :, ::-1].copy()
    gray = cleanup.to_gray_dropping_color_ink(bgr)
    title = np.asarray(img)[100:220, 600:1900, 1] < 128  # the title's red pixels
    assert gray[100:220, 600:1900][title].mean() < 128
    ring = gray[750 - 5:750 + 5, 1800 - 14:1800 - 4]
    assert ring.mean() > 200
    text = tesseract.recognize(cleanup.clean_page(bgr, dpi_hint=300).image).text
    assert "CĂN CƯỚC CÔNG DÂN" in text
    assert "Nguyễn Văn An" in text


@pytest.mark.parametrize("doctype,strength", [("application_letter", 0.4),
                                              ("cccd_front", 0.35)])
def test_a_shadowed_page_is_not_read_worse_after_cleanup(tmp_path, doctype, strength):
    """GIVEN a generated page under a strong shadow (the generator's own degradation)
    WHEN it is read raw and through the pipeline's cleanup
    THEN the cleaned page's character error rate is at most the raw page's."""
    from bench.scoring import text_errors
    from ocr.loading import Limits, load_page
    from sample_scans.generator.corpus import DossierSpec, generate_dossier
    from sample_scans.generator.registry import layouts_for

    spec = DossierSpec(name=f"shadow-{doctype}", seed=7, split="dev", container="png",
                       items=[(doctype, layouts_for(doctype, "dev")[0], "front")],
                       card_on_a4=True,
                       forced={"names": ["shadow"], "params": {"shadow_strength": strength}})
    entry = generate_dossier(tmp_path, spec)
    truth = json.loads((tmp_path / entry["truth"]).read_text(encoding="utf-8"))
    page = load_page(next(tmp_path.glob(f"shadow-{doctype}.png")), 0, Limits())
    raw = tesseract.recognize(cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY), dpi=page.dpi or 300)
    cleaned = ocr_loaded_page(page, OcrOptions(read_codes=False)).ocr
    text = truth["pages"][0]["text"]
    assert text_errors(text, cleaned.text).cer <= text_errors(text, raw.text).cer


def _photographed(page: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The page as a phone photo: seen at a slant, on a dark, textured desk; and its corners
    in the photo (top-left, top-right, bottom-right, bottom-left)."""
    h, w = page.shape[:2]
    rng = np.random.default_rng(3)
    desk = (70 + 15 * cv2.resize(rng.normal(0, 1, (h // 32, w // 32)).astype(np.float32), (w, h))
            [..., None] + np.float32([10, 0, -10])).clip(0, 255)
    corners = np.float32([[0.08 * w, 0.05 * h], [0.95 * w, 0.09 * h],
                          [0.9 * w, 0.96 * h], [0.04 * w, 0.92 * h]])
    m = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), corners)
    paper = cv2.warpPerspective(page.astype(np.float32) * 0.92, m, (w, h))
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), m, (w, h))[..., None]
    return (paper * mask + desk * (1 - mask)).astype(np.uint8), corners


def test_a_photographed_sheet_is_cut_out_and_squared(page):
    """GIVEN a page photographed at a slant on a dark desk
    WHEN it is cleaned up
    THEN the sheet's corners are found within 1 % of the page size, the desk is cut away
    and the page squared, and Tesseract reads its lines; a scanned page is left whole."""
    photo, corners = _photographed(page)
    found = cleanup.find_sheet(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    assert found is not None
    assert np.abs(found - corners).max() < 0.01 * max(page.shape)
    cleaned = cleanup.clean_page(photo, dpi_hint=300)
    assert "sheet" in cleaned.steps
    assert np.percentile(cleaned.image[:40, :], 50) > 150  # paper, not desk, at the top
    text = tesseract.recognize(cleaned.image).text
    for line in ("TỜ KHAI ĐĂNG KÝ KHAI SINH", "Nguyễn Thị Bình", "079085001234"):
        assert line in text
    assert cleanup.find_sheet(cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)) is None
    assert "sheet" not in cleanup.clean_page(page, dpi_hint=300).steps


def test_deskew_fills_the_uncovered_corners_with_paper_not_streaks(page):
    """GIVEN a skewed scan with a scanner's dark border along its left edge
    WHEN it is deskewed
    THEN the corners the turn uncovers are paper (no streaks drawn out of the border), and
    the border itself stays where it was."""
    gray = cv2.cvtColor(_rotate(page, 5.0), cv2.COLOR_BGR2GRAY)
    gray[:, :40] = 30
    fixed = cleanup.deskew(gray, cleanup.estimate_skew(gray))
    h, w = fixed.shape
    corners = [fixed[:15, :w // 3], fixed[-15:, :w // 3], fixed[:15, -w // 3:],
               fixed[-15:, -w // 3:]]
    for corner in corners:
        assert (corner < 128).mean() < 0.2
    assert (fixed[h // 2, :200] < 60).sum() >= 30  # the border, turned with the page


def _spine_shadowed_scan() -> np.ndarray:
    """A two-column form scanned with a dark border all round and a book spine's shadow
    running down between its columns: the paper left of the shadow looks like a sheet on a
    darker surface, and the right column of numbers lies beyond it."""
    from PIL import Image, ImageDraw, ImageFont

    from tests.pages import FONT

    img = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 44)
    for i, line in enumerate(BIRTH_FORM):
        draw.text((180, 200 + 160 * i), line[:40], font=font, fill=0)
        draw.text((2060, 200 + 160 * i), f"{i + 1:02d}-{4321 + 17 * i}", font=font, fill=0)
    gray = np.asarray(img).astype(np.float32)
    h, w = gray.shape
    xx = np.arange(w, dtype=np.float32)[None, :]
    scan = gray * (1.0 - 0.9 * np.exp(-((xx - 0.72 * w) / (0.08 * w)) ** 2))
    b = int(0.02 * w)
    scan[:, :b] = scan[:, -b:] = scan[:b] = scan[-b:] = 30
    return cv2.cvtColor(scan.clip(0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def test_a_scan_is_not_cut_where_print_lies_beyond_a_shadow():
    """GIVEN a scan whose dark border and spine shadow make its left part look like a sheet
    on a desk, with a column of print beyond the shadow
    WHEN it is cleaned up and read
    THEN nothing is cut away, and the column beyond the shadow is read."""
    scan = _spine_shadowed_scan()
    assert cleanup.find_sheet(cv2.cvtColor(scan, cv2.COLOR_BGR2GRAY)) is None
    cleaned = cleanup.clean_page(scan, dpi_hint=300)
    assert "sheet" not in cleaned.steps
    assert cleaned.image.shape[1] >= scan.shape[1]
    text = tesseract.recognize(cleaned.image).text
    column = [f"{i + 1:02d}-{4321 + 17 * i}" for i in range(len(BIRTH_FORM))]
    assert sum(number in text for number in column) >= 0.8 * len(column)


@pytest.mark.parametrize("edges", [("left",), ("left", "bottom"), ("left", "right")])
def test_a_scan_with_a_dark_border_on_one_or_two_edges_is_read_uncut(page, edges):
    """GIVEN a scan with the scanner's dark border along one or two edges of the frame
    WHEN it is cleaned up
    THEN it is not taken for a photographed sheet (a desk shows on three sides or four),
    so it is neither cropped nor resampled, and it is read."""
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    band = int(0.02 * w)
    for edge in edges:
        {"left": gray[:, :band], "right": gray[:, -band:], "bottom": gray[-band:]}[edge][...] = 35
    assert cleanup.find_sheet(gray) is None
    cleaned = cleanup.clean_page(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), dpi_hint=300)
    assert "sheet" not in cleaned.steps and cleaned.image.shape == gray.shape
    assert "Nguyễn Thị Bình" in tesseract.recognize(cleaned.image).text
