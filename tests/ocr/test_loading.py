"""Every input file is untrusted: each bad kind gets its own clear error."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedPdfError,
    ImageTooLargeError,
    TooManyPagesError,
    UnsupportedFormatError,
)
from ocr.loading import Limits, count_pages, load_page, sniff_format


def _png(path: Path, w=200, h=100) -> Path:
    Image.new("RGB", (w, h), "white").save(path, format="PNG")
    return path


def test_zero_byte_file_is_reported_empty(tmp_path):
    """GIVEN an empty file WHEN counted THEN EmptyFileError names the file."""
    p = tmp_path / "scan.jpg"
    p.write_bytes(b"")
    with pytest.raises(EmptyFileError) as e:
        count_pages(p)
    assert "scan.jpg" in str(e.value) and "empty" in str(e.value)


def test_text_file_with_image_extension_is_unsupported(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("hello, this is not an image")
    with pytest.raises(UnsupportedFormatError) as e:
        sniff_format(p)
    assert "notes.png" in str(e.value)


def test_format_comes_from_content_not_name(tmp_path):
    """GIVEN a PNG saved as .jpg WHEN sniffed THEN it is a png and loads."""
    p = _png(tmp_path / "page.jpg")
    assert sniff_format(p) == "png"
    assert load_page(p, 0).image.shape == (100, 200, 3)


def test_truncated_png_is_corrupt(tmp_path):
    full = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), np.uint8)).save(
        full, format="PNG")
    p = tmp_path / "cut.png"
    p.write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    with pytest.raises(CorruptFileError) as e:
        load_page(p, 0)
    assert "cut.png" in str(e.value)


def test_huge_image_is_refused_before_decoding(tmp_path):
    p = _png(tmp_path / "big.png", 3000, 2000)
    with pytest.raises(ImageTooLargeError) as e:
        count_pages(p, Limits(max_image_pixels=1_000_000))
    assert "big.png" in str(e.value)


def test_multipage_tiff_pages_load_one_by_one(tmp_path):
    frames = [Image.new("L", (120, 80), v) for v in (0, 128, 255)]
    p = tmp_path / "stack.tiff"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    assert count_pages(p) == 3
    assert int(load_page(p, 1).image.mean()) == 128


def test_too_many_pages_is_refused(tmp_path):
    frames = [Image.new("L", (50, 50), 255) for _ in range(4)]
    p = tmp_path / "many.tif"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    with pytest.raises(TooManyPagesError):
        count_pages(p, Limits(max_pages=3))


def _pdf(tmp_path: Path, password: str | None = None) -> Path:
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    if password:
        w.encrypt(password)
    p = tmp_path / ("locked.pdf" if password else "blank.pdf")
    with p.open("wb") as fh:
        w.write(fh)
    return p


def test_password_protected_pdf_says_how_to_decrypt(tmp_path):
    p = _pdf(tmp_path, password="secret")
    with pytest.raises(EncryptedPdfError) as e:
        count_pages(p)
    assert "locked.pdf" in str(e.value) and "qpdf --decrypt" in str(e.value)


def test_pdf_page_renders_at_configured_dpi(tmp_path):
    p = _pdf(tmp_path)
    page = load_page(p, 0, Limits(pdf_render_dpi=100))
    h, w = page.image.shape[:2]
    assert abs(w - 595 * 100 / 72) <= 1 and abs(h - 842 * 100 / 72) <= 1
    assert page.dpi == 100


def test_truncated_pdf_is_corrupt(tmp_path):
    good = _pdf(tmp_path).read_bytes()
    p = tmp_path / "broken.pdf"
    p.write_bytes(good[:60])
    with pytest.raises(CorruptFileError):
        count_pages(p)


def _scan_like(seed: int = 3) -> np.ndarray:
    """A page-like RGB image: paper, dark strokes, a colored stamp, sensor noise."""
    rng = np.random.default_rng(seed)
    img = np.full((300, 420, 3), 235, np.uint8)
    img[40:48, 30:390] = 20
    img[120:200, 250:330] = (40, 40, 200)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("kind", ["png-rgb", "png-gray", "jpeg-rgb", "jpeg-gray"])
def test_fast_decoding_gives_the_same_pixels_and_dpi_as_pillow(tmp_path, kind):
    """PNG and JPEG pages decoded by OpenCV are the pixels Pillow decodes, with the dpi."""
    rgb = _scan_like()
    pil = Image.fromarray(rgb if kind.endswith("rgb") else rgb[:, :, 0])
    fmt = "PNG" if kind.startswith("png") else "JPEG"
    p = tmp_path / f"page.{fmt.lower()}"
    pil.save(p, format=fmt, dpi=(200, 200))
    page = load_page(p, 0)
    with Image.open(p) as ref:
        expected = np.asarray(ref.convert("RGB"))[:, :, ::-1]
    assert page.image.shape == (300, 420, 3) and page.image.dtype == np.uint8
    assert np.array_equal(page.image, expected)
    assert page.dpi == 200


def test_truncated_jpeg_is_corrupt(tmp_path):
    """A JPEG cut short is refused, not read with its missing part filled in gray."""
    buf = io.BytesIO()
    Image.fromarray(_scan_like()).save(buf, format="JPEG", quality=90)
    p = tmp_path / "cut.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) * 2 // 3])
    with pytest.raises(CorruptFileError) as e:
        load_page(p, 0)
    assert "cut.jpg" in str(e.value)
