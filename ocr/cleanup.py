"""OpenCV page cleanup, one small plain function per step.

Each step takes a numpy image and returns an image (and what it did), so the steps can be
tested and benchmarked alone. :func:`clean_page` runs them in the order the pipeline uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

__all__ = [
    "CleanupResult",
    "to_gray_dropping_color_ink",
    "find_sheet",
    "cut_out_sheet",
    "estimate_text_height",
    "normalize_resolution",
    "rotate_orthogonal",
    "estimate_skew",
    "deskew",
    "flatten_background",
    "uneven_light",
    "measure_light",
    "Light",
    "remove_dotted_leaders",
    "denoise",
    "clean_page",
]

log = logging.getLogger(__name__)

# Tesseract reads best when capital letters are about 30 px tall (~10 pt at 300 dpi).
TARGET_TEXT_HEIGHT = 30.0
# Text between these heights is read at its own size (see normalize_resolution).
MIN_TEXT_HEIGHT = 24.0
MAX_TEXT_HEIGHT = 45.0
# Deskewing resamples the whole page; Tesseract's line finding copes with less than this.
MIN_DESKEW_DEGREES = 0.5
# A page is enlarged to at most this many pixels (an A4 page at about 350 dpi).
MAX_ENLARGED_PIXELS = 12_000_000


@dataclass
class CleanupResult:
    image: np.ndarray  # cleaned grayscale uint8
    rotation: int = 0
    skew_angle: float = 0.0
    scale: float = 1.0
    dpi: int = 300
    steps: list[str] = field(default_factory=list)


def to_gray_dropping_color_ink(bgr: np.ndarray, text_height: float | None = None, *,
                               gray: np.ndarray | None = None) -> np.ndarray:
    """Grayscale where red seals and blue signatures fade to paper, but colored print stays.

    Black print is dark in every channel; red or blue ink is bright in at least one, so for
    strongly colored pixels of a stamp or a signature the brightest channel is used instead of
    the luminance. Colored *print* (a red title, a red ID number on a card) is text, and is
    kept: colored ink is grouped into marks, and a mark no taller than a line of large print
    (``COLOR_TEXT_LINES`` times the text height, measured on the page if not given) and not
    inside a larger mark is read as text. A stamp or a signature is several lines tall.
    ``gray``: the page's plain grayscale, if already converted.
    """
    if bgr.ndim == 2:
        return bgr
    if gray is None:
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    # Most pages carry no colored ink: look on a small copy first (a full-size HSV
    # conversion costs more than the rest of this step).
    h, w = bgr.shape[:2]
    factor = min(1.0, 800 / max(h, w))
    small = cv2.resize(bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
    if cv2.countNonZero(_colored(small)) < 0.0005 * small.shape[0] * small.shape[1]:
        return gray
    colored = _colored(bgr)
    if cv2.countNonZero(colored) < 0.0005 * h * w:
        return gray
    if text_height is None:
        text_height = estimate_text_height(gray)
    marks = _stamp_marks(colored, text_height)
    if not cv2.countNonZero(marks):
        return gray
    brightest = cv2.max(cv2.max(bgr[:, :, 0], bgr[:, :, 1]), bgr[:, :, 2])
    return cv2.copyTo(brightest, marks, gray.copy())


# A colored mark taller than this many text heights is a stamp or a signature, not print.
COLOR_TEXT_LINES = 2.5


def _stamp_marks(colored: np.ndarray, text_height: float | None) -> np.ndarray:
    """The colored pixels (255) that belong to stamps and signatures, not to colored print.

    Colored pixels are joined along a line (gaps under one text height) into marks; marks
    taller than ``COLOR_TEXT_LINES`` text heights, and everything inside their boxes (a
    stamp's inner words), are stamps and signatures.
    """
    if text_height is None:
        return colored
    th = max(4, int(round(text_height)))
    joined = cv2.morphologyEx(colored, cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_RECT, (th, max(1, th // 4))))
    # A component in another's hole lies inside that one's box: outer components suffice.
    tall = [(x, y, bw, bh) for x, y, bw, bh in _component_boxes(joined, in_holes=False).tolist()
            if bh > COLOR_TEXT_LINES * text_height]
    if not tall:
        return np.zeros_like(colored)
    marks = np.zeros_like(colored)
    for x, y, bw, bh in tall:
        marks[y:y + bh, x:x + bw] = 255
    return cv2.bitwise_and(marks, colored)


def _colored(bgr: np.ndarray) -> np.ndarray:
    """Mask (255) of strongly colored pixels: HSV saturation and value both above 90."""
    b, g, r = cv2.split(bgr)
    hi = cv2.max(cv2.max(b, g), r)
    lo = cv2.min(cv2.min(b, g), r)
    # saturation = (hi - lo) / hi * 255 > 90  <=>  hi - lo > hi * 90 / 255
    # OpenCV takes a number for an array operand (a scalar); its stubs only list arrays.
    scaled = cv2.multiply(hi, 90.0 / 255.0)  # type: ignore[call-overload]
    sat = cv2.compare(cv2.subtract(hi, lo), scaled, cv2.CMP_GT)
    return cv2.bitwise_and(sat, cv2.compare(hi, 90, cv2.CMP_GT))  # type: ignore[call-overload]


def _shrink(gray: np.ndarray, factor: float) -> np.ndarray:
    """``gray`` reduced by ``factor`` (at most 1) with pixel-area averaging, the size
    ``cv2.resize`` gives it. Area averaging by a fraction costs OpenCV about 20 times what
    halving does; a page is halved while it stays at least twice the size asked for, and
    only the last small step is a fraction."""
    if factor >= 1.0:
        return gray
    h, w = gray.shape[:2]
    size = (max(1, int(round(w * factor))), max(1, int(round(h * factor))))
    while gray.shape[1] >= 2 * size[0] and gray.shape[0] >= 2 * size[1]:
        # An odd last row or column is dropped: halving is fast only by exactly two.
        even = gray[:gray.shape[0] // 2 * 2, :gray.shape[1] // 2 * 2]
        gray = cv2.resize(even, (even.shape[1] // 2, even.shape[0] // 2),
                          interpolation=cv2.INTER_AREA)
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def _components(bw: np.ndarray):
    """8-connected components with their stats, as ``cv2.connectedComponentsWithStats``
    gives them (same labels, same stats) by Grana's block-based labelling, a fifth faster on
    pages than OpenCV's default choice."""
    return cv2.connectedComponentsWithStatsWithAlgorithm(bw, 8, cv2.CV_32S, cv2.CCL_GRANA)


# A sheet on a darker surface (a phone photo, a scanner lid left open) is cut out and squared
# when the surface around it covers at least this share of the frame...
MIN_SURROUND = 0.01
# ... and the sheet at least this share (a smaller bright shape is something on the page).
MIN_SHEET = 0.35


def find_sheet(gray: np.ndarray) -> np.ndarray | None:
    """The four corners (top-left, top-right, bottom-right, bottom-left, in pixels) of a sheet
    of paper lying on a darker surface, or None when the page fills the frame.

    The paper is the largest bright region (Otsu on a small blurred copy, with the print
    closed over); it must be a convex quadrilateral that the region fills, cover at least
    ``MIN_SHEET`` of the frame and leave at least ``MIN_SURROUND`` of it outside, where the
    surface is darker than the paper by half the paper's contrast to the background.
    """
    h, w = gray.shape[:2]
    factor = min(1.0, 600 / max(h, w))
    small = _shrink(gray, factor)
    small = cv2.GaussianBlur(small, (5, 5), 0)
    _, bright = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    k = max(3, int(max(small.shape) / 50) | 1)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    n, labels, stats, _ = _components(bright)
    if n <= 1:
        return None
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    area = float(stats[big, cv2.CC_STAT_AREA])
    frame = float(small.shape[0] * small.shape[1])
    if not MIN_SHEET * frame <= area <= (1 - MIN_SURROUND) * frame:
        return None
    sheet = (labels == big).astype(np.uint8)
    contours, _ = cv2.findContours(sheet, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    quad = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
    if len(quad) != 4 or not cv2.isContourConvex(quad):
        return None
    inside = np.zeros_like(sheet)
    cv2.fillConvexPoly(inside, quad.reshape(4, 2), 1)
    quad_area = float(inside.sum())
    # The region must be the quadrilateral itself (straight edges), not a shadow's curve.
    if (quad_area > (1 - MIN_SURROUND) * frame
            or cv2.countNonZero(cv2.bitwise_xor(sheet, inside)) > 0.03 * quad_area):
        return None
    # The surface outside is clearly darker than the paper: a sheet, not a pale page edge.
    paper = float(np.median(small[sheet > 0]))
    surround = float(np.median(small[inside == 0]))
    ink = float(np.percentile(small, 1))
    if paper - surround < 0.5 * max(1.0, paper - ink):
        return None
    if not _surrounded(small, quad, paper - 0.5 * max(1.0, paper - ink)):
        return None
    if _ink_outside(small, bright, inside, paper - float(np.percentile(small[sheet > 0], 1))):
        return None
    pts = quad.reshape(4, 2).astype(np.float32) / factor
    # Order the corners: top-left has the smallest x+y, bottom-right the largest.
    s, d = pts.sum(axis=1), np.diff(pts, axis=1).ravel()
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)],
                     pts[np.argmax(d)]], dtype=np.float32)


def _ink_outside(small: np.ndarray, bright: np.ndarray, inside: np.ndarray,
                 contrast: float) -> bool:
    """Whether print lies on paper outside the sheet's quadrilateral (a cut would lose it).

    A dark scanner border or a shadow across the page can make part of the paper look like
    a sheet on a surface, with more paper beyond its edge. That paper is a bright region
    (its print closed over) of its own, or the sheet's region reaching past the
    quadrilateral, at least a line of print high and wide. Where it carries print (marks
    darker than the paper around them by a quarter of ``contrast``, the paper's contrast to
    its ink, away from its rim, at least two pixels each way) the page is not cut. A desk's
    pale flecks are too small to hold a line of print.
    """
    box = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    # The frame's edge is a rim too: nothing of the paper shows beyond it.
    beyond = np.bitwise_and(
        cv2.erode(bright // 255, box, borderType=cv2.BORDER_CONSTANT, borderValue=0),
        1 - cv2.dilate(inside, box))
    # Slivers thinner than a line of print (where the quadrilateral's edge and the paper's
    # disagree by a pixel or two) and flecks smaller than a few letters hold none.
    beyond = cv2.morphologyEx(beyond, cv2.MORPH_OPEN,
                              cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7)))
    if not cv2.countNonZero(beyond):
        return False
    # Print is marks darker than the paper around them (a shade's smooth edge is not), and
    # is surrounded by paper: dark pixels on the region's own edge are the surface.
    k = max(5, int(max(small.shape) / 60) | 1)
    marks = cv2.morphologyEx(small, cv2.MORPH_BLACKHAT,
                             cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    ink = np.bitwise_and((marks > contrast / 4).astype(np.uint8),
                         cv2.erode(beyond, np.ones((3, 3), np.uint8)))
    n, _, stats, _ = _components(ink)
    return bool(n > 1 and ((stats[1:, cv2.CC_STAT_WIDTH] >= 2)
                           & (stats[1:, cv2.CC_STAT_HEIGHT] >= 2)).any())


def _surrounded(small: np.ndarray, quad: np.ndarray, darker_than: float) -> bool:
    """Whether a surface shows beyond at least three sides of the quadrilateral.

    A sheet photographed lying on a desk has the desk around it, on every side or all but
    one where the sheet runs off the frame. A scan's dark border runs along one or two edges
    of the frame, where the scanner's lid or bed showed; there the "sheet" is the scanned
    page itself, which a cut only crops and resamples. Beyond a side, the surface is a band
    a fiftieth of the frame wide, at least a third of it inside the frame, darker than
    ``darker_than``.
    """
    h, w = small.shape[:2]
    d = max(3.0, 0.02 * max(h, w))
    pts = quad.reshape(-1, 2).astype(np.float32)
    centre = pts.mean(axis=0)
    pad = int(np.ceil(2 * d))
    sides = 0
    for i in range(len(pts)):
        a, b = pts[i], pts[(i + 1) % len(pts)]
        normal = np.array([b[1] - a[1], a[0] - b[0]], dtype=np.float32)
        normal /= max(1e-6, float(np.linalg.norm(normal)))
        if float(np.dot((a + b) / 2 - centre, normal)) < 0:
            normal = -normal
        band = np.zeros((h + 2 * pad, w + 2 * pad), np.uint8)
        cv2.fillConvexPoly(band, np.round(np.stack([a, b, b + d * normal, a + d * normal])
                                          + pad).astype(np.int32), 1)
        seen = band[pad:pad + h, pad:pad + w] > 0
        if seen.sum() >= band.sum() / 3 and float(np.median(small[seen])) < darker_than:
            sides += 1
    return sides >= 3


def cut_out_sheet(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The sheet inside ``corners`` squared to an upright rectangle at its own resolution (a
    plain crop when the corners already form one)."""
    tl, tr, br, bl = corners
    width = int(round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))))
    height = int(round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
    if max(x1 - x0 - width, y1 - y0 - height) <= 2:
        return image[max(0, y0):y1, max(0, x0):x1]
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]],
                      dtype=np.float32)
    m = cv2.getPerspectiveTransform(corners, target)
    return cv2.warpPerspective(image, m, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def _binary_ink(gray: np.ndarray) -> np.ndarray:
    """Ink as 255 on 0, by Otsu on a lightly blurred image."""
    blur = cv2.GaussianBlur(gray, (3, 3), 0)
    _, bw = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return bw


def estimate_text_height(gray: np.ndarray) -> float | None:
    """Median height of character-like connected components, in pixels."""
    h, w = gray.shape[:2]
    factor = 1.0
    if max(h, w) > 2500:
        # Half size still measures 30 px letters to a pixel, at a quarter of the cost.
        factor = 0.5 if max(h, w) <= 10000 else 5000 / max(h, w)
        gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    bw = _binary_ink(gray)
    n, _, stats, _ = _components(bw)
    if n < 10:
        return None
    hs = stats[1:, cv2.CC_STAT_HEIGHT].astype(np.float32)
    ws = stats[1:, cv2.CC_STAT_WIDTH].astype(np.float32)
    area = stats[1:, cv2.CC_STAT_AREA].astype(np.float32)
    ok = ((hs >= 6 * factor) & (hs <= 300 * factor) & (ws <= hs * 3) & (ws >= 2 * factor)
          & (area >= 12 * factor * factor))
    if ok.sum() < 10:
        return None
    sel = hs[ok]
    # Diacritics and punctuation are small: the upper half of components is the letters.
    return float(np.percentile(sel, 75)) / factor


def normalize_resolution(gray: np.ndarray, dpi_hint: int | None = None,
                         max_pixels: int = 40_000_000, *,
                         height: float | None = None) -> tuple[np.ndarray, float]:
    """Resize only text Tesseract would read worse at its own size; returns (image, scale).

    Tesseract's recognizer sees every text line scaled to 36 px high. A Vietnamese line is
    about one and a half capital heights tall (stacked marks above, descenders below), so
    capitals of 24 px or more already carry all it uses: such pages are read as they are
    (resampling only blurs them). Smaller text (low-resolution scans) is enlarged to ``TARGET_TEXT_HEIGHT``
    before Tesseract's cruder internal scaling; text over 45 px is reduced to it, which costs
    nothing in accuracy and saves time. ``height`` is the measured text height, if known.
    """
    if height is None:
        height = estimate_text_height(gray)
    if height is None:
        scale = 300.0 / dpi_hint if dpi_hint and dpi_hint < 200 else 1.0
    elif MIN_TEXT_HEIGHT <= height <= MAX_TEXT_HEIGHT:
        scale = 1.0
    else:
        scale = TARGET_TEXT_HEIGHT / height
    scale = float(np.clip(scale, 0.4, 4.0))
    h, w = gray.shape[:2]
    if h * w * scale * scale > max_pixels:
        scale = min(scale, (max_pixels / (h * w)) ** 0.5)
    if scale > 1 and h * w * scale * scale > MAX_ENLARGED_PIXELS:
        # Tesseract's memory grows with the pixels it reads (about 14 MB per megapixel):
        # enlarging small print on a full page is limited so a worker stays under 400 MB.
        scale = max(1.0, (MAX_ENLARGED_PIXELS / (h * w)) ** 0.5)
    if 0.95 <= scale <= 1.05:
        return gray, 1.0
    interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    return cv2.resize(gray, None, fx=scale, fy=scale, interpolation=interp), scale


def rotate_orthogonal(img: np.ndarray, degrees_clockwise: int) -> np.ndarray:
    d = degrees_clockwise % 360
    if d == 90:
        return cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
    if d == 180:
        return cv2.rotate(img, cv2.ROTATE_180)
    if d == 270:
        return cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return img


def _rotated_score(bw: np.ndarray, angle: float) -> float:
    """:func:`_projection_score` on the image itself turned (nearest pixel) by ``angle``."""
    h, w = bw.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rot = cv2.warpAffine(bw, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    profile = cv2.reduce(rot, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.float64)
    return float(np.square(np.diff(profile)).sum())


def _projection_score(ink: np.ndarray, shape: tuple[int, int], angle: float) -> float:
    """How sharply the rows of ink step when the page is turned by ``angle`` degrees about
    its centre: the sum of squared differences of the ink count of neighbouring rows.

    The ink pixels' coordinates (``ink``, x and y as float32 rows) are turned, not the
    image: the row a pixel lands on is its turned y, rounded. Pixels turned out of the frame
    are left out, as a rotated image of the same size would lose them.
    """
    h, w = shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0).astype(np.float32)
    x, y = ink
    rows = np.rint(m[1, 0] * x + m[1, 1] * y + m[1, 2])
    cols = m[0, 0] * x + m[0, 1] * y + m[0, 2]
    keep = (rows >= 0) & (rows < h) & (cols > -0.5) & (cols < w - 0.5)
    profile = np.bincount(rows[keep].astype(np.intp), minlength=h).astype(np.float64)
    return float(np.square(np.diff(profile)).sum())


FINE_CHECKED = 4


def estimate_skew(gray: np.ndarray, max_angle: float = 10.0) -> float:
    """Skew in degrees (counter-clockwise positive, OpenCV's convention) that deskew undoes.

    Text lines give the horizontal ink profile sharp steps when level; the angle that
    maximizes the steps wins, searched coarse then fine on a downscaled image.
    """
    h, w = gray.shape[:2]
    factor = min(1.0, 1000 / max(h, w))
    small = _shrink(gray, factor)
    bw = _binary_ink(small)
    if bw.mean() < 0.5:  # (almost) blank page
        return 0.0
    points = cv2.findNonZero(bw)
    ink = points.reshape(-1, 2).T.astype(np.float32)
    coarse = np.arange(-max_angle, max_angle + 0.01, 1.0)
    best = max(coarse, key=lambda a: _projection_score(ink, bw.shape, a))
    fine = np.arange(best - 1.0, best + 1.01, 0.1)
    projected = np.array([_projection_score(ink, bw.shape, a) for a in fine])
    near = np.sort(np.argsort(-projected, kind="stable")[:FINE_CHECKED])
    best = max(fine[near], key=lambda a: _rotated_score(bw, a))
    return float(round(best, 2))


def deskew(gray: np.ndarray, angle: float) -> np.ndarray:
    if abs(angle) < 0.1:
        return gray
    h, w = gray.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    # The corners the turn uncovers are filled with the paper's shade: repeating the edge
    # pixels instead draws streaks out of anything dark there (a scanner's border, a shadow),
    # which Tesseract reads as rows of junk.
    factor = min(1.0, 500 / max(h, w))
    small = _shrink(gray, factor)
    paper = float(np.percentile(small, 90))
    return cv2.warpAffine(gray, m, (nw, nh), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=paper)


@dataclass
class Light:
    """The paper's brightness, measured on a small copy of the page: the copy, its scale, the
    paper's shade at each pixel (a large closing removes the ink) and that shade smoothed."""

    small: np.ndarray
    factor: float
    shade: np.ndarray
    background: np.ndarray


def measure_light(gray: np.ndarray) -> Light:
    """The page's :class:`Light`, measured once for both :func:`uneven_light` and
    :func:`flatten_background`."""
    h, w = gray.shape[:2]
    factor = min(1.0, 600 / max(h, w))
    # Area-averaged in one step, not by :func:`_shrink`: this copy's shade is divided out of
    # every pixel, and the halving steps' other rounding read flattened pages worse on dev.
    small = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    k = max(7, int(max(small.shape) / 40) | 1)
    shade = cv2.morphologyEx(small, cv2.MORPH_CLOSE,
                             cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return Light(small, factor, shade, cv2.GaussianBlur(shade, (k, k), 0))


def flatten_background(gray: np.ndarray, light: Light | None = None) -> np.ndarray:
    """Divide out uneven light and shadows: the background estimate is a large closing.
    ``light``: the page's :func:`measure_light`, if already measured."""
    h, w = gray.shape[:2]
    background = (light or measure_light(gray)).background
    background = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.divide(gray, np.maximum(background, 1), scale=255)


def _text_paper(small: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """Where the text is: pixels clearly darker than the paper around them. A large dark
    object (a photo, a card's chip, a barcode seen from afar) is its own paper there and is
    not among them."""
    return small.astype(np.float32) < 0.75 * paper.astype(np.float32)


# The paper under this share of the text decides whether the light is uneven: a shadow covers
# a good part of the text, a fingerprint or a barcode's edge only a few pixels of "ink".
SHADED_TEXT = 0.10


def uneven_light(gray: np.ndarray, light: Light | None = None) -> bool:
    """Whether the light varies enough over the text to trouble a global threshold.

    Tesseract binarizes with one threshold (Otsu) for the whole page, which sits between the
    ink and the paper. It holds as long as the paper's brightness *where the text is* varies
    by less than a quarter of the ink-to-paper contrast; beyond that, shadowed paper or faded
    ink falls on the wrong side somewhere, and dividing the light out is worth its cost (and
    its slight softening of clean pages, which then skip it). The paper is looked at around
    the text only: a photo, a fingerprint, a tinted card copied onto the page is no shade, and
    dividing it out only turns it into outlines that read as letters. ``light``: the page's
    :func:`measure_light`, if already measured.
    """
    light = light or measure_light(gray)
    text = _text_paper(light.small, light.shade)
    if cv2.countNonZero(text.view(np.uint8)) < 50:
        return False
    paper = float(np.percentile(light.shade, 99))
    shaded = float(np.percentile(light.shade[text], 100 * SHADED_TEXT))
    contrast = paper - float(np.percentile(light.small, 1))
    if contrast <= 0:
        return False
    return paper - shaded > 0.25 * contrast


def remove_dotted_leaders(gray: np.ndarray,
                          text_height: float = TARGET_TEXT_HEIGHT) -> tuple[np.ndarray, bool]:
    """White out dotted leader lines (the ``.........`` a form fills in on).

    Tesseract reads text written on a leader poorly and the dots themselves as junk. A leader
    is a long horizontal run of small, evenly sized blobs on one line; sizes are relative to
    the normalized text height, so only dots qualify, never letters. Diacritics are small too,
    but they do not line up five or more in a thin run.

    Dots are joined along each row (gaps under 0.9 text heights) into runs; a run at least
    four text heights wide and no taller than a dot (plus the climb of a page skewed less
    than ``MIN_DESKEW_DEGREES``) is a leader. Runs are looked for only in
    the bands of rows where the dots' boxes could chain that wide.
    """
    bw = (gray < _faint_ink_level(gray)).astype(np.uint8)
    dot_max = 0.3 * text_height
    # Every component's box, from its outer contour (tracing is much cheaper than labelling
    # the whole page); a dot's pixels are at most its box.
    boxes = _component_boxes(bw)
    small = (boxes[:, 2] <= dot_max) & (boxes[:, 3] <= dot_max)
    if not small.any():
        return gray, False
    gap = int(0.9 * text_height)
    # A page skewed less than deskewing is worth is not deskewed: its leaders may climb or
    # fall by that slope along their length.
    tilt = float(np.tan(np.radians(MIN_DESKEW_DEGREES)))
    strips = _leader_strips(boxes[small], gray.shape[0], dot_max, gap, 4 * text_height)
    if not strips:
        return gray, False
    join = cv2.getStructuringElement(cv2.MORPH_RECT, (gap, 1))
    halo = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    out = gray.copy()
    found = False
    height, width = gray.shape[:2]
    # A dot is under a dot's height tall: labelled in its strip widened by more than that, a
    # component cut by the widened strip's edge is taller, and no dot.
    margin = int(np.ceil(dot_max)) + 1
    for top, bottom in strips:
        above, below = max(0, top - margin), min(height, bottom + margin)
        n, labels, stats, _ = _components(bw[above:below])
        ys, w, h = (stats[:, cv2.CC_STAT_TOP], stats[:, cv2.CC_STAT_WIDTH],
                    stats[:, cv2.CC_STAT_HEIGHT])
        lut = ((w <= dot_max) & (h <= dot_max)
               & (stats[:, cv2.CC_STAT_AREA] <= dot_max * dot_max)
               & ((ys > 0) | (above == 0)) & ((ys + h < below - above) | (below == height)))
        lut[0] = False
        dots = lut.astype(np.uint8)[labels[top - above:bottom - above]]
        if not dots.any():
            continue
        # The closing joins dots along rows only, so a strip of rows closes as the page does.
        runs = cv2.morphologyEx(dots, cv2.MORPH_CLOSE, join)
        m, run_labels, run_stats, _ = _components(runs)
        ys, hs = run_stats[:, cv2.CC_STAT_TOP], run_stats[:, cv2.CC_STAT_HEIGHT]
        # A run touching the strip's cut edge may go on beyond it: it is no whole run.
        whole = ((ys > 0) | (top == 0)) & ((ys + hs < bottom - top) | (bottom == height))
        widths = run_stats[:, cv2.CC_STAT_WIDTH]
        long_thin = (widths >= 4 * text_height) & (hs <= dot_max + tilt * widths) & whole
        long_thin[0] = False
        # The few leader runs are painted over with the paper's shade each in its own box
        # (not by a whole-page lookup). A dot's soft edge is lighter than the threshold that
        # found it: it is painted over too (a ring left behind reads as a row of "o").
        for i in np.flatnonzero(long_thin):
            found = True
            x, y, rw, rh = run_stats[i, :4]
            x0, y0, x1, y1 = max(0, x - 2), max(0, y - 2), min(width, x + rw + 2), y + rh + 2
            box = (slice(y0 + top, min(height, y1 + top)), slice(x0, x1))
            local = (slice(y0, y1), slice(x0, x1))
            mask = ((run_labels[local] == i) & (dots[local] > 0)).astype(np.uint8)
            mask = cv2.dilate(mask, halo) > 0
            paper = np.percentile(out[box], 90)
            out[box][mask] = np.maximum(out[box][mask], paper)
    return (out, True) if found else (gray, False)


# A mark darker than the paper by this share of the paper-to-ink contrast is ink: a blurred
# leader dot keeps only a third or so of the contrast a letter's stroke has.
FAINT_INK = 0.25


def _paper_and_ink(gray: np.ndarray) -> tuple[float, float]:
    """The page's paper and ink gray levels: the medians of the pixels either side of Otsu's
    threshold, on every fourth pixel of every fourth row."""
    sample = np.ascontiguousarray(gray[::4, ::4])
    level, _ = cv2.threshold(sample, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    counts = np.bincount(sample.ravel(), minlength=256)
    split = int(level) + 1
    below, above = counts[:split].cumsum(), counts[split:].cumsum()
    ink = float(np.searchsorted(below, below[-1] / 2)) if below[-1] else 0.0
    paper = float(split + np.searchsorted(above, above[-1] / 2)) if above[-1] else 255.0
    return paper, ink


def _faint_ink_level(gray: np.ndarray) -> float:
    """The gray level under which a pixel is ink, faint ink included: ``FAINT_INK`` of the
    way from the paper to the ink."""
    paper, ink = _paper_and_ink(gray)
    return paper - FAINT_INK * (paper - ink)


def _component_boxes(bw: np.ndarray, *, in_holes: bool = True) -> np.ndarray:
    """Boxes (x, y, width, height rows) of the 8-connected components of a binary image, the
    boxes ``cv2.connectedComponentsWithStats`` gives them, from their outer contours (tracing
    is much cheaper than labelling a whole page). ``in_holes=False`` leaves out components
    lying in another's hole."""
    # Contours are traced inside a one-pixel frame: the image's own edge pixels count.
    framed = cv2.copyMakeBorder(bw, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    mode = cv2.RETR_CCOMP if in_holes else cv2.RETR_EXTERNAL
    contours, hierarchy = cv2.findContours(framed, mode, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return np.zeros((0, 4), np.int64)
    # Two-level trace: the outer contours are those without a parent.
    outer = hierarchy[0][:, 3] < 0
    boxes = np.array([cv2.boundingRect(c) for c, o in zip(contours, outer, strict=True)
                      if o], np.int64)
    boxes[:, :2] -= 1
    return boxes


def _leader_strips(dots: np.ndarray, page_height: int, dot_max: float, gap: int,
                   min_width: float) -> list[tuple[int, int]]:
    """The bands of rows (top, bottom) that may hold a leader, from the dots' stats rows.

    A leader's dots lie within a dot's height of rows, each within ``gap`` pixels of the next
    along the row, and span ``min_width``. Rows are cut into bands two dot heights tall every
    dot height (a leader lies wholly in one), and a band qualifies when the boxes of the dots
    wholly inside it chain, gaps of at most ``gap``, over ``min_width``: a leader's own dots
    always do. The bands come out widened by three rows (a run's paint box and one row
    beyond it) and merged where they meet, top to bottom.
    """
    s = max(1, int(np.ceil(dot_max)))
    x = dots[:, cv2.CC_STAT_LEFT].astype(np.int64)
    y = dots[:, cv2.CC_STAT_TOP].astype(np.int64)
    end = x + dots[:, cv2.CC_STAT_WIDTH]
    bottom = y + dots[:, cv2.CC_STAT_HEIGHT]
    band = y // s
    # Each dot in the band its top row falls in, and in the one before when it fits there.
    prev = bottom <= band * s + s
    bands = np.concatenate([band, band[prev] - 1])
    xs = np.concatenate([x, x[prev]])
    ends = np.concatenate([end, end[prev]])
    fits = (bands >= 0) & (np.concatenate([bottom, bottom[prev]]) <= bands * s + 2 * s)
    bands, xs, ends = bands[fits], xs[fits], ends[fits]
    if not len(bands):
        return []
    # Bands laid end to end along one line, far enough apart that no chain crosses over.
    offset = bands * (int(ends.max()) + 2 * gap + 2)
    order = np.lexsort((xs, bands))
    starts, stops = xs[order] + offset[order], ends[order] + offset[order]
    reach = np.maximum.accumulate(stops)
    new_chain = np.ones(len(starts), bool)
    new_chain[1:] = starts[1:] - reach[:-1] > gap
    first = starts[new_chain]
    last = np.maximum.reduceat(stops, np.flatnonzero(new_chain))
    wide = np.flatnonzero(last - first >= min_width)
    if not len(wide):
        return []
    chain_band = bands[order][new_chain][wide]
    strips: list[tuple[int, int]] = []
    for b in np.unique(chain_band):
        top, bot = max(0, int(b) * s - 3), min(page_height, int(b) * s + 2 * s + 3)
        if strips and top <= strips[-1][1]:
            strips[-1] = (strips[-1][0], max(strips[-1][1], bot))
        else:
            strips.append((top, bot))
    return strips


def _noise_level(gray: np.ndarray) -> float:
    """Robust noise estimate (median absolute Laplacian on the background)."""
    h, w = gray.shape[:2]
    factor = min(1.0, 1200 / max(h, w))
    small = _shrink(gray, factor)
    # The Laplacian of 8-bit pixels is a whole number of at most 1020: its median is read
    # off a histogram (a full sort of the page's values costs several times more).
    lap = np.abs(cv2.Laplacian(small, cv2.CV_16S)).ravel().view(np.uint16)
    counts = np.cumsum(np.bincount(lap, minlength=1021))
    n = lap.size
    lo = int(np.searchsorted(counts, (n - 1) // 2, side="right"))
    hi = int(np.searchsorted(counts, n // 2, side="right"))
    return (lo + hi) / 2


def denoise(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """Median filter on speckled pages only, so clean pages keep their thin strokes."""
    if _noise_level(gray) < 4.0:
        return gray, False
    return cv2.medianBlur(gray, 3), True


OrientationFn = Callable[[np.ndarray], int]


def clean_page(bgr: np.ndarray, *, dpi_hint: int | None = None,
               orientation: OrientationFn | None = None) -> CleanupResult:
    """The pipeline's cleanup: sheet, gray, resolution, orientation, deskew, light, noise,
    leaders."""
    steps: list[str] = []
    plain = bgr if bgr.ndim == 2 else cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    corners = find_sheet(plain)
    if corners is not None:
        bgr = cut_out_sheet(bgr, corners)
        plain = bgr if bgr.ndim == 2 else cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        steps.append("sheet")
    # The text height is measured before colored marks are sorted (stamps are told from
    # colored print by it); their ink barely moves the measure.
    height = estimate_text_height(plain)
    gray = to_gray_dropping_color_ink(bgr, height, gray=plain)
    gray, scale = normalize_resolution(gray, dpi_hint, height=height)
    if scale != 1.0:
        steps.append(f"resize x{scale:.2f}")
    rotation = 0
    if orientation is not None:
        rotation = orientation(gray) % 360
        if rotation:
            gray = rotate_orthogonal(gray, rotation)
            steps.append(f"rotate {rotation}")
    angle = estimate_skew(gray)
    if abs(angle) >= MIN_DESKEW_DEGREES:
        gray = deskew(gray, angle)
        steps.append(f"deskew {angle:+.2f}")
    else:
        angle = 0.0
    light = measure_light(gray)
    if uneven_light(gray, light):
        gray = flatten_background(gray, light)
        steps.append("light")
    # Specks go first: at the faint level a leader's dots are found at, a noisy page's specks
    # are ink too, as many as a hundred thousand of them.
    gray, denoised = denoise(gray)
    if denoised:
        steps.append("denoise")
    gray, unleadered = remove_dotted_leaders(
        gray, TARGET_TEXT_HEIGHT if height is None else float(np.clip(height * scale, 12, 60)))
    if unleadered:
        steps.append("leaders")
    dpi = int(round((dpi_hint or 300) * scale)) if dpi_hint else 300
    log.debug("cleanup steps: %s", "; ".join(steps) or "none")
    return CleanupResult(image=gray, rotation=rotation, skew_angle=angle, scale=scale,
                         dpi=max(70, min(dpi, 1200)), steps=steps)
