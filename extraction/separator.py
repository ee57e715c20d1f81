"""Separator sheets: a printed page with a QR code (and the same text as a Code 128 barcode)
that a scanning station puts between dossiers of one scanned stack, as patch-code or barcode
sheets are used with production scanners. The pipeline recognizes it by its code alone."""

from __future__ import annotations

from pathlib import Path

from models.ocr import PageOCR

__all__ = ["SEPARATOR_TEXT", "is_separator", "split_stack", "render_separator_sheet"]

SEPARATOR_TEXT = "DOSSIER-SEPARATOR/1"
_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
_FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def is_separator(page: PageOCR) -> bool:
    """Does the page carry the separator sheet's code?"""
    return any(c.text.startswith("DOSSIER-SEPARATOR/") for c in page.codes)


def split_stack(pages: list[PageOCR]) -> list[list[int]]:
    """Page indexes of each dossier of a scanned stack, cut at separator sheets (which belong
    to no dossier). A stack without separators is one dossier."""
    out: list[list[int]] = [[]]
    for i, p in enumerate(pages):
        if is_separator(p):
            if out[-1]:
                out.append([])
            continue
        out[-1].append(i)
    return [d for d in out if d]


def render_separator_sheet(target: Path, *, label: str = "") -> Path:
    """A printable A4 separator sheet (PDF, 300 dpi): a large QR code and a Code 128 barcode
    of :data:`SEPARATOR_TEXT`, with instructions in Vietnamese and English."""
    import zxingcpp
    from PIL import Image, ImageDraw, ImageFont

    w, h = 2480, 3508
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    title = ImageFont.truetype(_FONT_BOLD, 110)
    sub = ImageFont.truetype(_FONT, 60)
    small = ImageFont.truetype(_FONT, 48)
    d.text((w / 2, 300), "TỜ PHÂN CÁCH HỒ SƠ", font=title, fill=0, anchor="mm")
    d.text((w / 2, 440), "DOSSIER SEPARATOR SHEET", font=sub, fill=0, anchor="mm")
    qr = zxingcpp.create_barcode(SEPARATOR_TEXT, zxingcpp.BarcodeFormat.QRCode,
                                 options="ecLevel=H")
    qimg = Image.fromarray(_pad(qr.to_image(scale=1), 2)).resize((1100, 1100),
                                                                 Image.Resampling.NEAREST)
    img.paste(qimg, ((w - 1100) // 2, 650))
    bar = zxingcpp.create_barcode(SEPARATOR_TEXT, zxingcpp.BarcodeFormat.Code128)
    bars = _pad(bar.to_image(scale=1), 0)
    row = _pad(bars[bars.shape[0] // 2][None, :], 20)[20]
    bimg = Image.fromarray(row[None, :].repeat(8, axis=0)).resize((1800, 260),
                                                                  Image.Resampling.NEAREST)
    img.paste(bimg, ((w - 1800) // 2, 1950))
    lines = [
        "Đặt tờ này giữa hai hồ sơ trong cùng một tập giấy quét.",
        "Trang này không được lưu; các trang sau nó thuộc hồ sơ kế tiếp.",
        "Put this sheet between two dossiers of one scanned stack.",
        "It is not stored; the pages after it belong to the next dossier.",
        "Print at 100 % on plain A4; do not fold across the codes.",
    ]
    y = 2420
    for line in lines:
        d.text((w / 2, y), line, font=small, fill=0, anchor="mm")
        y += 90
    if label:
        d.text((w / 2, y + 120), label, font=sub, fill=0, anchor="mm")
    target.parent.mkdir(parents=True, exist_ok=True)
    img.save(target, "PDF", resolution=300.0)
    return target


def _pad(image, n: int):
    import numpy as np

    return np.pad(np.array(image), n, constant_values=255)
