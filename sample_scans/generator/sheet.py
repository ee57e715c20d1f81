"""Layout helpers for A4 administrative documents: headers, labelled fields with dotted
leaders, tables, signature blocks."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from . import artwork
from .canvas import A4_300, Canvas
from .data import Address, Person, fmt_date_words, make_person, nfc, random_address
from .fonts import FontFamily, FontSpec

__all__ = ["Ctx", "Office", "RenderedDocument", "Sheet"]

PT = 300 / 72  # pixels per point at 300 dpi


@dataclass(frozen=True)
class Office:
    """The administrative unit a document comes from."""

    ward: str  # "Phường Phúc Xá"
    district: str  # "Quận Ba Đình" or "" for the two-level units
    province: str  # "Thành phố Hà Nội"
    place: str  # short place name for the date line: "Hà Nội"

    @property
    def ubnd(self) -> str:
        return f"Ủy ban nhân dân {self.ward.lower().split(' ', 1)[0]} {self.ward.split(' ', 1)[1]}"

    @property
    def ward_upper(self) -> str:
        return self.ward.upper()


@dataclass
class Ctx:
    """What documents of one dossier share: random stream, font family, people, dates."""

    rng: random.Random
    family: FontFamily
    today: date
    office: Office
    people: dict[str, Person] = field(default_factory=dict)
    # citizen ID -> (issue date, expiry, layout) so a card's back matches its front
    card_dates: dict[str, tuple[date, date | None, str]] = field(default_factory=dict)
    card_role: str = "applicant"  # whose ID card the next card document shows
    procedure: str | None = None  # the procedure a dossier's receipt names
    font_scale: float = 1.0  # lowered when a long filled-in form would run off the page

    def person(self, role: str, **kw: object) -> Person:
        if role not in self.people:
            self.people[role] = make_person(self.rng, **kw)  # type: ignore[arg-type]
        return self.people[role]


def make_office(rng: random.Random) -> Office:
    if rng.random() < 0.65:
        a = random_address(rng, street=False)
        ward, district, province = a.text.split(", ")
    else:
        a = random_address(rng, new_style=True, street=False)
        ward, province = a.text.split(", ")
        district = ""
    place = province.replace("Thành phố ", "").replace("Tỉnh ", "")
    return Office(ward=ward, district=district, province=province, place=place)


@dataclass
class RenderedDocument:
    doctype: str
    layout: str
    pages: list[Canvas]
    fields: dict[str, str]
    # What the document carries in machine-readable form (QR text, MRZ, barcode) and in what
    # condition: truth for the code readers, not fields.
    codes: dict[str, str] = field(default_factory=dict)


class Sheet:
    """An A4 page being laid out top to bottom."""

    def __init__(self, ctx: Ctx, *, size_pt: float = 13.0, left_mm: float = 30, right_mm: float = 20,
                 top_mm: float = 20, leading: float = 1.55, leader_under: bool = False) -> None:
        self.ctx = ctx
        self.c = Canvas(*A4_300)
        px_mm = 300 / 25.4
        self.x0 = left_mm * px_mm
        self.x1 = A4_300[0] - right_mm * px_mm
        self.y = top_mm * px_mm
        self.fs = size_pt * PT * ctx.font_scale
        self.lh = self.fs * leading
        self.leader_under = leader_under

    # fonts
    def font(self, *, bold: bool = False, italic: bool = False, scale: float = 1.0) -> FontSpec:
        return FontSpec(self.ctx.family.face(bold=bold, italic=italic), self.fs * scale)

    def newline(self, n: float = 1.0) -> None:
        self.y += self.lh * n

    # blocks
    def national_header(self, left: list[str] | None = None, number: str | None = None,
                        date_line: str | None = None) -> None:
        """Motto block (right, or centered when there is no issuing agency on the left)."""
        fb = self.font(bold=True, scale=0.95)
        fb2 = self.font(bold=True, scale=1.0)
        fn = self.font(scale=0.95)
        if not left:
            cx = (self.x0 + self.x1) / 2
            self.y += self.fs
            self.c.text(cx, self.y, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", fb, align="center")
            self.y += self.lh
            end = self.c.text(cx, self.y, "Độc lập - Tự do - Hạnh phúc", fb2, align="center")
            w = self.c.measure("Độc lập - Tự do - Hạnh phúc", fb2)
            self.c.line(end - w, self.y + 14, end, self.y + 14, 3)
            self.y += self.lh * 0.6
            if date_line:
                self.y += self.lh
                self.c.text(self.x1, self.y, date_line, self.font(italic=True), align="right")
            self.y += self.lh
            return
        lx = self.x0 + 380
        rx = self.x1 - 600
        wrapped: list[str] = []
        for line in left:  # long agency names go on two lines, as on real letterheads
            wrapped += self.c.wrap(line, fb, 2 * (lx - self.x0) + 40)
        left = wrapped
        self.y += self.fs
        rows = [("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", fb), ("Độc lập - Tự do - Hạnh phúc", fb2)]
        n = max(len(left), 2)
        for i in range(n):
            with self.c.text_line():
                if i < len(left):
                    lfont = fn if (i == 0 and len(left) > 2) else fb
                    self.c.text(lx, self.y, left[i], lfont, align="center")
                    if i == len(left) - 1:
                        w = self.c.measure(left[i], lfont)
                        self.c.line(lx - w * 0.3, self.y + 16, lx + w * 0.3, self.y + 16, 3)
                if i < 2:
                    self.c.text(rx, self.y, rows[i][0], rows[i][1], align="center")
                    if i == 1:
                        w = self.c.measure(rows[i][0], rows[i][1])
                        self.c.line(rx - w / 2, self.y + 16, rx + w / 2, self.y + 16, 3)
            self.y += self.lh
        self.y += self.lh * 0.3
        with self.c.text_line():
            if number:
                self.c.text(lx, self.y, number, self.font(), align="center")
            if date_line:
                self.c.text(rx, self.y, date_line, self.font(italic=True), align="center")
        self.y += self.lh * 1.2

    def center(self, text: str, *, bold: bool = False, italic: bool = False, scale: float = 1.0,
               gap: float = 1.0) -> None:
        f = self.font(bold=bold, italic=italic, scale=scale)
        for part in self.c.wrap(text, f, self.x1 - self.x0):
            self.y += max(0.0, (scale - 1)) * self.fs * 0.6
            self.c.text((self.x0 + self.x1) / 2, self.y, part, f, align="center")
            self.y += self.lh * gap

    def title(self, text: str, sub: str | None = None, scale: float = 1.25) -> None:
        self.y += self.lh * 0.4
        self.center(text, bold=True, scale=scale)
        if sub:
            self.center(sub, italic=True, scale=0.95)
        self.y += self.lh * 0.4

    def para(self, text: str, *, indent: float = 0.0, italic: bool = False, bold: bool = False,
             first_indent: float | None = None) -> None:
        f = self.font(italic=italic, bold=bold)
        fi = indent if first_indent is None else first_indent
        width = self.x1 - self.x0 - indent
        lines = self.c.wrap(text, f, width, first_width=self.x1 - self.x0 - fi)
        for i, part in enumerate(lines):
            self.c.text(self.x0 + (fi if i == 0 else indent), self.y, part, f)
            self.y += self.lh

    def field(self, label: str, value: str, *, x0: float | None = None, x1: float | None = None,
              bold_value: bool = False, label_bold: bool = False, advance: bool = True,
              upper: bool = False) -> str:
        """`label` then `value` over a dotted leader to x1, wrapping the value; returns the value."""
        x0 = self.x0 if x0 is None else x0
        x1 = self.x1 if x1 is None else x1
        value = nfc(" ".join(value.split()))
        if upper:
            value = value.upper()
        lf = self.font(bold=label_bold)
        vf = self.font(bold=bold_value)
        gap = self.fs * 0.45
        lab_end = x0 + self.c.measure(label, lf)
        first_w = x1 - lab_end - 2 * gap
        parts = self.c.wrap(value, vf, x1 - x0 - 2 * gap, first_width=first_w) if value else []
        if parts and self.c.measure(parts[0], vf) > first_w:
            parts = [""] + parts
        if not parts:
            parts = [""]
        for i, part in enumerate(parts):
            with self.c.text_line():
                if i == 0:
                    self.c.text(x0, self.y, label, lf)
                    start = lab_end + gap
                else:
                    start = x0 + gap
                dot_y = self.y + (20 if self.leader_under else 0)
                if part:
                    end = self.c.text(start, self.y, part, vf)
                    if self.leader_under:
                        self.c.dotted(start - gap * 0.6, x1, dot_y)
                    else:
                        self.c.dotted(end + gap, x1, dot_y)
                else:
                    self.c.dotted(start - gap * 0.6, x1, dot_y)
            if advance or i < len(parts) - 1:
                self.y += self.lh
        return value

    def fields_row(self, items: list[tuple[str, str]], widths: list[float] | None = None,
                   bold_value: bool = False) -> list[str]:
        """Several short label/value pairs on one line (e.g. sex, ethnicity, nationality)."""
        widths = widths or [1 / len(items)] * len(items)
        total = self.x1 - self.x0
        x = self.x0
        out = []
        with self.c.text_line():
            for (label, value), w in zip(items, widths, strict=True):
                out.append(self.field(label, value, x0=x, x1=x + total * w - self.fs * 0.5,
                                      bold_value=bold_value, advance=False))
                x += total * w
        self.y += self.lh
        return out

    def table(self, col_x: list[float], rows: list[list[str]], *, header_rows: int = 1,
              pad: float = 14, scale: float = 0.92, center_cols: tuple[int, ...] = ()) -> None:
        """A ruled table; cell text wraps; each printed line across the row is one text line."""
        cols = len(col_x) - 1
        fh = self.font(bold=True, scale=scale)
        fb = self.font(scale=scale)
        lh = self.fs * scale * 1.35
        top = self.y
        self.c.line(col_x[0], top, col_x[-1], top, 3)
        for r, row in enumerate(rows):
            f = fh if r < header_rows else fb
            wrapped = [self.c.wrap(cell, f, col_x[i + 1] - col_x[i] - 2 * pad) or [""]
                       for i, cell in enumerate(row)]
            nlines = max(len(w) for w in wrapped)
            y = self.y + pad + self.fs * scale
            for k in range(nlines):
                with self.c.text_line():
                    for i in range(cols):
                        if k < len(wrapped[i]) and wrapped[i][k]:
                            if i in center_cols or r < header_rows:
                                self.c.text((col_x[i] + col_x[i + 1]) / 2, y, wrapped[i][k], f, align="center")
                            else:
                                self.c.text(col_x[i] + pad, y, wrapped[i][k], f)
                y += lh
            self.y = y - lh + pad * 2 + self.fs * 0.3
            self.c.line(col_x[0], self.y, col_x[-1], self.y, 3)
        for x in col_x:
            self.c.line(x, top, x, self.y, 3)
        self.y += self.lh * 0.8

    def signature_block(self, cx: float, titles: list[str], name: str, *, note: str | None = None,
                        seal_text: str | None = None, sign: bool = True, date_line: str | None = None,
                        y: float | None = None) -> float:
        """Signer title, note, blue signature (over a red seal when given) and the printed name."""
        y = self.y if y is None else y
        if date_line:
            self.c.text(cx, y, date_line, self.font(italic=True), align="center")
            y += self.lh
        for t in titles:
            self.c.text(cx, y, t, self.font(bold=True), align="center")
            y += self.lh
        if note:
            self.c.text(cx, y, note, self.font(italic=True, scale=0.92), align="center")
            y += self.lh
        space = self.lh * 4.2
        rng = self.ctx.rng
        if seal_text:
            s = artwork.seal(rng, seal_text, self.ctx.family, diameter=rng.randint(420, 470))
            self.c.image(s, cx - s.width * rng.uniform(0.75, 0.95), y + space / 2 - s.height / 2 + rng.uniform(-30, 30))
        if sign:
            g = artwork.signature(rng)
            self.c.image(g, cx - g.width / 2 + rng.uniform(-40, 40), y + space / 2 - g.height / 2)
        y += space
        self.c.text(cx, y, name, self.font(bold=True), align="center")
        return y + self.lh


def office_date_line(ctx: Ctx, d: date) -> str:
    return f"{ctx.office.place}, {fmt_date_words(d)}"


def fresh_address(ctx: Ctx) -> Address:
    return random_address(ctx.rng, new_style=ctx.rng.random() < 0.4)
