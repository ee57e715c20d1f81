"""Searchable PDF: each page image with the recognized words as an invisible text layer.

Written with fpdf2 (PDF/A-2U, a Unicode font embedded as a subset so every Vietnamese
character copies out as itself). Each word is drawn in text render mode 3 (invisible) at its
OCR box: horizontally stretched to the box's width, and sized to its line's height with its
baseline where the font puts it, so a reader's selection highlights the printed word. Words
go out line by line in Tesseract's reading order, separated by a space stretched over the gap,
so copying text from the PDF gives the recognized words in reading order.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from models.errors import MissingDependencyError, OcrEngineError
from models.ocr import PageOCR

__all__ = ["searchable_pdf", "page_jpeg", "FONT_CANDIDATES", "PDF_COMPLIANCE"]

log = logging.getLogger(__name__)

# Debian's fonts-dejavu-core (deps/apt.txt): covers every Vietnamese letter.
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"),
    Path("/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf"),
)
PDF_COMPLIANCE = "PDF/A-2U"
JPEG_QUALITY = 80


@lru_cache(maxsize=1)
def _font() -> tuple[Path, float, float]:
    """The text-layer font and its ascent/descent as fractions of the font size."""
    from fontTools.ttLib import TTFont

    for path in FONT_CANDIDATES:
        if path.is_file():
            tt = TTFont(str(path), lazy=True)
            em = float(tt["head"].unitsPerEm)
            return path, tt["hhea"].ascent / em, tt["hhea"].descent / em
    raise MissingDependencyError("no font for the PDF text layer",
                                 hint="install fonts-dejavu-core (`make setup`)")


# What the text layer of a Vietnamese or English page draws: Latin with every Vietnamese
# letter (precomposed and combining marks), punctuation, currency and letterlike signs. A
# font cut down to these parses and subsets in a fraction of the whole font's time (about
# 0.06 s of CPU a document); a page with any other character gets the whole font.
_COMMON = ((0x20, 0x24F), (0x300, 0x36F), (0x1E00, 0x1EFF), (0x2000, 0x206F),
           (0x20A0, 0x20CF), (0x2100, 0x214F))


@lru_cache(maxsize=1)
def _common_font() -> tuple[Path, frozenset[str]] | None:
    """The text-layer font cut down to :data:`_COMMON`, written once per process to a
    temporary file, with the characters it has; None if it cannot be made (the whole font is
    used then)."""
    import atexit
    import os
    import tempfile

    from fontTools import subset
    from fontTools.ttLib import TTFont

    path = _font()[0]
    try:
        tt = TTFont(str(path))
        options = subset.Options()
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        options.drop_tables += ["FFTM"]
        cutter = subset.Subsetter(options)
        cutter.populate(unicodes=[u for a, b in _COMMON for u in range(a, b + 1)])
        cutter.subset(tt)
        fd, name = tempfile.mkstemp(prefix="dossier-text-layer-", suffix=".ttf")
        with os.fdopen(fd, "wb") as out:
            tt.save(out)
        atexit.register(lambda: Path(name).unlink(missing_ok=True))
        return Path(name), frozenset(chr(c) for c in tt.getBestCmap())
    except Exception as e:  # noqa: BLE001 - the whole font does the same job, only slower
        log.warning("text layer: cannot cut the font down (%s); the whole font is used", e)
        return None


def page_jpeg(image: np.ndarray) -> bytes:
    """A page image as the searchable PDF embeds it: grayscale JPEG at ``JPEG_QUALITY``.
    The OCR processes write the cleaned page so (``ocr.pool``), and the PDF takes those
    bytes as they are. On two cleaned 300 dpi pages of the test split: 0.007-0.009 s to
    encode, where the PNG kept before took 0.044-0.064 s to write, and the PDF 0.010-0.020 s
    to decode it and 0.008 s to encode it again (and 180-700 KB instead of 220-980 KB)."""
    arr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    ok, buf = cv2.imencode(".jpg", arr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OcrEngineError("cannot encode a page image for the searchable PDF")
    return buf.tobytes()


def _jpeg(image: bytes | np.ndarray) -> tuple[bytes, int, int]:
    """The page as a grayscale JPEG (small, and embedded as it is), with its size. A JPEG
    (the cleaned pages the OCR processes write) is taken as it is; other images (PNG of pages
    digitized before) are decoded and encoded as ``page_jpeg`` does."""
    if isinstance(image, bytes | bytearray):
        if image[:2] == b"\xff\xd8":
            from PIL import Image

            with Image.open(io.BytesIO(image)) as im:  # reads the header only
                if im.format == "JPEG" and im.mode == "L":
                    return bytes(image), im.width, im.height
        arr = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)
        if arr is None:
            raise OcrEngineError("cannot decode a page image for the searchable PDF")
    else:
        arr = image
    out = page_jpeg(arr)
    return out, arr.shape[1], arr.shape[0]


def searchable_pdf(pages: Iterable[tuple[bytes | np.ndarray, PageOCR]], *,
                   title: str | None = None) -> bytes:
    """A PDF of ``pages``: (the image the OCR boxes refer to, its OCR), in order.

    Pages are added one at a time, images as JPEG, so memory grows with the compressed
    document, never with decoded pages.
    """
    from fpdf import FPDF
    from fpdf.enums import TextMode

    font_path, ascent, descent = _font()
    common = _common_font()
    pdf = FPDF(unit="pt", enforce_compliance=PDF_COMPLIANCE)
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.set_creator("dossier-pipeline")
    if title:
        pdf.set_title(title)
    pdf.set_lang("vi")
    if common is not None:
        pdf.add_font("text", "", str(common[0]))
    else:
        pdf.add_font("text", "", str(font_path))
    whole = False  # the whole font added (for a line the cut-down one cannot draw)
    n = 0
    for image, page in pages:
        jpeg, w_px, h_px = _jpeg(image)
        # The boxes are in pixels of this image; the page keeps the image's physical size.
        dpi = float(page.dpi or 300)
        k = 72.0 / dpi
        if (w_px, h_px) != (page.width, page.height):
            raise OcrEngineError(f"page {page.index + 1}: image {w_px}x{h_px} does not match "
                                 f"its OCR ({page.width}x{page.height})")
        pdf.add_page(format=(w_px * k, h_px * k))
        pdf.image(io.BytesIO(jpeg), x=0, y=0, w=w_px * k, h=h_px * k)
        pdf.text_mode = TextMode.INVISIBLE
        for line in page.lines:
            if not line.words:
                continue
            lx0, ly0, lx1, ly1 = line.bbox
            # Font size whose ascent-to-descent span is the line's height.
            size = max(1.0, (ly1 - ly0) * k / (ascent - descent))
            baseline = ly1 * k + descent * size
            family = "text"
            if common is not None and any(ch not in common[1] for w in line.words
                                          for ch in w.text):
                if not whole:
                    pdf.add_font("whole", "", str(font_path))
                    whole = True
                family = "whole"
            pdf.set_font(family, size=size)
            pdf.set_stretching(100.0)
            space = pdf.get_string_width(" ")
            for i, word in enumerate(line.words):
                x0, _, x1, _ = word.bbox
                pdf.set_stretching(100.0)  # widths below are measured unstretched
                natural = pdf.get_string_width(word.text)
                if natural <= 0:
                    continue
                pdf.set_stretching(100.0 * max(1.0, (x1 - x0) * k) / natural)
                pdf.text(x0 * k, baseline, word.text)
                if i + 1 < len(line.words) and space > 0:
                    # A space filling the gap to the next word, so text extraction and
                    # copying separate the words; never reaching into the next word.
                    nxt = line.words[i + 1].bbox[0]
                    at = min(x1, nxt)
                    pdf.set_stretching(100.0 * max(0.05, (nxt - at) * k) / space)
                    pdf.text(at * k, baseline, " ")
            pdf.set_stretching(100.0)
        pdf.text_mode = TextMode.FILL
        n += 1
    if n == 0:
        raise OcrEngineError("a searchable PDF needs at least one page")
    return bytes(pdf.output())
