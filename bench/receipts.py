"""Shop receipts: a generated set with truth, and how many of their fields a document type
written in YAML gets exactly right.

    python -m bench.receipts                      # dev seed, docs/examples' receipt type
    python -m bench.receipts --seed test          # the held-out seed, for the figure reported
    python -m bench.receipts --doctypes DIR --lang eng --misses

Receipts of ten shops, each with its own layout (the shop's name in capitals, sometimes
under a logo or a greeting; an address of one to three lines; a registration number, phone,
tax number; a receipt number under the shop's own label; the date in the shop's own notation;
items; a totals block in the shop's own words: "Grand Total", "NETT TOTAL", a "TOTAL" before
the "TOTAL SAVINGS", "TotalAmount:" printed without its space), printed on an 80 mm thermal
printer (its 203 dpi dots, uneven heat, a weak print-head element leaving a pale streak) and
then scanned or photographed (skew, noise, JPEG, blur, shadow, a phone's perspective on a
table). Truth: the shop's name and address as printed, the date (ISO), the total (a plain
decimal) and the receipt number where one is printed.

Receipt ``i`` of a seed depends only on (seed, i): images, truth and each OCR reading (per
languages) are cached under ``<data dir>/bench/receipts/`` and made only once. The dev seed
(1) is the one a type is written against; the test seed (2) is the one to report.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["Receipt", "make_receipt", "SEEDS", "score", "run"]

GENERATOR_VERSION = 1
SEEDS = {"dev": 1, "test": 2}
FIELDS = ("company_name", "company_address", "date", "total", "receipt_no")

_DEJAVU = "/usr/share/fonts/truetype/dejavu"
_LIB = "/usr/share/fonts/truetype/liberation2"
# Thermal printers print a monospaced font (or a narrow sans); the shop's name in bold.
_FONTS = {
    "dejavu-mono": (f"{_DEJAVU}/DejaVuSansMono.ttf", f"{_DEJAVU}/DejaVuSansMono-Bold.ttf"),
    "liberation-mono": (f"{_LIB}/LiberationMono-Regular.ttf", f"{_LIB}/LiberationMono-Bold.ttf"),
    "dejavu-condensed": (f"{_DEJAVU}/DejaVuSansCondensed.ttf",
                         f"{_DEJAVU}/DejaVuSansCondensed-Bold.ttf"),
}

PAPER_W = 945  # 80 mm at 300 dpi
MARGIN = 42
COLS = 42  # characters a line holds


@dataclass(frozen=True)
class Shop:
    name: str  # as printed, in capitals
    address: tuple[str, ...]  # its lines as printed
    phone: str  # the line printed under the address
    font: str
    date_format: str  # strftime, the shop's own notation
    date_line: str  # "{date}" placed in it: "Date: {date}  Time: {time}"
    totals: str  # the style of the totals block (see ``_totals``)
    receipt_line: str | None = None  # "Invoice No: {no}"; None: no number printed
    receipt_format: str = "{n}"
    reg: str | None = None  # a registration number printed under the name: "(81109-A)"
    above: str | None = None  # printed above the name: "logo", or a line of lower case
    extra: tuple[str, ...] = ()  # lines under the phone: tax number, "TAX INVOICE"...
    promo_date: bool = False  # a later date printed at the bottom (a voucher's expiry)
    centred: bool = True


SHOPS = (
    Shop("SANYU STATIONERY SHOP", ("NO. 31G&33G, JALAN SETIA INDAH X ,U13/X",
                                   "40170 SETIA ALAM"),
         "Tel: +603-3362 4137", "dejavu-mono", "%d/%m/%Y", "Date : {date}  {time}",
         "final", "Invoice No: {no}", "CS-SA-{n:07d}",
         extra=("GST ID: 001531760640", "TAX INVOICE")),
    Shop("SYARIKAT PERNIAGAAN GIN KEE", ("NO 290, JALAN AIR PANAS,", "SETAPAK,",
                                         "53200, KUALA LUMPUR."),
         "TEL : 03-40210276", "liberation-mono", "%d/%m/%Y", "Date: {date}",
         "grand", "Doc No : {no}", "CS{n:08d}", reg="(81109-A)",
         extra=("GST ID : 000750673920", "TAX INVOICE")),
    Shop("MR. D.I.Y. (M) SDN BHD", ("LOT 1851-A & 1851-B, JALAN KPB 6,",
                                    "KAWASAN PERINDUSTRIAN BALAKONG,",
                                    "43300 SERI KEMBANGAN, SELANGOR"),
         "(GST ID NO : 000306020352)", "dejavu-condensed", "%d-%m-%y", "{date}  {time}",
         "savings", "Receipt No: {no}", "{n:05d}", reg="(CO. REG : 860671-D)",
         above="logo"),
    Shop("KEDAI MAKAN RESTORAN WAN SHENG", ("NO.2, JALAN TEMENGGUNG 19/9,",
                                            "SEKSYEN 9, BANDAR MAHKOTA CHERAS,",
                                            "43200 CHERAS, SELANGOR."),
         "Tel: 012-6356 287", "dejavu-mono", "%d %b %y", "Date: {date} {time}",
         "nett", "Bill No: {no}", "B{n:06d}", above="Welcome to"),
    Shop("AEON CO. (M) BHD.", ("3RD FLR, AEON TAMAN MALURI SC,",
                               "JLN JEJAKA, TAMAN MALURI, CHERAS, 55100 KL"),
         "Tel: 1-300-80-AEON (2366)", "liberation-mono", "%d/%m/%Y", "{date} {time} POS:0075",
         "glued", None, extra=("GST ID : 002017394688", "SHOP HOURS: 10:00 - 22:00"),
         promo_date=True),
    Shop("UNIHAKKA INTERNATIONAL SDN BHD", ("12, JALAN TAMPOI 7/4, KAWASAN",
                                            "PERINDUSTRIAN TAMPOI,",
                                            "81200 JOHOR BAHRU, JOHOR"),
         "Tel: 07-2357 238", "dejavu-condensed", "%d %b %Y", "Date/Time: {date} {time}",
         "qty", "Receipt #: {no}", "{n:07d}", reg="(867388-U)", above="logo",
         extra=("TAX INVOICE",)),
    Shop("99 SPEED MART S/B (519537-X)", ("LOT P.T. 2811, JALAN ANGSA,",
                                          "TAMAN BERKELEY, 41150 KLANG, SELANGOR"),
         "Tel: 03-3342 2131", "dejavu-mono", "%Y-%m-%d", "{date} {time}",
         "total_rm", "Trans No: {no}", "1{n:05d}", extra=("GST ID. NO : 000181747712",)),
    Shop("BOOK TA .K (TAMAN DAYA) SDN BHD", ("NO.5: 55,57 & 59, JALAN SAGU 18,",
                                             "TAMAN DAYA,", "81100 JOHOR BAHRU,", "JOHOR."),
         "Tel: 07-3551 988", "liberation-mono", "%d/%m/%y", "DATE: {date} TIME: {time}",
         "final", "Invoice No: {no}", "{n:06d}", reg="(789417-W)",
         above="Thank you for choosing us", extra=("GST NO: 001817538560",)),
    Shop("GARDENIA BAKERIES (KL) SDN BHD", ("LOT 3, JALAN PELABUR 23/1,",
                                            "40300 SHAH ALAM, SELANGOR."),
         "TEL: 03-55423228", "dejavu-mono", "%d %b %y", "Delivery Date: {date}",
         "amount_due", "Invoice No.: {no}", "7{n:08d}", reg="(139386 X)",
         extra=("GST ID: 000381399040", "Cash Inv")),
    Shop("PASARAYA BORONG PINTAR SDN BHD", ("NO 4, JALAN PERMAS 10/8,",
                                            "BANDAR BARU PERMAS JAYA,",
                                            "81750 MASAI, JOHOR"),
         "Tel: 07-3883 388", "dejavu-condensed", "%Y/%m/%d", "Date: {date}  Time: {time}",
         "grand", "Doc No.: {no}", "PBP{n:06d}", extra=("GST REG NO: 001588920320",),
         centred=False, promo_date=True),
)

_ITEMS = ("FOLDER A4 CLEAR", "BALL PEN BLUE 0.7", "EXERCISE BOOK 80P", "GLUE STICK 21G",
          "MINERAL WATER 1.5L", "WHITE BREAD 400G", "CHICKEN RICE", "TEH TARIK", "KOPI O",
          "NASI LEMAK", "DISH SPONGE 3PC", "PAPER TOWEL 2R", "HAND SOAP 500ML", "AA BATTERY 4S",
          "EXTENSION CORD 3M", "LED BULB 9W", "RICE 5KG", "COOKING OIL 2KG", "EGGS GRADE A 10",
          "INSTANT NOODLE 5S", "SUGAR 1KG", "MILO 1KG", "STAPLER NO.10", "SCISSORS 8IN",
          "CORRECTION TAPE", "HIGHLIGHTER 4C", "MASKING TAPE 24MM", "PLASTIC CONTAINER",
          "KITCHEN TOWEL", "DETERGENT 3KG")


@dataclass
class Receipt:
    """One generated receipt: the printed lines, the image as scanned, and its truth."""

    index: int
    shop: str
    lines: list[str]
    truth: dict[str, str]
    look: str  # clean, scan, photo
    image: Image.Image | None = None
    degradations: list[str] = field(default_factory=list)


def _money(x: float) -> str:
    return f"{x:,.2f}" if x >= 1000 else f"{x:.2f}"


def _two(left: str, right: str) -> str:
    """A line with ``left`` at the left and ``right`` at the right edge (a tab between)."""
    return f"{left}\t{right}"


def _totals(style: str, rng: random.Random, sub: float, n: int) -> tuple[list[str], float]:
    """The totals block of a style and the total the customer pays."""
    gst = round(sub * 0.06, 2) if style in ("final", "grand", "total_rm") else 0.0
    raw = round(sub + gst, 2)
    total = round(round(raw * 20) / 20, 2)  # rounded to 5 sen
    rounding = round(total - raw, 2)
    paid = float(math.ceil((total + rng.choice((0, 0, 1, 5, 10))) / 10) * 10) or 10.0
    if paid < total:
        paid = float(math.ceil(total / 10) * 10)
    change = round(paid - total, 2)
    if style == "final":
        out = [_two("Total Sales (Excl GST) :", _money(sub)), _two("GST @6% :", _money(gst)),
               _two("Total :", _money(raw)), _two("Rounding Adj :", f"{rounding:.2f}"),
               _two("Final Total :", _money(total)), "",
               _two("Cash :", _money(paid)), _two("Change :", _money(change))]
    elif style == "grand":
        out = [_two("Sub Total", _money(sub)), _two("GST 6%", _money(gst)),
               _two("Total", _money(raw)), _two("Rounding", f"{rounding:.2f}"),
               _two("Grand Total", _money(total)), _two("Cash", _money(paid)),
               _two("Change", _money(change))]
    elif style == "savings":
        saved = round(rng.uniform(0.5, 6), 2)
        out = [_two("Item(s) : " + str(n), "Qty(s) : " + str(n + rng.randint(0, 3))),
               _two("TOTAL", _money(total)), _two("CASH", _money(paid)),
               _two("CHANGE", _money(change)), "",
               _two("TOTAL SAVINGS", _money(saved)), _two("TOTAL ITEMS", str(n))]
    elif style == "nett":
        gross = round(total / 0.9 * 20) / 20
        out = [_two("TOTAL", _money(gross)),
               _two("MEMBER DISC 10%", "-" + _money(round(gross - total, 2))),
               _two("NETT TOTAL", _money(total)), _two("CASH", _money(paid)),
               _two("CHANGE", _money(change))]
    elif style == "glued":
        # Printed without the space: "TotalAmount:" (and "TotalQty:" before it).
        out = [_two("TotalQty:", str(n)), _two("TotalAmount:", _money(total)),
               _two("Rounding:", f"{rounding:.2f}"), _two("Tendered:", _money(paid)),
               _two("Change:", _money(change))]
    elif style == "qty":
        out = [_two("Total Qty:", str(n)), _two("Total Amount:", _money(total)),
               _two("Cash:", _money(paid)), _two("Change:", _money(change))]
    elif style == "total_rm":
        out = [_two("TOTAL QTY", str(n)), _two("TOTAL (INCL GST) RM", _money(total)),
               _two("CASH RM", _money(paid)), _two("CHANGE RM", _money(change)),
               _two("GST 6% INCLUDED", _money(gst))]
    elif style == "amount_due":
        out = [_two("Total Sales", _money(sub)), _two("Rounding", f"{rounding:.2f}"),
               _two("Amount Due", _money(total)), _two("Paid", _money(paid))]
    else:
        raise ValueError(f"unknown totals style {style!r}")
    return out, total


def make_receipt(seed: int, index: int) -> Receipt:
    """Receipt ``index`` of ``seed``: its printed lines and truth, and its image as scanned
    or photographed."""
    rng = random.Random(f"receipt-{seed}-{index}")
    shop = SHOPS[rng.randrange(len(SHOPS))]
    day = date(2017, 1, 1) + timedelta(days=rng.randrange(3 * 365))
    hour, minute = rng.randint(8, 21), rng.randint(0, 59)
    time_text = f"{hour:02d}:{minute:02d}" if rng.random() < 0.7 else \
        f"{(hour - 1) % 12 + 1:02d}:{minute:02d} {'PM' if hour >= 12 else 'AM'}"
    printed_date = day.strftime(shop.date_format)
    number = shop.receipt_format.format(n=rng.randrange(1, 10 ** 6)) \
        if shop.receipt_line else None

    items = []
    for _ in range(rng.randint(1, 7)):
        name = rng.choice(_ITEMS)
        qty = rng.choice((1, 1, 1, 2, 3))
        price = round(rng.choice((rng.uniform(0.8, 12), rng.uniform(5, 60))), 1) + \
            rng.choice((0.0, 0.05, 0.09))
        items.append((name, qty, round(price, 2)))
    sub = round(sum(q * p for _, q, p in items), 2)
    totals, total = _totals(shop.totals, rng, sub, sum(q for _, q, _ in items))

    head: list[tuple[str, str]] = []  # (text, style): name, bold, centre, left
    if shop.above and shop.above != "logo":
        head.append((shop.above, "centre"))
    head.append((shop.name, "name"))
    if shop.reg:
        head.append((shop.reg, "centre"))
    head += [(line, "centre") for line in shop.address]
    head.append((shop.phone, "centre"))
    head += [(line, "centre") for line in shop.extra]
    body: list[tuple[str, str]] = [("", "left")]
    if shop.receipt_line:
        body.append((shop.receipt_line.format(no=number), "left"))
    body.append((shop.date_line.format(date=printed_date, time=time_text), "left"))
    body.append((f"Cashier: {rng.choice(('ANIS', 'LEE', 'RAJ', 'MEI', 'SITI'))}", "left"))
    body.append(("-" * COLS, "left"))
    for name, qty, price in items:
        body.append((name, "left"))
        body.append((_two(f"  {qty} x {price:.2f}", _money(qty * price)), "left"))
    body.append(("-" * COLS, "left"))
    body += [(t, "left") for t in totals]
    body.append(("", "left"))
    if shop.promo_date:
        later = day + timedelta(days=rng.randint(20, 90))
        body.append((f"Voucher valid till {later.strftime(shop.date_format)}", "left"))
    body.append((rng.choice(("THANK YOU. PLEASE COME AGAIN.", "Thank you for shopping!",
                             "Goods sold are not returnable.")), "centre"))
    if not shop.centred:
        head = [(t, "left" if s == "centre" else s) for t, s in head]

    truth = {"company_name": shop.name, "company_address": " ".join(shop.address),
             "date": day.isoformat(), "total": f"{total:.2f}"}
    if number:
        truth["receipt_no"] = number
    look = rng.choices(("clean", "scan", "photo"), weights=(0.25, 0.45, 0.30))[0]
    lines = [t.replace("\t", " ") for t, _ in head + body]
    receipt = Receipt(index, shop.name, lines, truth, look)
    paper = _print(rng, shop, head, body)
    receipt.image, receipt.degradations = _capture(rng, paper, look)
    return receipt


def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _logo(rng: random.Random, initials: str) -> Image.Image:
    """A shop's logo: a filled shape with its initials reversed out."""
    img = Image.new("L", (300, 150), 255)
    d = ImageDraw.Draw(img)
    if rng.random() < 0.5:
        d.ellipse((75, 5, 225, 145), fill=0)
    else:
        d.rounded_rectangle((30, 20, 270, 130), radius=30, fill=0)
    f = _font(_FONTS["dejavu-mono"][1], 60)
    d.text((150, 75), initials, font=f, fill=255, anchor="mm")
    return img


def _print(rng: random.Random, shop: Shop, head: list[tuple[str, str]],
           body: list[tuple[str, str]]) -> Image.Image:
    """The receipt as a thermal printer prints it: black dots at 203 dpi, uneven heat."""
    regular, bold = _FONTS[shop.font]
    width = PAPER_W - 2 * MARGIN
    probe = _font(regular, 100)
    size = int(100 * width / probe.getlength("M" * COLS))
    font = _font(regular, size)
    line_h = int(size * 1.45)
    blocks: list[Image.Image] = []
    if shop.above == "logo":
        blocks.append(_logo(rng, "".join(w[0] for w in shop.name.split()[:2])))
    for text, style in head + body:
        h = line_h
        if style == "name":
            f = _font(bold, size)
            w = f.getlength(text)
            scale = min(2.0, width / max(w, 1))
            # Double width and height as thermal printers enlarge: the font drawn bigger.
            f = _font(bold, int(size * scale * 0.98))
            h = int(f.size * 1.5)
        else:
            f = font
        img = Image.new("L", (width, h), 255)
        if text:
            d = ImageDraw.Draw(img)
            left, _, right = text.partition("\t")
            x = (width - f.getlength(left)) / 2 if style in ("centre", "name") else 0
            d.text((x, h * 0.78), left, font=f, fill=0, anchor="ls")
            if right:
                d.text((width - f.getlength(right), h * 0.78), right, font=f, fill=0,
                       anchor="ls")
        blocks.append(img)
    total_h = sum(b.height for b in blocks) + 2 * MARGIN + 60
    paper = Image.new("L", (PAPER_W, total_h), 255)
    y = MARGIN
    for b in blocks:
        paper.paste(b, ((PAPER_W - b.width) // 2, y))
        y += b.height
    return _thermal(rng, paper)


def _thermal(rng: random.Random, paper: Image.Image) -> Image.Image:
    """Dots of a 203 dpi head, its heat uneven down the roll and a weak element's streak, on
    slightly grey paper."""
    w, h = paper.size
    small = paper.resize((w * 203 // 300, h * 203 // 300), Image.Resampling.BILINEAR)
    dots = np.asarray(small, dtype=np.float32) < rng.uniform(150, 200)
    # Each dot a round spot of ink a little wider than its pitch, as the scanner sees it.
    ink = np.asarray(Image.fromarray((dots * 255).astype(np.uint8)).resize(
        (w, h), Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.1))),
        dtype=np.float32) / 255.0
    gen = np.random.default_rng(rng.getrandbits(32))
    # Heat: darkness drifts down the roll and across the head.
    coarse = gen.uniform(0.0, 1.0, (max(2, h // 300), 4)).astype(np.float32)
    heat = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize(
        (w, h), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
    fade = rng.uniform(0.0, 0.45)
    density = 1.0 - fade * heat
    for _ in range(rng.choice((0, 0, 1, 2))):  # a weak element of the head: a pale streak
        x = rng.randrange(MARGIN, w - MARGIN)
        density[:, x:x + rng.randint(2, 5)] *= rng.uniform(0.25, 0.6)
    paper_tone = rng.uniform(232, 250) + gen.normal(0, 2.0, (h, w)).astype(np.float32)
    out = paper_tone - ink * density * (paper_tone - rng.uniform(15, 45))
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)).convert("RGB")


def _capture(rng: random.Random, paper: Image.Image, look: str) -> tuple[Image.Image, list[str]]:
    """The printed receipt as scanned on a flatbed (white lid around it) or photographed on a
    table, through the generator's own degradations (``sample_scans.generator.degrade``)."""
    from sample_scans.generator.canvas import Canvas
    from sample_scans.generator.degrade import DegradePlan, apply_plan

    # A photo is of the receipt alone, on the table the phone's picture puts it on.
    pad = 0 if look == "photo" else rng.randint(40, 120)
    background = (250, 250, 250)
    canvas = Canvas(paper.width + 2 * pad, paper.height + 2 * pad, background=background)
    canvas.image(paper, pad, pad)
    plan = DegradePlan(level=look)
    if look == "clean":
        pass
    elif look == "scan":
        plan.dpi = rng.choice((200, 240, 300, 300))
        plan.skew_deg = round(rng.uniform(-3, 3), 2)
        plan.names += ["noise", "jpeg"]
        plan.params.update(noise_sigma=round(rng.uniform(2, 8), 2),
                           jpeg_quality=rng.randint(55, 90))
        if rng.random() < 0.3:
            plan.names.append("shadow")
            plan.params["shadow_strength"] = round(rng.uniform(0.05, 0.2), 3)
    else:
        plan.dpi = rng.choice((240, 300, 300))
        plan.names += ["phone_photo", "noise", "jpeg"]
        plan.params.update(noise_sigma=round(rng.uniform(3, 8), 2),
                           jpeg_quality=rng.randint(50, 85))
        if rng.random() < 0.5:
            plan.names.append("blur")
            plan.params["blur_sigma"] = round(rng.uniform(0.4, 0.9), 2)
    if plan.skew_deg:
        plan.names.append("skew")
    if plan.dpi != 300:
        plan.names.append("resample")
    plan.names.sort()
    scanned = apply_plan(canvas, plan, rng)
    return scanned.image, plan.names


# -- running a document type over them ------------------------------------------------------

def _cache_dir(seed: int) -> Path:
    from models.settings import get_settings

    return get_settings().data_dir / "bench" / "receipts" / f"g{GENERATOR_VERSION}" / \
        f"seed{seed}"


def ensure_receipt(seed: int, index: int) -> tuple[Path, dict]:
    """The receipt's image (PNG, 300 dpi recorded) and truth, made once."""
    folder = _cache_dir(seed)
    image, truth = folder / f"{index:03d}.png", folder / f"{index:03d}.truth.json"
    if not (image.exists() and truth.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        r = make_receipt(seed, index)
        assert r.image is not None
        tmp = image.with_suffix(f".{os.getpid()}.png")
        r.image.save(tmp, dpi=(300, 300))
        os.replace(tmp, image)
        truth.write_text(json.dumps({"shop": r.shop, "look": r.look,
                                     "degradations": r.degradations, "fields": r.truth,
                                     "lines": r.lines}, ensure_ascii=False, indent=1),
                         encoding="utf-8")
    return image, json.loads(truth.read_text(encoding="utf-8"))


def read_page(image: Path, lang: str, psm: int = 3):
    """The receipt read as ``dossier extract`` reads a page (cleanup, Tesseract in ``lang``
    with page segmentation ``psm``), cached beside it."""
    from models.ocr import PageOCR
    from ocr.loading import Limits, load_page
    from ocr.pipeline import OcrOptions, ocr_loaded_page

    cached = image.with_suffix(f".{lang}.psm{psm}.ocr.json")
    if cached.exists():
        return PageOCR.from_dict(json.loads(cached.read_text(encoding="utf-8")))
    page = ocr_loaded_page(load_page(image, 0, Limits()), OcrOptions(lang=lang, psm=psm),
                           path=image).ocr
    tmp = cached.with_suffix(f".{os.getpid()}.part")
    tmp.write_text(json.dumps(page.export(), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, cached)
    return page


@dataclass
class Outcome:
    index: int
    shop: str
    look: str
    doctype: str
    truth: dict[str, str]
    values: dict[str, str | None]

    def exact(self, name: str) -> bool:
        return _norm(self.values.get(name)) == _norm(self.truth[name])


def _norm(v: str | None) -> str | None:
    return None if v is None else " ".join(v.split())


def run(seed: int, count: int, doctypes_dir: Path, doctype: str | None = None,
        lang: str | None = None, workers: int = 2,
        progress: Callable[[str], None] | None = None) -> list[Outcome]:
    """Every receipt of ``seed`` read and extracted as ``dossier extract --doctypes DIR``
    does: read in ``lang`` if given, else in vie+eng and again in a type's own ``lang``."""
    from extraction import extract_documents, load_doctypes, read_as_their_types

    say = progress or (lambda _m: None)
    types = load_doctypes(doctypes_dir)
    own = [d for d in types if d.id not in {b.id for b in _builtin()}]
    wanted = doctype or (own[0].id if own else None)
    if wanted is None:
        raise SystemExit(f"no document type in {doctypes_dir}; give --doctype")
    first_lang = lang or "vie+eng"

    def one(i: int) -> Outcome:
        image, truth = ensure_receipt(seed, i)
        pages = [read_page(image, first_lang)]
        if lang is None:
            pages = read_as_their_types(pages, types, first_lang,
                                        lambda _i, langs, psm: read_page(image, langs, psm))
        docs = extract_documents(pages, types)
        doc = next((d for d in docs if d.doctype == wanted), docs[0] if docs else None)
        values = {} if doc is None or doc.doctype != wanted else \
            {f.name: f.value for f in doc.fields}
        return Outcome(i, truth["shop"], truth["look"], doc.doctype if doc else "none",
                       truth["fields"], values)

    # OCR first, on ``workers`` threads (Tesseract runs outside the GIL); extraction after.
    def read_only(i: int) -> None:
        image, _ = ensure_receipt(seed, i)
        read_page(image, first_lang)
        if lang is None:
            for d in types:
                if d.lang or d.page_layout != "auto":
                    read_page(image, d.lang or first_lang, d.psm)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for n, _ in enumerate(pool.map(read_only, range(count)), 1):
            if n % 20 == 0:
                say(f"  {n}/{count} receipts read")
    return [one(i) for i in range(count)]


def _builtin():
    from extraction.doctypes import builtin_doctypes

    return builtin_doctypes()


def score(outcomes: list[Outcome]) -> dict[str, tuple[int, int]]:
    """Fields exact per field name, and over all: (exact, of)."""
    out: dict[str, tuple[int, int]] = {}
    for name in FIELDS:
        got = [o.exact(name) for o in outcomes if name in o.truth]
        if got:
            out[name] = (sum(got), len(got))
    out["all"] = (sum(v[0] for v in out.values()), sum(v[1] for v in out.values()))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.receipts", description=__doc__.split(
        "\n\n")[0])
    ap.add_argument("--seed", default="dev",
                    help="dev (1, to write a type against), test (2, to report) or a number")
    ap.add_argument("--count", type=int, default=100, help="receipts (default 100)")
    ap.add_argument("--doctypes", type=Path, default=Path("docs/examples"),
                    help="folder of the document type(s) to try (default docs/examples)")
    ap.add_argument("--doctype", help="the type's id (default: the folder's first type)")
    ap.add_argument("--lang", help="read every receipt in these languages only, as "
                                   "`dossier extract --lang` does")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--misses", action="store_true", help="list every value not exact")
    ap.add_argument("--save-images", type=Path, help="copy the receipts' images here")
    a = ap.parse_args(argv)
    seed = SEEDS.get(a.seed) or int(a.seed)
    outcomes = run(seed, a.count, a.doctypes, a.doctype, a.lang, a.workers,
                   progress=lambda m: print(m, file=sys.stderr))
    if a.save_images:
        a.save_images.mkdir(parents=True, exist_ok=True)
        for i in range(a.count):
            image, _ = ensure_receipt(seed, i)
            (a.save_images / image.name).write_bytes(image.read_bytes())
    if a.misses:
        for o in outcomes:
            for name in FIELDS:
                if name in o.truth and not o.exact(name):
                    print(f"#{o.index:03d} {o.shop[:24]:24} {o.look:5} {name:15} "
                          f"want {o.truth[name]!r} got {o.values.get(name)!r}")
    s = score(outcomes)
    print(f"seed {seed} ({a.seed}), {len(outcomes)} receipts, type from {a.doctypes}"
          + (f", read in {a.lang}" if a.lang else ""))
    for name, (ok, n) in s.items():
        if name != "all":
            print(f"  {name:16} {ok:4d}/{n:<4d} {ok / n:6.1%}")
    ok, n = s["all"]
    print(f"fields exact: {ok}/{n} = {ok / n:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
