"""An identity card found in a page image by its shape, whatever OCR makes of its text.

A card copied by fax, photographed badly or printed small on an A4 sheet often reads as a few
garbled words; its outline does not change. The page's ink (what differs from the paper),
merged into blobs, shows a card as one blob of the ID-1 format (85.6 x 54 mm, 1.586) that holds
nearly all of the page's content; a card's front carries a portrait photo at its left end,
below the heading, a solid region text never makes. Cheap: a few milliseconds a page, on a
reduced copy of the image.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.ocr import CardShape

__all__ = ["find_card"]

_WORK = 480  # long side of the reduced copy the search runs on, pixels
_CARD_ASPECT = (1.45, 1.95)  # ID-1 is 1.586; its printed content, without the bottom margin, up to 1.85
_INK = 40  # grey levels below the paper that count as ink
_HOLDS = 0.85  # share of the page's ink (away from the borders) the card must hold
_FILLED = 0.8  # the ink's hull over its rotated rectangle: a rectangle, not an L or a ring
_PAGE_ASPECT = 1.8  # the most a page that is a card's scan or photo has
_GROUP = 0.04  # gaps between a card's parts, as a share of the page's long side
_FILLS = 0.7  # a card filling the page spans at least this share of its long side
_ON_SHEET = 0.55  # a card on a sheet spans at most this share of the sheet's short side
# The portrait photo on a card lying long side across, as shares of the card's width and
# height: its box's centre and size (a 2021 chip card: 3-29 % across, 27-73 % down).
_PHOTO_X = (0.04, 0.32)
_PHOTO_Y = (0.38, 0.68)
_PHOTO_W = (0.1, 0.33)
_PHOTO_H = (0.25, 0.6)
_PHOTO_FILL = 0.53  # a head and shoulders cover about 0.57 of their box; a phone shot of a back's
# fingerprints and machine-readable zone merged by the background, less
_CANON = (320, 202)  # the card's reduced copy, long side across


def _ink(gray: np.ndarray) -> np.ndarray:
    """What differs from the paper: darker than the page's bright level by ``_INK``."""
    paper = float(np.percentile(gray, 90))
    return (cv2.medianBlur(gray, 3) < paper - _INK).astype(np.uint8)


def _away_from_border(ink: np.ndarray) -> np.ndarray:
    """The ink without the blobs touching the image's edge (scanner borders, shadows, the
    table a card lies on)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    h, w = ink.shape
    x, y, bw, bh = (stats[:, i] for i in range(4))
    edge = (x <= 1) | (y <= 1) | (x + bw >= w - 1) | (y + bh >= h - 1)
    edge[0] = True  # the background
    keep = ~edge
    return keep[labels].astype(np.uint8)


def _photo_end(card: np.ndarray) -> bool:
    """Whether a card image (long side across) shows a portrait photo at its left end: a solid
    region of the photo's size and place once thin strokes (text, guilloche, seals) are
    opened away."""
    card = np.ascontiguousarray(card)
    h, w = card.shape
    paper = float(np.percentile(card, 75))
    ink = (card < paper - _INK).astype(np.uint8)
    k = max(3, round(w * 0.022)) | 1
    kernel = np.ones((k, k), np.uint8)
    # Opening drops the strokes; closing joins back a head and shoulders it parted at the neck.
    solid = cv2.morphologyEx(cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE,
                             kernel)
    n, _, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    for x, y, bw, bh, area in stats[1:]:
        cx, cy = (x + bw / 2) / w, (y + bh / 2) / h
        if (_PHOTO_X[0] <= cx <= _PHOTO_X[1] and _PHOTO_Y[0] <= cy <= _PHOTO_Y[1]
                and _PHOTO_W[0] <= bw / w <= _PHOTO_W[1] and _PHOTO_H[0] <= bh / h <= _PHOTO_H[1]
                and bh >= bw and area >= _PHOTO_FILL * bw * bh):
            return True
    return False


def find_card(image: np.ndarray) -> CardShape | None:
    """The ID-1 card a page image shows, filling it or lying on a larger sheet, or ``None``."""
    image = np.ascontiguousarray(image)
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    # Every n-th pixel down to twice the working size, then averaged: a full-page area
    # resize would cost more than all the rest.
    step = max(1, max(gray.shape) // (2 * _WORK))
    if step > 1:
        gray = cv2.resize(gray, (gray.shape[1] // step, gray.shape[0] // step),
                          interpolation=cv2.INTER_NEAREST)
    scale = _WORK / max(gray.shape)
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    scale /= step  # from the page's pixels to the working copy's
    h, w = small.shape
    if _CARD_ASPECT[0] <= max(h, w) / min(h, w) <= _PAGE_ASPECT:
        # The page may be the card itself: its photo tells.
        card = cv2.resize(small if w >= h else cv2.rotate(small, cv2.ROTATE_90_CLOCKWISE),
                          _CANON, interpolation=cv2.INTER_AREA)
        if _photo_end(card) or _photo_end(card[::-1, ::-1]):
            return CardShape(bbox=(0, 0, image.shape[1], image.shape[0]),
                             aspect=round(max(h, w) / min(h, w), 3), photo=True)
    ink = _away_from_border(_ink(small))
    total = int(ink.sum())
    if total == 0:
        return None
    # A card's parts (heading, photo, lines of text) lie close together: grouped by a wide
    # dilation, the group with the most ink is the card's candidate; its outline is the hull
    # of that ink.
    k = max(5, round(max(h, w) * _GROUP)) | 1
    n, labels = cv2.connectedComponents(cv2.dilate(ink, np.ones((k, k), np.uint8)))
    if n < 2:
        return None
    per_group = np.bincount(labels[ink > 0], minlength=n)
    best = int(np.argmax(per_group[1:])) + 1
    if per_group[best] < _HOLDS * total:
        return None
    outlines, _ = cv2.findContours(((labels == best) & (ink > 0)).astype(np.uint8),
                                   cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(np.concatenate(outlines))
    (cx, cy), (rw, rh), angle = cv2.minAreaRect(hull)
    long, short = max(rw, rh), min(rw, rh)
    if short < 8 or not _CARD_ASPECT[0] <= long / short <= _CARD_ASPECT[1]:
        return None
    if cv2.contourArea(hull) < _FILLED * rw * rh:
        return None
    # Filling the page, or small on a sheet: a form's text, even a short last page's, spans
    # most of a sheet's width and so is neither.
    fills = long >= _FILLS * max(h, w)
    if not fills and long > _ON_SHEET * min(h, w):
        return None
    # The card straightened, long side across, at a fixed size; a front's photo is at the
    # left end, or at the right one when the card lies upside down.
    box = cv2.boxPoints(((cx, cy), (rw, rh), angle)).astype(np.float32)
    if np.linalg.norm(box[1] - box[0]) > np.linalg.norm(box[2] - box[1]):
        box = np.roll(box, -1, axis=0)  # box[0] -> box[1] runs along a short side
    cw, ch = _CANON
    dst = np.array([[0, ch - 1], [0, 0], [cw - 1, 0], [cw - 1, ch - 1]], np.float32)
    card = cv2.warpPerspective(small, cv2.getPerspectiveTransform(box, dst), (cw, ch),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    photo = _photo_end(card) or _photo_end(card[::-1, ::-1])
    if fills and not photo:
        return None  # a form's text block has a card's proportions too; its photo tells a card
    x0, y0 = box.min(axis=0) / scale
    x1, y1 = box.max(axis=0) / scale
    return CardShape(bbox=(max(0, int(x0)), max(0, int(y0)), int(x1), int(y1)),
                     aspect=round(long / short, 3), photo=photo)
