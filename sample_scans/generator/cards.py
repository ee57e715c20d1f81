"""Citizen identity cards (front and back): 2016 barcode card, 2021 chip card, 2024 card."""

from __future__ import annotations

import random
import unicodedata
from datetime import date

from . import artwork
from .canvas import Canvas
from .data import Person, fmt_date, make_name, random_date
from .fonts import MONO_FONT, FontSpec
from .sheet import Ctx, RenderedDocument

__all__ = ["CARD_SIZE", "render_cccd_back", "render_cccd_front", "mrz_lines", "card_expiry",
           "qr_payload", "QR_SIZE"]

CARD_SIZE = (1012, 638)  # 85.6 x 54 mm at 300 dpi
RED = (190, 25, 35)
DARK = (20, 20, 30)
LABEL = (40, 40, 50)


def card_issue_date(ctx: Ctx, layout: str, p: Person) -> date:
    lo = {"a": date(2016, 1, 1), "b": date(2021, 1, 25), "c": date(2024, 7, 1)}[layout]
    hi = {"a": date(2020, 12, 31), "b": date(2024, 6, 30), "c": max(ctx.today, date(2024, 7, 2))}[layout]
    start = max(lo, date(p.dob.year + 14, p.dob.month, min(p.dob.day, 28)))
    if start > hi:
        start = lo
    return random_date(ctx.rng, start, hi)


def card_expiry(dob: date, issued: date) -> date | None:
    """Cards expire at 25, 40 and 60; one issued within two years of a milestone skips it."""
    for age in (25, 40, 60):
        milestone = date(dob.year + age, dob.month, min(dob.day, 28) if dob.month == 2 else dob.day)
        if (milestone - issued).days > 2 * 365:
            return milestone
    return None


def _ascii(text: str) -> str:
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).upper()


def _check(s: str) -> str:
    vals = []
    for ch in s:
        if ch.isdigit():
            vals.append(int(ch))
        elif ch == "<":
            vals.append(0)
        else:
            vals.append(ord(ch) - 55)
    return str(sum(v * (7, 3, 1)[i % 3] for i, v in enumerate(vals)) % 10)


def mrz_lines(p: Person, expiry: date | None) -> list[str]:
    """ICAO 9303 TD1 machine-readable zone as printed on Vietnamese chip cards."""
    doc = p.citizen_id[3:]
    l1 = f"IDVNM{doc}{_check(doc)}{p.citizen_id}"
    l1 = (l1 + "<" * 30)[:30]
    dob = p.dob.strftime("%y%m%d")
    exp = expiry.strftime("%y%m%d") if expiry else "<<<<<<"
    l2 = f"{dob}{_check(dob)}{'F' if p.sex == 'Nữ' else 'M'}{exp}{_check(exp)}VNM"
    l2 = (l2 + "<" * 30)[:29]
    l2 += _check(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
    parts = _ascii(p.name).split()
    l3 = (parts[0] + "<<" + "<".join(parts[1:]) + "<" * 30)[:30]
    return [l1, l2, l3]


QR_SIZE = 150
# Share of cards whose QR code is worn past reading, or not there (a copy cut short, a sticker).
QR_DAMAGED, QR_MISSING = 0.12, 0.08


def qr_payload(p: Person, issued: date) -> str:
    """The chip card's QR text: ID|old ID|name|date of birth|sex|address|issue date."""
    old = random.Random(f"cmnd|{p.citizen_id}")
    old_id = f"{old.randint(10**8, 10**9 - 1)}" if old.random() < 0.6 else ""
    return "|".join([p.citizen_id, old_id, p.name, p.dob.strftime("%d%m%Y"), p.sex,
                     p.residence.text, issued.strftime("%d%m%Y")])


def _qr(c: Canvas, ctx: Ctx, p: Person, issued: date, layout: str, x: float, y: float,
        codes: dict[str, str]) -> None:
    """A real QR code where the card has one. It draws the same random numbers as the
    placeholder grid it replaces, so everything else on a generated card stays as it was;
    whether it is damaged or missing comes from a generator of its own."""
    artwork.qr_like(118, ctx.rng)
    fate = random.Random(f"qr|{p.citizen_id}|{layout}|{issued.isoformat()}")
    payload = qr_payload(p, issued)
    roll = fate.random()
    if roll < QR_MISSING:
        codes.update(qr_condition="missing")
        return
    img = artwork.qr_code(payload, QR_SIZE)
    if roll < QR_MISSING + QR_DAMAGED:
        img = artwork.damage_code(img, fate)
        codes.update(qr_condition="damaged")
    else:
        codes.update(qr_condition="ok")
    codes["qr"] = payload
    c.image(img, x, y)


def _card(ctx: Ctx, tint: tuple[int, int, int]) -> Canvas:
    c = Canvas(*CARD_SIZE, background=tint)
    c.image(artwork.guilloche(CARD_SIZE[0], CARD_SIZE[1], ctx.rng, tint), 0, 0)
    return c


def _labelled(c: Canvas, x: float, y: float, label: str, value: str, lf: FontSpec, vf: FontSpec,
              width: float, same_line: bool = True, lh: float = 36) -> float:
    """Card field: small label, value after it or on the next line, wrapped to `width`."""
    with c.text_line():
        end = c.text(x, y, label, lf, fill=LABEL)
        if same_line and value:
            words = value.split()
            first = ""
            while words and c.measure((first + " " + words[0]).strip(), vf) <= x + width - end - 10:
                first = (first + " " + words.pop(0)).strip()
            if first:
                c.text(end + 10, y, first, vf, fill=DARK)
            rest = " ".join(words)
        else:
            rest = value
    for part in c.wrap(rest, vf, width) if rest else []:
        y += lh
        c.text(x, y, part, vf, fill=DARK)
    return y + lh


def render_cccd_front(ctx: Ctx, layout: str, person: Person | None = None) -> RenderedDocument:
    rng = ctx.rng
    p = person or ctx.person(ctx.card_role)
    issued = card_issue_date(ctx, layout, p)
    expiry = card_expiry(p.dob, issued)
    fam = ctx.family
    bold = lambda s: FontSpec(fam.bold, s)  # noqa: E731
    reg = lambda s: FontSpec(fam.regular, s)  # noqa: E731
    tint = {"a": (226, 238, 232), "b": (222, 232, 242), "c": (236, 232, 222)}[layout]
    c = _card(ctx, tint)
    W, H = CARD_SIZE
    codes: dict[str, str] = {}
    name = p.name.upper()
    if layout == "c":
        residence, origin = p.residence.text, p.origin.text
    elif layout == "b":
        residence, origin = p.residence.text, p.origin.text
    else:
        residence, origin = p.residence.text, p.origin.short
    c.image(artwork.emblem(120), 28, 22)
    hx = W / 2 + 60
    with c.text_line():
        c.text(hx, 50, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold(25), fill=DARK, align="center")
    c.text(hx, 82, "Độc lập - Tự do - Hạnh phúc", bold(24), fill=DARK, align="center")
    if layout == "a":
        c.text(hx, 124, "CĂN CƯỚC CÔNG DÂN", bold(36), fill=RED, align="center")
        c.image(artwork.barcode(230, 40, rng), W - 262, 140)
    elif layout == "b":
        c.text(hx, 120, "CĂN CƯỚC CÔNG DÂN", bold(35), fill=RED, align="center")
        c.text(hx, 150, "Citizen Identity Card", reg(23), fill=DARK, align="center")
        _qr(c, ctx, p, issued, layout, W - QR_SIZE - 10, 12, codes)
    else:
        c.text(hx, 122, "CĂN CƯỚC", bold(40), fill=RED, align="center")
        c.text(hx, 152, "IDENTITY CARD", bold(23), fill=DARK, align="center")
        c.image(artwork.qr_like(118, rng), W - 140, 20)
    px, py, pw, ph = 30, 175, 230, 290
    c.image(artwork.photo_placeholder(pw, ph, rng), px, py)
    x = px + pw + 28
    width = W - x - 24
    lf, vf, nf = reg(23), bold(27), bold(31)
    if layout != "a":
        lf, vf, nf = reg(21), bold(24), bold(29)
    y = 200
    fields: dict[str, str] = {}
    if layout == "a":
        with c.text_line():
            e = c.text(x, y, "Số:", bold(30), fill=DARK)
            c.text(e + 14, y, p.citizen_id, bold(36), fill=RED)
        y += 42
        y = _labelled(c, x, y, "Họ và tên:", "", lf, nf, width, lh=34)
        c.text(x, y - 2, name, nf, fill=DARK)
        y += 36
        y = _labelled(c, x, y, "Ngày, tháng, năm sinh:", fmt_date(p.dob), lf, vf, width, lh=34)
        with c.text_line():
            e = c.text(x, y, "Giới tính:", lf, fill=LABEL)
            e = c.text(e + 10, y, p.sex, vf, fill=DARK)
            e = c.text(e + 40, y, "Quốc tịch:", lf, fill=LABEL)
            c.text(e + 10, y, "Việt Nam", vf, fill=DARK)
        y += 36
        y = _labelled(c, x, y, "Quê quán:", origin, lf, vf, width, lh=32)
        y = _labelled(c, x, y, "Nơi thường trú:", residence, lf, vf, width, lh=32)
        exp_label, exp_y = "Có giá trị đến:", H - 40
    else:
        id_label = "Số / No.:" if layout == "b" else "Số định danh cá nhân / Personal identification number:"
        if layout == "b":
            with c.text_line():
                e = c.text(x, y, id_label, bold(26), fill=DARK)
                c.text(e + 14, y, p.citizen_id, bold(36), fill=DARK)
            y += 40
        else:
            c.text(x, y - 4, id_label, reg(19), fill=LABEL)
            y += 32
            c.text(x, y, p.citizen_id, bold(34), fill=DARK)
            y += 38
        name_label = "Họ và tên / Full name:" if layout == "b" else "Họ, chữ đệm và tên khai sinh / Full name:"
        c.text(x, y, name_label, lf, fill=LABEL)
        y += 33
        c.text(x, y, name, nf, fill=DARK)
        y += 34
        y = _labelled(c, x, y, "Ngày sinh / Date of birth:", fmt_date(p.dob), lf, vf, width, lh=31)
        with c.text_line():
            e = c.text(x, y, "Giới tính / Sex:", lf, fill=LABEL)
            e = c.text(e + 10, y, p.sex, vf, fill=DARK)
            e = c.text(max(e + 30, x + 300), y, "Quốc tịch / Nationality:", lf, fill=LABEL)
            c.text(e + 10, y, "Việt Nam", vf, fill=DARK)
        y += 31
        if layout == "b":
            y = _labelled(c, x, y, "Quê quán / Place of origin:", origin, lf, vf, width, same_line=False, lh=28)
            y = _labelled(c, x, y, "Nơi thường trú / Place of residence:", residence, lf, vf, width,
                          same_line=False, lh=28)
        else:
            y = _labelled(c, x, y, "Nơi đăng ký khai sinh / Place of birth:", origin, lf, vf, width,
                          same_line=False, lh=28)
            y = _labelled(c, x, y, "Nơi cư trú / Place of residence:", residence, lf, vf, width,
                          same_line=False, lh=28)
        exp_label, exp_y = "Có giá trị đến /", py + ph + 34
    exp_text = fmt_date(expiry) if expiry else "Không thời hạn"
    if layout == "a":
        with c.text_line():
            e = c.text(30, exp_y, exp_label, reg(22), fill=LABEL)
            c.text(e + 10, exp_y, exp_text, bold(24), fill=DARK)
    else:
        c.text(px, exp_y, exp_label, reg(18), fill=LABEL)
        c.text(px, exp_y + 24, "Date of expiry:", reg(18), fill=LABEL)
        c.text(px, exp_y + 56, exp_text, bold(24), fill=DARK)
    fields.update(
        citizen_id=p.citizen_id,
        full_name=name,
        date_of_birth=p.dob.isoformat(),
        sex=p.sex,
        nationality="Việt Nam",
        place_of_origin=origin,
        place_of_residence=residence,
        expiry_date=expiry.isoformat() if expiry else "",
    )
    ctx.card_dates[p.citizen_id] = (issued, expiry, layout)
    return RenderedDocument("cccd_front", layout, [c], fields, codes)


MARKS = ("Nốt ruồi C:2cm trên sau đuôi mắt trái", "Sẹo chấm C:1cm dưới trước cánh mũi phải",
         "Nốt ruồi C:1,5cm dưới sau mép phải", "Sẹo chấm C:2cm trên trước đầu lông mày trái",
         "Nốt ruồi C:3cm dưới trước dái tai trái", "Sẹo chấm C:0,5cm trên đầu lông mày phải")


def render_cccd_back(ctx: Ctx, layout: str, person: Person | None = None) -> RenderedDocument:
    rng = ctx.rng
    p = person or ctx.person(ctx.card_role)
    known = ctx.card_dates.get(p.citizen_id)
    if known and known[2] == layout:
        issued, expiry = known[0], known[1]
    else:
        issued = card_issue_date(ctx, layout, p)
        expiry = card_expiry(p.dob, issued)
    fam = ctx.family
    bold = lambda s: FontSpec(fam.bold, s)  # noqa: E731
    reg = lambda s: FontSpec(fam.regular, s)  # noqa: E731
    tint = {"a": (230, 238, 234), "b": (224, 232, 240), "c": (236, 233, 225)}[layout]
    c = _card(ctx, tint)
    W, H = CARD_SIZE
    marks = rng.choice(MARKS)
    authority = {
        "a": "CỤC TRƯỞNG CỤC CẢNH SÁT ĐKQL CƯ TRÚ VÀ DLQG VỀ DÂN CƯ",
        "b": "CỤC TRƯỞNG CỤC CẢNH SÁT QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI",
        "c": "BỘ CÔNG AN",
    }[layout]
    signer = make_name(rng, "Nam").upper()
    lf, vf = reg(22), bold(25)
    mrz: list[str] = []
    codes: dict[str, str] = {}
    if layout == "a":
        for i, lab in enumerate(("Ngón trỏ trái", "Ngón trỏ phải")):
            x = 30 + i * 210
            c.rect((x, 30, x + 190, 260), outline=(90, 90, 90), width=2)
            c.image(artwork.fingerprint(150, 180, rng), x + 20, 40)
            c.text(x + 95, 250, lab, reg(20), fill=LABEL, align="center")
        y = 60
        x = 470
        c.text(x, y, "Đặc điểm nhân dạng:", lf, fill=LABEL)
        for part in c.wrap(marks, vf, W - x - 30):
            y += 34
            c.text(x, y, part, vf, fill=DARK)
        y += 60
        date_text = f"Ngày {issued.day:02d} tháng {issued.month:02d} năm {issued.year}"
        c.text(x + 250, y, date_text, FontSpec(fam.italic, 23), fill=DARK, align="center")
        y += 34
        for part in c.wrap(authority, bold(21), W - x - 20):
            c.text(x + 250, y, part, bold(21), fill=DARK, align="center")
            y += 30
        s = artwork.seal(rng, "BỘ CÔNG AN * CỤC CẢNH SÁT ĐKQL CƯ TRÚ VÀ DLQG VỀ DÂN CƯ *", fam, diameter=190)
        c.image(s, x + 80, y - 10)
        c.image(artwork.signature(rng, 220, 90), x + 200, y + 20)
        c.text(x + 250, H - 40, signer, bold(24), fill=DARK, align="center")
    else:
        c.image(artwork.chip(150, 118), 40, 40)
        if layout == "c":
            _qr(c, ctx, p, issued, layout, W - QR_SIZE - 14, 24, codes)
        y = 60
        x = 240
        lab = "Đặc điểm nhân dạng / Personal identification:"
        c.text(x, y, lab, lf, fill=LABEL)
        for part in c.wrap(marks, vf, (W - x - 30) if layout == "b" else (W - x - 190)):
            y += 32
            c.text(x, y, part, vf, fill=DARK)
        y += 50
        dlabel = "Ngày, tháng, năm / Date, month, year:" if layout == "b" else "Ngày cấp / Date of issue:"
        with c.text_line():
            e = c.text(x, y, dlabel, lf, fill=LABEL)
            c.text(e + 10, y, fmt_date(issued), vf, fill=DARK)
        y += 34
        ax = x + 330
        for part in c.wrap(authority, bold(21), W - x - 40):
            c.text(ax, y, part, bold(21), fill=DARK, align="center")
            y += 30
        if layout == "c":
            c.text(ax, y, "MINISTRY OF PUBLIC SECURITY", reg(18), fill=DARK, align="center")
            y += 26
        s = artwork.seal(rng, "BỘ CÔNG AN * CỤC CẢNH SÁT QLHC VỀ TTXH *", fam, diameter=170)
        c.image(s, ax - 200, y - 30)
        c.image(artwork.signature(rng, 200, 70), ax - 80, y - 5)
        if layout == "b":
            c.text(ax, y + 112, signer, bold(22), fill=DARK, align="center")
        for i, fl in enumerate(("Ngón trỏ trái", "Ngón trỏ phải")):
            c.image(artwork.fingerprint(90, 110, rng), 40 + i * 100, 190)
            if layout == "b" and i == 0:
                c.text(40, 330, fl, reg(16), fill=LABEL)
        mrz = mrz_lines(p, expiry)
        c.rect((0, H - 175, W, H), outline=None, fill=(250, 250, 250))
        mf = FontSpec(MONO_FONT, 40)
        for i, line in enumerate(mrz):
            c.text(40, H - 130 + i * 48, line, mf, fill=(10, 10, 10))
    fields = dict(
        issue_date=issued.isoformat(),
        issuing_authority=authority,
        identifying_marks=marks,
        mrz="\n".join(mrz),
    )
    if mrz:
        codes["mrz"] = "\n".join(mrz)
    return RenderedDocument("cccd_back", layout, [c], fields, codes)
