"""Scan and photo degradations, each parameterized and drawn from the seed.

Order follows the physical process: marks on the paper, lighting and scanner artifacts,
sampling at the scan resolution, then geometry (skew, orientation, phone perspective), then
sensor noise, blur and compression. Word boxes follow the resampling only: they stay in the
frame of the clean page at the final dpi, before any geometric change.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from . import artwork
from .canvas import Canvas, render_raster
from .fonts import FontFamily

__all__ = ["LEVELS", "DegradePlan", "ScannedPage", "apply_plan", "plan_degradations", "add_overlays"]

LEVELS = ("clean", "light", "mixed", "heavy")


@dataclass
class DegradePlan:
    level: str
    dpi: int = 300
    skew_deg: float = 0.0
    rotation: int = 0
    names: list[str] = field(default_factory=list)
    params: dict[str, float] = field(default_factory=dict)


@dataclass
class ScannedPage:
    image: Image.Image  # final pixels as stored
    dpi: int
    words: list[tuple[str, tuple[int, int, int, int]]]
    text: str
    plan: DegradePlan
    frame: tuple[int, int]  # width, height of the word-box frame (clean page at final dpi)


def plan_degradations(rng: random.Random, level: str, *, card: bool = False) -> DegradePlan:
    """Decide which degradations a page gets and their strength."""
    if level not in LEVELS:
        raise ValueError(f"unknown degradation level {level!r}; expected one of {', '.join(LEVELS)}")
    if level == "mixed":
        level = rng.choices(("clean", "light", "heavy"), weights=(0.2, 0.5, 0.3))[0]
    p = DegradePlan(level=level)
    if level == "clean":
        return p
    add = p.names.append
    if level == "light":
        p.dpi = rng.choice((200, 240, 300, 300))
        if rng.random() < 0.6:
            p.skew_deg = round(rng.uniform(-1.5, 1.5), 2)
        if rng.random() < 0.5:
            add("noise")
            p.params["noise_sigma"] = round(rng.uniform(2, 6), 2)
        if rng.random() < 0.4:
            add("jpeg")
            p.params["jpeg_quality"] = rng.randint(70, 92)
        if rng.random() < 0.25:
            add("shadow")
            p.params["shadow_strength"] = round(rng.uniform(0.05, 0.15), 3)
        if rng.random() < 0.2 and not card:
            add("seal_over_text")
        if rng.random() < 0.2 and not card:
            add("signature_over_text")
    else:
        p.dpi = rng.choice((100, 150, 150, 200, 200, 300))
        p.skew_deg = round(rng.uniform(-8, 8), 2)
        if rng.random() < 0.35:
            p.rotation = rng.choice((90, 180, 270))
        add("noise")
        p.params["noise_sigma"] = round(rng.uniform(6, 14), 2)
        add("jpeg")
        p.params["jpeg_quality"] = rng.randint(30, 70)
        if rng.random() < 0.5:
            add("blur")
            p.params["blur_sigma"] = round(rng.uniform(0.6, 1.4), 2)
        if rng.random() < 0.5:
            add("shadow")
            p.params["shadow_strength"] = round(rng.uniform(0.15, 0.4), 3)
        if rng.random() < 0.4 and not card:
            add("seal_over_text")
        if rng.random() < 0.3:
            add("signature_over_text")
        r = rng.random()
        if r < 0.25:
            add("phone_photo")
            p.skew_deg = 0.0
        elif r < 0.4 and not card:
            add("bilevel_fax")
            p.dpi = 200
            p.names.remove("jpeg")
            p.params.pop("jpeg_quality")
        if "phone_photo" not in p.names:
            if rng.random() < 0.5:
                add("scanner_border")
            if rng.random() < 0.35 and not card:
                add("punch_holes")
    if p.skew_deg:
        add("skew")
    if p.rotation:
        add("rotation")
    if p.dpi != 300:
        add("resample")
    p.names.sort()
    return p


def add_overlays(canvas: Canvas, plan: DegradePlan, rng: random.Random, family: FontFamily) -> None:
    """Marks added on the paper after printing: a stamp or pen strokes over body text."""
    words = canvas.words()
    if not words:
        return
    if "seal_over_text" in plan.names:
        w = words[rng.randrange(len(words))]
        s = artwork.seal(rng, "ĐÃ TIẾP NHẬN HỒ SƠ * BỘ PHẬN MỘT CỬA *", family,
                         diameter=int(min(canvas.width, canvas.height) * rng.uniform(0.14, 0.2)),
                         inner_text=rng.choice(("ĐÃ NHẬN", "SAO Y", "ĐÃ ĐỐI CHIẾU")))
        canvas.image(s, w.bbox[0] - s.width / 2, w.bbox[1] - s.height / 2)
    if "signature_over_text" in plan.names:
        w = words[rng.randrange(len(words))]
        g = artwork.signature(rng, width=int(canvas.width * 0.15), height=int(canvas.width * 0.06))
        canvas.image(g, w.bbox[0] - g.width / 3, w.bbox[1] - g.height / 3)


def _shadow(a: np.ndarray, rng: random.Random, strength: float) -> np.ndarray:
    h, w = a.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(-0.3, 1.3) * w, rng.uniform(-0.3, 1.3) * h
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / np.hypot(w, h)
    light = 1.0 - strength * np.clip(d * 1.6, 0, 1)
    if rng.random() < 0.5:  # a soft band, as from a book spine or the scanner lid
        x0 = rng.uniform(0, w)
        light *= 1.0 - strength * 0.8 * np.exp(-((xx - x0) / (w * 0.06)) ** 2)
    return a * light[..., None]


def _border(a: np.ndarray, rng: random.Random) -> np.ndarray:
    h, w = a.shape[:2]
    out = a.copy()
    for side in ("top", "bottom", "left", "right"):
        if rng.random() < 0.6:
            t = int(rng.uniform(0.005, 0.025) * (h if side in ("top", "bottom") else w))
            val = rng.uniform(15, 60)
            if side == "top":
                out[:t] = val
            elif side == "bottom":
                out[h - t:] = val
            elif side == "left":
                out[:, :t] = val
            else:
                out[:, w - t:] = val
    return out


def _punch_holes(a: np.ndarray, rng: random.Random) -> np.ndarray:
    h, w = a.shape[:2]
    r = int(w * 0.024)
    x = int(w * rng.uniform(0.025, 0.045))
    out = np.ascontiguousarray(a)
    gap = int(h * 0.17) if rng.random() < 0.5 else int(h * 0.23)
    for cy in (h // 2 - gap // 2, h // 2 + gap // 2):
        cv2.circle(out, (x, cy), r, (35.0, 35.0, 35.0), -1, lineType=cv2.LINE_AA)
    return out


def _phone(a: np.ndarray, rng: random.Random) -> np.ndarray:
    h, w = a.shape[:2]
    gen = np.random.default_rng(rng.getrandbits(32))
    base = np.array([rng.uniform(60, 140), rng.uniform(50, 120), rng.uniform(40, 100)], dtype=np.float32)
    tex = gen.normal(0, 1, (h // 16 + 1, w // 16 + 1)).astype(np.float32)
    tex = cv2.resize(tex, (w, h), interpolation=cv2.INTER_CUBIC)[..., None] * 12
    bg = np.clip(base[None, None, :] + tex, 0, 255)
    m = 0.08
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jit = lambda: rng.uniform(0.0, m)  # noqa: E731
    dst = np.float32([[w * jit(), h * jit()], [w * (1 - jit()), h * jit()],
                      [w * (1 - jit()), h * (1 - jit())], [w * jit(), h * (1 - jit())]])
    M = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(a, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=(0, 0, 0))
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), M, (w, h))[..., None]
    out = warped * mask + bg * (1 - mask)
    # warm cast and vignette of a phone camera
    out *= np.array([rng.uniform(0.95, 1.0), rng.uniform(0.92, 0.98), rng.uniform(0.82, 0.92)], np.float32)
    return _shadow(out, rng, rng.uniform(0.15, 0.3))


def apply_plan(canvas: Canvas, plan: DegradePlan, rng: random.Random) -> ScannedPage:
    """Rasterize and degrade one page; returns pixels, dpi and word boxes in the clean frame."""
    base = 2.0 if plan.dpi > 300 else 1.0  # render large cards directly at 600 dpi
    img = render_raster(canvas, base)
    a = np.asarray(img, dtype=np.float32)
    names = plan.names
    if "shadow" in names:
        a = _shadow(a, rng, plan.params["shadow_strength"])
    if "scanner_border" in names:
        a = _border(a, rng)
    if "punch_holes" in names:
        a = _punch_holes(a, rng)
    scale = plan.dpi / 300
    h, w = a.shape[:2]
    fw, fh = max(1, round(canvas.width * scale)), max(1, round(canvas.height * scale))
    if (fw, fh) != (w, h):
        a = cv2.resize(a, (fw, fh), interpolation=cv2.INTER_AREA)
    bilevel = "bilevel_fax" in names
    if bilevel:
        g = cv2.cvtColor(np.clip(a, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
        half = cv2.resize(g, (fw, max(1, fh // 2)), interpolation=cv2.INTER_AREA)  # 200 x 100 dpi
        _, bw = cv2.threshold(half, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        g = cv2.resize(bw, (fw, fh), interpolation=cv2.INTER_NEAREST)
        a = np.repeat(g[..., None].astype(np.float32), 3, axis=2)
    if plan.skew_deg:
        fill = 255.0
        M = cv2.getRotationMatrix2D((fw / 2, fh / 2), plan.skew_deg, 1.0)
        a = cv2.warpAffine(a, M, (fw, fh), flags=cv2.INTER_NEAREST if bilevel else cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(fill, fill, fill))
    if "phone_photo" in names:
        a = _phone(a, rng)
    if plan.rotation:
        k = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}[plan.rotation]
        a = cv2.rotate(np.ascontiguousarray(a), k)
    if "blur" in names:
        a = cv2.GaussianBlur(a, (0, 0), plan.params["blur_sigma"] * scale + 0.3)
    if "noise" in names and not bilevel:
        gen = np.random.default_rng(rng.getrandbits(32))
        a = a + gen.normal(0, plan.params["noise_sigma"], a.shape[:2])[..., None].astype(np.float32)
    out = np.clip(a + 0.5, 0, 255).astype(np.uint8)
    if bilevel:
        image = Image.fromarray(out[..., 0]).convert("1")
    else:
        image = Image.fromarray(out)
        if "jpeg" in names:
            import io

            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=int(plan.params["jpeg_quality"]))
            image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    words = [(wd.text, (max(0, int(wd.bbox[0] * scale)), max(0, int(wd.bbox[1] * scale)),
                        min(fw, int(np.ceil(wd.bbox[2] * scale))), min(fh, int(np.ceil(wd.bbox[3] * scale)))))
             for wd in canvas.words()]
    return ScannedPage(image=image, dpi=plan.dpi, words=words, text=canvas.text_content(), plan=plan,
                       frame=(fw, fh))
