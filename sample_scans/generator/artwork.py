"""Raster artwork: red round seals, blue-ink signatures, the emblem, photos, codes, backgrounds."""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .fonts import FontFamily, load_font

__all__ = [
    "barcode",
    "chip",
    "code128",
    "damage_code",
    "emblem",
    "fingerprint",
    "guilloche",
    "photo_placeholder",
    "qr_like",
    "qr_code",
    "seal",
    "signature",
]

SEAL_RED = (205, 30, 40)
INK_BLUE = (25, 45, 150)


def _ink_texture(img: Image.Image, rng: random.Random, strength: float) -> Image.Image:
    """Uneven ink: thin out the alpha channel in blotches, like a real stamp."""
    a = np.asarray(img.getchannel("A"), dtype=np.float32)
    gen = np.random.default_rng(rng.getrandbits(32))
    small = gen.random((max(2, img.height // 24), max(2, img.width // 24))).astype(np.float32)
    blot = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize(img.size, Image.Resampling.BICUBIC),
                      dtype=np.float32) / 255.0
    a = a * np.clip(1.0 - strength * blot, 0.25, 1.0)
    img.putalpha(Image.fromarray(a.astype(np.uint8)))
    return img


def seal(rng: random.Random, text: str, family: FontFamily, diameter: int = 440,
         inner_text: str = "") -> Image.Image:
    """Round red seal with the agency name around the ring and a star in the middle."""
    size = diameter
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    c = size / 2
    col = (*SEAL_RED, 235)
    d.ellipse([6, 6, size - 6, size - 6], outline=col, width=max(5, size // 45))
    r2 = size * 0.33
    d.ellipse([c - r2, c - r2, c + r2, c + r2], outline=col, width=max(3, size // 90))
    # star
    pts = []
    rs = size * 0.12
    for i in range(10):
        ang = -math.pi / 2 + i * math.pi / 5
        rr = rs if i % 2 == 0 else rs * 0.4
        pts.append((c + rr * math.cos(ang), c - size * 0.07 + rr * math.sin(ang)))
    d.polygon(pts, fill=col)
    if inner_text:
        f = load_font(family.bold, size * 0.055)
        d.text((c, c + size * 0.13), inner_text, font=f, fill=col, anchor="mm")
    # ring text
    f = load_font(family.bold, size * 0.075)
    radius = size * 0.40
    chars = list(text)
    widths = [f.getlength(ch) for ch in chars]
    total = sum(widths) + 0.5 * f.getlength(" ") * len(chars)
    span = min(total / radius, 2 * math.pi * 0.92)
    scale = span / (total / radius)
    ang = -math.pi / 2 - span / 2
    for ch, w in zip(chars, widths, strict=True):
        step = (w + 0.5 * f.getlength(" ")) / radius * scale
        mid = ang + step / 2
        glyph = Image.new("RGBA", (int(size * 0.14), int(size * 0.14)), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((glyph.width / 2, glyph.height / 2), ch, font=f, fill=col, anchor="mm")
        glyph = glyph.rotate(-math.degrees(mid) - 90, resample=Image.Resampling.BICUBIC)
        gx = c + radius * math.cos(mid) - glyph.width / 2
        gy = c + radius * math.sin(mid) - glyph.height / 2
        img.alpha_composite(glyph, (int(gx), int(gy)))
        ang += step
    img = img.rotate(rng.uniform(-25, 25), resample=Image.Resampling.BICUBIC)
    return _ink_texture(img, rng, 0.6)


def signature(rng: random.Random, width: int = 420, height: int = 170) -> Image.Image:
    """A blue-ink signature: a few smooth pen strokes with a flourish underline."""
    scale = 2
    img = Image.new("RGBA", (width * scale, height * scale), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    col = (*INK_BLUE, 240)
    pen = rng.randint(4, 7) * scale // 2 + 2
    x = width * scale * 0.08
    base = height * scale * 0.6
    for _ in range(rng.randint(2, 4)):
        n = rng.randint(4, 8)
        pts = []
        for i in range(n * 6):
            t = i / 6
            x += rng.uniform(3, 9) * scale * 0.9
            y = base + math.sin(t * rng.uniform(1.5, 3.0)) * height * scale * rng.uniform(0.15, 0.32)
            pts.append((x, y))
        if len(pts) > 1:
            d.line(pts, fill=col, width=pen, joint="curve")
        x += rng.uniform(5, 20) * scale
    x0 = width * scale * rng.uniform(0.05, 0.2)
    x1 = min(width * scale * 0.95, x + 20)
    yb = height * scale * rng.uniform(0.72, 0.85)
    flourish = [(x0 + (x1 - x0) * t / 20, yb + math.sin(t / 20 * math.pi) * 12 * scale * rng.uniform(-1, 1))
                for t in range(21)]
    d.line(flourish, fill=col, width=max(2, pen - 2), joint="curve")
    img = img.filter(ImageFilter.GaussianBlur(0.8)).resize((width, height), Image.Resampling.LANCZOS)
    return img.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BICUBIC)


def emblem(diameter: int) -> Image.Image:
    """Circular national-emblem placeholder: gold ring, red disc, yellow star."""
    img = Image.new("RGBA", (diameter, diameter), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.ellipse([0, 0, diameter - 1, diameter - 1], fill=(214, 170, 60, 255))
    m = diameter * 0.12
    d.ellipse([m, m, diameter - m, diameter - m], fill=(200, 35, 40, 255))
    c, rs = diameter / 2, diameter * 0.26
    pts = []
    for i in range(10):
        ang = -math.pi / 2 + i * math.pi / 5
        rr = rs if i % 2 == 0 else rs * 0.4
        pts.append((c + rr * math.cos(ang), c + rr * math.sin(ang)))
    d.polygon(pts, fill=(250, 220, 60, 255))
    return img


def photo_placeholder(w: int, h: int, rng: random.Random) -> Image.Image:
    """Grey head-and-shoulders silhouette on a light background."""
    bg = rng.choice([(225, 230, 238), (236, 236, 236), (214, 226, 240)])
    img = Image.new("RGBA", (w, h), (*bg, 255))
    d = ImageDraw.Draw(img)
    grey = rng.randint(110, 150)
    col = (grey, grey, grey, 255)
    d.ellipse([w * 0.1, h * 0.68, w * 0.9, h * 1.3], fill=col)
    d.ellipse([w * 0.3, h * 0.18, w * 0.7, h * 0.68], fill=col)
    d.rectangle([0, 0, w - 1, h - 1], outline=(150, 150, 150, 255), width=2)
    return img


def barcode(w: int, h: int, rng: random.Random) -> Image.Image:
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    x = 0
    while x < w:
        bw = rng.choice((2, 2, 3, 5))
        if rng.random() < 0.55:
            d.rectangle([x, 0, x + bw - 1, h], fill=(0, 0, 0, 255))
        x += bw
    return img


def qr_like(size: int, rng: random.Random, modules: int = 29) -> Image.Image:
    """A QR-looking module grid with the three finder squares."""
    m = np.array([[rng.random() < 0.5 for _ in range(modules)] for _ in range(modules)], dtype=bool)
    for oy, ox in ((0, 0), (0, modules - 7), (modules - 7, 0)):
        m[oy:oy + 7, ox:ox + 7] = False
        m[oy:oy + 7, ox] = m[oy:oy + 7, ox + 6] = True
        m[oy, ox:ox + 7] = m[oy + 6, ox:ox + 7] = True
        m[oy + 2:oy + 5, ox + 2:ox + 5] = True
    arr = np.where(m, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr).resize((size, size), Image.Resampling.NEAREST).convert("RGBA")
    return img


def chip(w: int, h: int) -> Image.Image:
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([0, 0, w - 1, h - 1], radius=w // 6, fill=(205, 170, 90, 255),
                        outline=(150, 120, 60, 255), width=3)
    for fx in (0.33, 0.67):
        d.line([(w * fx, 0), (w * fx, h)], fill=(150, 120, 60, 255), width=3)
    d.line([(0, h / 2), (w, h / 2)], fill=(150, 120, 60, 255), width=3)
    return img


def fingerprint(w: int, h: int, rng: random.Random) -> Image.Image:
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    cx, cy = w / 2 + rng.uniform(-8, 8), h / 2 + rng.uniform(-8, 8)
    for i in range(2, 30):
        rx, ry = i * w / 62, i * h / 58
        d.arc([cx - rx, cy - ry, cx + rx, cy + ry], rng.uniform(0, 60), rng.uniform(250, 360),
              fill=(70, 70, 70, 220), width=3)
    return img


def guilloche(w: int, h: int, rng: random.Random, tint: tuple[int, int, int]) -> Image.Image:
    """Pale wavy security background of an ID card."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f1, f2 = rng.uniform(0.02, 0.04), rng.uniform(0.015, 0.03)
    wave = np.sin(xx * f1 + 6 * np.sin(yy * f2)) * np.sin(yy * f1 * 0.8 + 4 * np.sin(xx * f2))
    mix = (0.5 + 0.5 * wave)[..., None] * 0.12
    base = np.array(tint, dtype=np.float32)[None, None, :]
    arr = base * (1 - mix) + np.array([255, 255, 255], dtype=np.float32) * mix
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).convert("RGBA")


def qr_code(payload: str, size: int, quiet: int = 2) -> Image.Image:
    """A real, decodable QR code (error correction M) on white, with a quiet zone."""
    import zxingcpp

    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, options="ecLevel=M")
    m = np.array(code.to_image(scale=1))
    m = np.pad(m, quiet, constant_values=255)
    return Image.fromarray(m).resize((size, size), Image.Resampling.NEAREST).convert("RGBA")


def code128(text: str, w: int, h: int) -> Image.Image:
    """A real, decodable Code 128 barcode stretched to w x h, on white with quiet zones."""
    import zxingcpp

    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.Code128)
    row = np.array(code.to_image(scale=1))[0]
    row = np.pad(row, 10, constant_values=255)
    bars = Image.fromarray(np.tile(row, (8, 1)))
    return bars.resize((w, h), Image.Resampling.NEAREST).convert("RGBA")


def damage_code(img: Image.Image, rng: random.Random) -> Image.Image:
    """A worn or scratched code: a band and blotches of card colour over a good part of it,
    more than its error correction can restore."""
    out = img.copy()
    d = ImageDraw.Draw(out)
    w, h = out.size
    y = rng.uniform(0.25, 0.55) * h
    d.rectangle([0, y, w, y + rng.uniform(0.2, 0.3) * h], fill=(236, 236, 230, 255))
    for _ in range(3):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.08, 0.15) * w
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(230, 230, 222, 255))
    return out
