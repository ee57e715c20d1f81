"""A page as a display list: drawing operations plus the words they print.

The same list is rasterized with Pillow (scanned pages) or written as vector PDF with a
real text layer (born-digital pages), so both carry identical text and word boxes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw

from .data import nfc
from .fonts import FontSpec, load_font

__all__ = ["A4_300", "Canvas", "Word", "render_raster", "render_pdf_page"]

A4_300 = (2480, 3508)  # A4 at 300 dpi, pixels
Color = tuple[int, int, int]
BLACK: Color = (0, 0, 0)


@dataclass
class Word:
    text: str
    bbox: tuple[float, float, float, float]


@dataclass
class Canvas:
    width: int
    height: int
    background: Color = (255, 255, 255)
    ops: list[tuple[Any, ...]] = field(default_factory=list)
    lines: list[list[Word]] = field(default_factory=list)
    _open_line: list[Word] | None = None

    # ---- text -----------------------------------------------------------------------------
    @staticmethod
    def measure(text: str, font: FontSpec) -> float:
        return float(load_font(font.path, font.size).getlength(nfc(text)))

    def text(self, x: float, y: float, text: str, font: FontSpec, fill: Color = BLACK,
             align: str = "left", record: bool = True) -> float:
        """Draw `text` with its baseline at y; returns the x where it ends."""
        text = nfc(" ".join(text.split()))
        if not text:
            return x
        w = self.measure(text, font)
        if align == "center":
            x -= w / 2
        elif align == "right":
            x -= w
        self.ops.append(("text", x, y, text, font, fill))
        if record:
            pil_font = load_font(font.path, font.size)
            words: list[Word] = []
            pos = 0
            for token in text.split(" "):
                start = text.index(token, pos)
                pos = start + len(token)
                wx = x + pil_font.getlength(text[:start])
                b = pil_font.getbbox(token, anchor="ls")
                words.append(Word(token, (wx + b[0], y + b[1], wx + b[2], y + b[3])))
            if self._open_line is not None:
                self._open_line.extend(words)
            else:
                self.lines.append(words)
        return x + w

    @contextlib.contextmanager
    def text_line(self) -> Iterator[None]:
        """Group the text drawn inside into one line of the page text, in drawing order."""
        outer = self._open_line
        if outer is not None:
            yield
            return
        self._open_line = []
        try:
            yield
        finally:
            if self._open_line:
                self.lines.append(self._open_line)
            self._open_line = None

    def wrap(self, text: str, font: FontSpec, width: float, first_width: float | None = None) -> list[str]:
        """Greedy word wrap; the first line may be shorter (it follows a label)."""
        out: list[str] = []
        cur = ""
        limit = first_width if first_width is not None else width
        for word in nfc(text).split():
            cand = f"{cur} {word}" if cur else word
            if cur and self.measure(cand, font) > limit:
                out.append(cur)
                cur = word
                limit = width
            else:
                cur = cand
        if cur:
            out.append(cur)
        return out

    # ---- graphics -------------------------------------------------------------------------
    def line(self, x0: float, y0: float, x1: float, y1: float, width: float = 3, fill: Color = BLACK) -> None:
        self.ops.append(("line", x0, y0, x1, y1, width, fill))

    def rect(self, box: tuple[float, float, float, float], outline: Color | None = BLACK,
             width: float = 3, fill: Color | None = None) -> None:
        self.ops.append(("rect", tuple(box), outline, width, fill))

    def ellipse(self, box: tuple[float, float, float, float], outline: Color | None = BLACK,
                width: float = 3, fill: Color | None = None) -> None:
        self.ops.append(("ellipse", tuple(box), outline, width, fill))

    def dotted(self, x0: float, x1: float, y: float, fill: Color = (70, 70, 70), spacing: float = 12,
               radius: float = 1.5) -> None:
        """A dotted leader from x0 to x1 at height y."""
        if x1 - x0 > spacing:
            self.ops.append(("dots", x0, x1, y, spacing, radius, fill))

    def image(self, img: Image.Image, x: float, y: float, w: float | None = None,
              h: float | None = None) -> None:
        self.ops.append(("image", img.convert("RGBA"), x, y, w or img.width, h or img.height))

    # ---- composition ----------------------------------------------------------------------
    def place(self, other: Canvas, dx: float, dy: float) -> None:
        """Draw another canvas (e.g. an ID card) onto this one at (dx, dy)."""
        self.ops.append(("rect", (dx, dy, dx + other.width, dy + other.height), None, 0, other.background))
        for op in other.ops:
            self.ops.append(_translate(op, dx, dy))
        for line in other.lines:
            self.lines.append([Word(w.text, (w.bbox[0] + dx, w.bbox[1] + dy, w.bbox[2] + dx, w.bbox[3] + dy))
                               for w in line])

    def text_content(self) -> str:
        return "\n".join(" ".join(w.text for w in line) for line in self.lines)

    def words(self) -> list[Word]:
        return [w for line in self.lines for w in line]


def _translate(op: tuple[Any, ...], dx: float, dy: float) -> tuple[Any, ...]:
    kind = op[0]
    if kind == "text":
        return ("text", op[1] + dx, op[2] + dy, *op[3:])
    if kind == "line":
        return ("line", op[1] + dx, op[2] + dy, op[3] + dx, op[4] + dy, *op[5:])
    if kind in ("rect", "ellipse"):
        b = op[1]
        return (kind, (b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy), *op[2:])
    if kind == "dots":
        return ("dots", op[1] + dx, op[2] + dx, op[3] + dy, *op[4:])
    if kind == "image":
        return ("image", op[1], op[2] + dx, op[3] + dy, op[4], op[5])
    raise ValueError(f"unknown drawing operation {kind!r}")


def render_raster(canvas: Canvas, scale: float = 1.0) -> Image.Image:
    """Rasterize the display list; scale 1 is 300 dpi."""
    s = scale
    img = Image.new("RGB", (round(canvas.width * s), round(canvas.height * s)), canvas.background)
    draw = ImageDraw.Draw(img)
    for op in canvas.ops:
        kind = op[0]
        if kind == "text":
            _, x, y, text, font, fill = op
            draw.text((x * s, y * s), text, font=load_font(font.path, font.size * s), fill=fill, anchor="ls")
        elif kind == "line":
            _, x0, y0, x1, y1, w, fill = op
            draw.line([(x0 * s, y0 * s), (x1 * s, y1 * s)], fill=fill, width=max(1, round(w * s)))
        elif kind == "rect":
            _, b, outline, w, fill = op
            box = [b[0] * s, b[1] * s, b[2] * s - 1, b[3] * s - 1]
            draw.rectangle(box, outline=outline, width=max(1, round(w * s)) if outline else 0, fill=fill)
        elif kind == "ellipse":
            _, b, outline, w, fill = op
            draw.ellipse([c * s for c in b], outline=outline, width=max(1, round(w * s)) if outline else 0,
                         fill=fill)
        elif kind == "dots":
            _, x0, x1, y, sp, r, fill = op
            x = x0
            rr = max(0.8, r * s)
            while x <= x1:
                draw.ellipse([x * s - rr, y * s - rr, x * s + rr, y * s + rr], fill=fill)
                x += sp
        elif kind == "image":
            _, im, x, y, w, h = op
            tw, th = max(1, round(w * s)), max(1, round(h * s))
            im2 = im if (tw, th) == im.size else im.resize((tw, th), Image.Resampling.LANCZOS)
            img.paste(im2, (round(x * s), round(y * s)), im2)
    return img


def render_pdf_page(pdf: Any, canvas: Canvas, dpi: int = 300) -> None:
    """Append the canvas as a vector page with a real text layer to an fpdf2 document."""
    k = 72.0 / dpi
    pdf.add_page(format=(canvas.width * k, canvas.height * k))
    if canvas.background != (255, 255, 255):
        pdf.set_fill_color(*canvas.background)
        pdf.rect(0, 0, canvas.width * k, canvas.height * k, style="F")
    for op in canvas.ops:
        kind = op[0]
        if kind == "text":
            _, x, y, text, font, fill = op
            fam = _pdf_font(pdf, font.path)
            pdf.set_font(fam, size=font.size * k)
            pdf.set_text_color(*fill)
            pdf.text(x * k, y * k, text)
        elif kind == "line":
            _, x0, y0, x1, y1, w, fill = op
            pdf.set_draw_color(*fill)
            pdf.set_line_width(w * k)
            pdf.line(x0 * k, y0 * k, x1 * k, y1 * k)
        elif kind in ("rect", "ellipse"):
            _, b, outline, w, fill = op
            style = ("D" if outline else "") + ("F" if fill else "")
            if not style:
                continue
            if outline:
                pdf.set_draw_color(*outline)
                pdf.set_line_width(w * k)
            if fill:
                pdf.set_fill_color(*fill)
            args = (b[0] * k, b[1] * k, (b[2] - b[0]) * k, (b[3] - b[1]) * k)
            (pdf.rect if kind == "rect" else pdf.ellipse)(*args, style=style)
        elif kind == "dots":
            _, x0, x1, y, sp, r, fill = op
            pdf.set_fill_color(*fill)
            x = x0
            while x <= x1:
                pdf.ellipse((x - r) * k, (y - r) * k, 2 * r * k, 2 * r * k, style="F")
                x += sp
        elif kind == "image":
            _, im, x, y, w, h = op
            pdf.image(im, x * k, y * k, w * k, h * k)


def _pdf_font(pdf: Any, path: str) -> str:
    name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("-", "").lower()
    registered = getattr(pdf, "_vn_fonts", None)
    if registered is None:
        registered = set()
        pdf._vn_fonts = registered
    if name not in registered:
        pdf.add_font(family=name, style="", fname=path)
        registered.add(name)
    return name
