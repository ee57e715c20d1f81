"""The document-type definition format: the worked example of docs/doctypes.md, positions,
patterns, amounts, date notations and errors that name the file, the line and the fix; the
options that choose among several places a value is found (``nth``, ``pick``,
``label_order``, ``capitals``, ``anywhere``, ``segment: -1``, ``after`` an unlabelled field),
``date_order``, ``keep_punctuation``, a type's ``lang`` and ``page_layout``, and
``dossier extract --explain``. The option tests read one rendered page with real Tesseract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image, ImageDraw, ImageFont

from extraction.doctypes import DoctypeDef, load_doctypes
from extraction.validators import parse_date, parse_money, parse_value
from models.errors import DoctypeDefinitionError
from models.ocr import PageOCR

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
MONO_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"


def _render(lines: list[tuple[str, str, str]], path: Path, width: int = 1100) -> Path:
    """Lines printed as a receipt printer would, at 300 dpi: (left text, amount at the right
    edge, style: "" / "big" / "centre")."""
    font, big = ImageFont.truetype(MONO, 34), ImageFont.truetype(MONO_BOLD, 48)
    img = Image.new("L", (width, 90 + 58 * len(lines)), 255)
    d = ImageDraw.Draw(img)
    y = 60
    for left, right, style in lines:
        f = big if style == "big" else font
        x = (width - f.getlength(left)) / 2 if style in ("big", "centre") else 60
        d.text((x, y), left, font=f, fill=0)
        if right:
            d.text((width - 60 - f.getlength(right), y), right, font=f, fill=0)
        y += 72 if style == "big" else 58
    img.save(path, dpi=(300, 300))
    return path


# The receipt of docs/doctypes.md's worked example.
WORKED_RECEIPT = [
    ("Welcome to", "", "centre"), ("SANYU STATIONERY SHOP", "", "big"),
    ("(81109-A)", "", "centre"), ("NO. 31, JALAN SETIA INDAH 2,", "", "centre"),
    ("40170 SETIA ALAM, SELANGOR.", "", "centre"), ("Tel: 03-3362 4137", "", "centre"),
    ("TAX INVOICE", "", "centre"), ("Invoice No: CS-SA-0120436", "", ""),
    ("Date: 30 Dec 17   Time: 10:22", "", ""), ("Cashier: LEE", "", ""),
    ("TotalQty: 3", "", ""), ("Sub Total", "31.00", ""), ("GST 6%", "1.86", ""),
    ("Total", "32.86", ""), ("Rounding", "-0.01", ""), ("Grand Total", "32.85", ""),
    ("Cash", "50.00", ""), ("Change", "17.15", ""),
    ("Thank you. Please come again.", "", "centre"),
]


@pytest.fixture(scope="module")
def shop_receipt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worked example's shop receipt, rendered at 300 dpi."""
    return _render(WORKED_RECEIPT, tmp_path_factory.mktemp("receipt") / "shop-receipt.png")


def _extract(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", "extract", *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_worked_example_reads_a_shop_receipt(shop_receipt: Path) -> None:
    """GIVEN the worked example's definition from docs/doctypes.md and its shop receipt
    WHEN `dossier extract --doctypes docs/examples --json --explain` reads it, with no --lang
    THEN the page is read again as the type asks (English, one column), and the shop's name
    (the first line in capitals), its registration number and address (below it, kept as
    printed), the receipt number, the date (30 Dec 17) and the total (Grand Total before
    Total) come out as the docs show, each saying where it was found."""
    r = _extract(str(shop_receipt), "--doctypes", str(EXAMPLE), "--json", "--explain")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    docs = out["documents"]
    assert [d["doctype"] for d in docs] == ["shop_receipt_en"]
    assert out["pages"][0]["read_in"] == "eng, page segmentation 4"
    values = {f["name"]: f["value"] for f in docs[0]["fields"]}
    assert values.pop("registration_no").replace(" ", "") == "81109-A"  # "81109 -A" at times
    assert values == {
        "company_name": "SANYU STATIONERY SHOP",
        "company_address": "NO. 31, JALAN SETIA INDAH 2, 40170 SETIA ALAM, SELANGOR.",
        "receipt_no": "CS-SA-0120436", "date": "2017-12-30", "total": "32.85"}
    found_by = docs[0]["found_by"]
    assert "label 'Grand Total'" in found_by["total"] and "pick: largest" in found_by["total"]
    assert "in capitals" in found_by["company_name"]
    assert "below field 'registration_no'" in found_by["company_address"]


def test_explain_says_why_a_page_is_under_min_score(shop_receipt: Path, tmp_path: Path) -> None:
    """GIVEN a type whose keywords on the receipt weigh less than its min_score
    WHEN `dossier extract --explain` reads the receipt
    THEN it says that no type reached its min_score, the type's score against it, and the
    keywords found and not found; without --explain the command still says it happened."""
    (tmp_path / "t.yaml").write_text(
        "id: till_slip\ntitle: Till slip\nmin_score: 5\nlang: eng\n"
        "keywords: [total, cash, {text: loyalty card, weight: 3}]\n"
        "fields:\n  - name: total\n    labels: [Grand Total]\n    type: money\n",
        encoding="utf-8")
    r = _extract(str(shop_receipt), "--doctypes", str(tmp_path), "--explain")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "no document type reached its min_score" in text
    assert "till_slip weighs 2 of the 5 it needs" in text
    assert "found 'total', 'cash'; not found 'loyalty card' (3)" in text
    r = _extract(str(shop_receipt), "--doctypes", str(tmp_path))
    assert "no document type reached its min_score; --explain" in " ".join(r.stderr.split())


# -- one page read by Tesseract, for the options that choose among places -------------------

FEATURES = [
    ("Welcome to our shop", "", ""), ("ACME HARDWARE SDN. BHD.", "", "big"),
    ("NO. 5, JALAN BUKIT,", "", ""), ("81200 JOHOR BAHRU.", "", ""),
    ("Tel: 07-123 4567", "", ""), ("Date: 12/25/2018", "", ""),
    ("Delivery 2018/02/22", "", ""), ("TotalAmount: 12.30", "", ""),
    ("TOTAL QTY", "3", ""), ("TOTAL", "15.00", ""), ("Grand Total", "15.50", ""),
    ("Cash RM", "50.00", ""), ("TOTAL SAVINGS", "2.00", ""), ("Paid 30 Dec 17", "", ""),
    ("Expiry 31/02/2018", "", ""),
]


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> PageOCR:
    """A page with a label printed several times, dates in several notations, a shop's
    name under a greeting and its address, read once by Tesseract as the pipeline reads."""
    from ocr.files import ocr_file
    from ocr.pipeline import OcrOptions

    path = _render(FEATURES, tmp_path_factory.mktemp("features") / "features.png")
    page = ocr_file(path, OcrOptions(lang="eng", psm=4)).pages[0]
    texts = [line.text for line in page.lines]
    assert any("TotalAmount" in t for t in texts), texts  # the page reads as printed
    return page


def _type(fields: str, **top: str) -> DoctypeDef:
    head = "".join(f"{k}: {v}\n" for k, v in top.items())
    return DoctypeDef.model_validate(yaml.safe_load(
        f"id: t\ntitle: T\nkeywords: [total]\n{head}fields:\n{fields}"))


def _read(page: PageOCR, fields: str, **top: str) -> dict:
    from extraction.fields import extract_fields
    from extraction.layout import page_rows

    got = extract_fields(_type(fields, **top), page_rows(page, 0),
                         page_sizes={0: (page.width, page.height)})
    return {f.name: f for f in got}


def test_nth_minus_one_is_the_last_occurrence(features: PageOCR) -> None:
    """GIVEN "TOTAL" printed four times (QTY, the total, in "Grand Total", SAVINGS)
    WHEN a field takes `nth: -1`, `nth: 2` or `nth: -5` of it
    THEN -1 is the last (the savings), 2 the second, and -5 (there are four) finds nothing,
    without an error."""
    f = "  - {name: t, labels: [TOTAL], type: money, segment: -1, nth: %s}\n"
    assert _read(features, f % -1)["t"].value == "2.00"
    assert _read(features, f % 2)["t"].value == "15.00"
    assert _read(features, f % -5)["t"].value is None


def test_a_label_is_a_whole_word_not_part_of_a_glued_one(features: PageOCR) -> None:
    """GIVEN "TotalAmount: 12.30" printed before "TOTAL QTY 3"
    WHEN the label "TOTAL" is looked for
    THEN its first occurrence is TOTAL QTY's: "Total" inside "TotalAmount" is no label; the
    label "Total Amount" still finds the glued word."""
    assert _read(features, "  - {name: t, labels: [TOTAL], type: money, segment: -1}\n"
                 )["t"].value == "3"
    assert _read(features, "  - {name: t, labels: [Total Amount], type: money}\n"
                 )["t"].value == "12.30"


@pytest.mark.parametrize(("pick", "value"), [("first", "3"), ("last", "2.00"),
                                             ("largest", "15.50")])
def test_pick_first_last_or_largest_of_a_labels_values(features: PageOCR, pick: str,
                                                       value: str) -> None:
    """GIVEN the amounts at the end of the four lines with "TOTAL" (3, 15.00, 15.50, 2.00)
    WHEN a field has `pick: first`, `last` or `largest`
    THEN it gets the first, the last and the largest amount."""
    got = _read(features, f"  - {{name: t, labels: [TOTAL], type: money, segment: -1, "
                          f"pick: {pick}}}\n")
    assert got["t"].value == value
    assert f"pick: {pick}" in got["t"]._origin


def test_labels_in_the_order_of_preference(features: PageOCR) -> None:
    """GIVEN "Grand Total" printed below "TOTAL QTY" and "TOTAL"
    WHEN the labels [Amount Due, Grand Total, TOTAL] are tried with `label_order:
    preference`, and the same labels without it
    THEN with it the first label printed (Grand Total) gives the value; without it, all
    count together in page order and TOTAL QTY's comes first."""
    f = "  - {name: t, labels: [Amount Due, Grand Total, TOTAL], type: money, " \
        "segment: -1%s}\n"
    assert _read(features, f % ", label_order: preference")["t"].value == "15.50"
    assert _read(features, f % "")["t"].value == "3"


def test_the_last_cell_of_a_line(features: PageOCR) -> None:
    """GIVEN "Cash RM" and, at the right edge, 50.00
    WHEN the value right of "Cash" is its first cell or `segment: -1`
    THEN the first cell is "RM" (no amount) and the last is 50.00."""
    f = "  - {name: t, labels: [Cash], type: money, value_position: right%s}\n"
    assert _read(features, f % "")["t"].value is None
    assert _read(features, f % ", segment: -1")["t"].value == "50.00"


def test_first_line_in_capitals_kept_as_printed_and_the_lines_under_it(
        features: PageOCR) -> None:
    """GIVEN a greeting, then the shop's name in capitals ending in a full stop, its address
    on two lines ending in a full stop, and a Tel line
    WHEN the name is `position: {line: 1}` with `capitals: true`, and the address the
    lines `after` it (`lines: 3`, the stop label Tel ending it)
    THEN the name is the second line; `keep_punctuation` keeps the printed full stops the
    text type drops otherwise."""
    fields = ("  - {name: shop, position: {line: 1}, capitals: true%s}\n"
              "  - {name: address, after: shop, position: {line: 1}, lines: 3%s}\n")
    kept = _read(features, fields % (", keep_punctuation: true", ", keep_punctuation: true"),
                 stop_labels="[Tel]")
    assert kept["shop"].value == "ACME HARDWARE SDN. BHD."
    assert kept["address"].value == "NO. 5, JALAN BUKIT, 81200 JOHOR BAHRU."
    trimmed = _read(features, fields % ("", ""), stop_labels="[Tel]")
    assert trimmed["shop"].value == "ACME HARDWARE SDN. BHD"
    assert trimmed["address"].value == "NO. 5, JALAN BUKIT, 81200 JOHOR BAHRU"
    assert _read(features, "  - {name: shop, position: {line: 1}}\n")["shop"].value == \
        "Welcome to our shop"


def test_dates_by_their_order_and_notation(features: PageOCR) -> None:
    """GIVEN "Date: 12/25/2018", "Delivery 2018/02/22", "Paid 30 Dec 17", "Expiry 31/02/2018"
    WHEN they are read with `date_order: mdy`, the default (dmy), and as printed
    THEN 12/25/2018 is 25 December in mdy and no date in dmy (a problem, value None), the
    year-first and month-name dates read whatever the order, and 31 February is never a
    value."""
    f = "  - {name: d, labels: [%s], type: date%s}\n"
    assert _read(features, f % ("Date", ", date_order: mdy"))["d"].value == "2018-12-25"
    dmy = _read(features, f % ("Date", ""))["d"]
    assert dmy.value is None and any("not a real calendar date" in p for p in dmy.problems)
    assert _read(features, f % ("Delivery", ""))["d"].value == "2018-02-22"
    assert _read(features, f % ("Paid", ""))["d"].value == "2017-12-30"
    expiry = _read(features, f % ("Expiry", ""))["d"]
    assert expiry.value is None and expiry.problems


def test_anywhere_takes_the_first_valid_value_when_the_label_is_missing(
        features: PageOCR) -> None:
    """GIVEN no "Invoice date" label on the page, and 12/25/2018 (no day-month date)
    before 2018/02/22
    WHEN a date field has that label and `anywhere: true`
    THEN the first line with a valid date gives it."""
    got = _read(features, "  - {name: d, labels: [Invoice date], type: date, "
                          "anywhere: true}\n")["d"]
    assert got.value == "2018-02-22" and "anywhere" in got._origin


def test_a_region_joins_its_lines_and_a_value_keeps_its_own_text_and_box(
        features: PageOCR) -> None:
    """GIVEN the address's two lines inside a region
    WHEN a field takes the region, and another the postcode in it by a pattern
    THEN the region's lines are joined by a space, top to bottom; the postcode's raw text
    and box are its own, not the region's."""
    from extraction.layout import page_rows

    rows = page_rows(features, 0)
    top = next(r for r in rows if r.text.startswith("NO. 5")).bbox[1] / features.height
    bottom = next(r for r in rows if r.text.startswith("81200")).bbox[3] / features.height
    region = f"[0, {top - 0.005:.3f}, 1, {bottom + 0.005:.3f}]"
    whole = _read(features, f"  - {{name: a, position: {{region: {region}}}}}\n")["a"]
    assert whole.value == "NO. 5, JALAN BUKIT, 81200 JOHOR BAHRU"
    code = _read(features, f"  - {{name: p, position: {{region: {region}}}, "
                           f"pattern: '(\\d{{5}})'}}\n")["p"]
    assert code.value == code.raw == "81200"
    assert code.bbox is not None and whole.bbox is not None
    assert code.bbox[2] - code.bbox[0] < 0.5 * (whole.bbox[2] - whole.bbox[0])


def test_a_type_is_read_again_in_its_own_languages_and_layout(features: PageOCR) -> None:
    """GIVEN a type with `lang: eng` and `page_layout: column`, and a page read in vie+eng
    WHEN the pages are prepared for extraction
    THEN the page of that type is read again in English, one column (segmentation 4), and
    a page read as the type asks already is not."""
    from extraction import read_as_their_types

    t = _type("  - {name: t, labels: [TOTAL]}\n", lang="eng", page_layout="column")
    asked: list[tuple[int, str, int]] = []

    def reread(i: int, langs: str, psm: int) -> PageOCR:
        asked.append((i, langs, psm))
        return features.model_copy(deep=True)

    read_as_their_types([features], [t], "vie+eng", reread)
    assert asked == [(0, "eng", 4)]
    asked.clear()
    read_as_their_types([features], [_type("  - {name: t, labels: [TOTAL]}\n", lang="eng")],
                        "eng", reread)
    assert asked == []


@pytest.mark.parametrize(("raw", "iso"), [
    ("25/12/2018", "2018-12-25"), ("25-12-18", "2018-12-25"), ("25 DEC 2018", "2018-12-25"),
    ("ngày 05 tháng 3 năm 2020", "2020-03-05"), ("Dec 25, 2018", "2018-12-25"),
    ("12.3.2020", "2020-03-12"), ("30 Dec 17", "2017-12-30"), ("24 Mar 18", "2018-03-24"),
    ("24-Mar-18", "2018-03-24"), ("2018/02/22", "2018-02-22"),
    ("2018-01-05 14:22", "2018-01-05"),
])
def test_dates_in_the_usual_notations(raw: str, iso: str) -> None:
    assert parse_date(raw).value == iso


@pytest.mark.parametrize(("raw", "order", "iso"), [
    ("12/25/2018", "mdy", "2018-12-25"), ("03/04/2018", "mdy", "2018-03-04"),
    ("03/04/2018", "dmy", "2018-04-03"), ("18/02/22", "ymd", "2018-02-22"),
    ("2018/02/22", "mdy", "2018-02-22"), ("30 Dec 17", "mdy", "2017-12-30"),
])
def test_date_order_says_how_dates_of_numbers_are_written(raw: str, order: str,
                                                          iso: str) -> None:
    assert parse_date(raw, order).value == iso


@pytest.mark.parametrize(("raw", "order"), [("31/02/2018", "dmy"), ("12/25/2018", "dmy"),
                                            ("25/12/2018", "mdy"), ("2018-13-01", "dmy")])
def test_an_impossible_date_is_a_problem_not_a_value(raw: str, order: str) -> None:
    parsed = parse_date(raw, order)
    assert parsed.value is None
    assert parsed.problems and parsed.problems[0].startswith("not a real calendar date")


def test_keep_punctuation_keeps_text_as_printed() -> None:
    assert parse_value("text", "AEON CO. (M) BHD.").value == "AEON CO. (M) BHD"
    assert parse_value("text", "AEON CO. (M) BHD.", keep_punctuation=True).value == \
        "AEON CO. (M) BHD."
    assert parse_value("text", ": 53200, KUALA LUMPUR, ", keep_punctuation=True).value == \
        "53200, KUALA LUMPUR,"
    assert parse_value("text", "Kinh ..........", keep_punctuation=True).value == "Kinh"
    assert parse_value("address", "SETAPAK, KUALA LUMPUR.", keep_punctuation=True).value \
        == "SETAPAK, KUALA LUMPUR."


@pytest.mark.parametrize(("raw", "value"), [
    ("1.500.000 đồng", "1500000"), ("1,500,000 VND", "1500000"), ("$12.50", "12.50"),
    ("12,50 €", "12.50"), ("1 500 000 đ", "1500000"),
])
def test_money_amounts(raw: str, value: str) -> None:
    assert parse_money(raw).value == value


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "bad.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_bad_field_type_names_file_line_and_known_types(tmp_path: Path) -> None:
    _write(tmp_path, "id: x\ntitle: X\nkeywords: [x]\nfields:\n  - name: a\n"
                     "    labels: [A]\n    type: dat\n")
    with pytest.raises(DoctypeDefinitionError) as e:
        load_doctypes(tmp_path)
    msg = str(e.value)
    assert "bad.yaml" in msg and "line 7" in msg and "unknown field type 'dat'" in msg
    assert "date" in msg  # the known types are listed


def test_misspelt_option_and_bad_regex_are_named(tmp_path: Path) -> None:
    _write(tmp_path, "id: x\ntitle: X\nkeywords: [x]\nfields:\n  - name: a\n"
                     "    labels: [A]\n    valu_position: right\n"
                     "  - name: b\n    pattern: '([0-9]+'\n")
    with pytest.raises(DoctypeDefinitionError) as e:
        load_doctypes(tmp_path)
    msg = str(e.value)
    assert "line 7" in msg and "valu_position" in msg and "check its spelling" in msg
    assert "line 9" in msg and "regular expression" in msg


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    _write(tmp_path, "id: x\ntitle: X\nkeywords: [x\nfields: []\n")
    with pytest.raises(DoctypeDefinitionError) as e:
        load_doctypes(tmp_path)
    assert "bad.yaml" in str(e.value) and "line " in str(e.value)


def test_a_field_needs_a_way_to_be_found(tmp_path: Path) -> None:
    _write(tmp_path, "id: x\ntitle: X\nkeywords: [x]\nfields:\n  - name: a\n    type: text\n")
    with pytest.raises(DoctypeDefinitionError) as e:
        load_doctypes(tmp_path)
    assert "line 5" in str(e.value) and "labels" in str(e.value)


def _refused(tmp_path: Path, field: str, top: str = "") -> str:
    _write(tmp_path, f"id: x\ntitle: X\nkeywords: [x]\n{top}fields:\n{field}")
    with pytest.raises(DoctypeDefinitionError) as e:
        load_doctypes(tmp_path)
    return str(e.value)


@pytest.mark.parametrize(("field", "says"), [
    ("  - {name: a, labels: [A], nth: 0}\n", "`nth` counts from 1"),
    ("  - {name: a, position: {line: 1}, nth: 2}\n", "`nth` counts the occurrences of a label"),
    ("  - {name: a, labels: [A], nth: 2, pick: last}\n", "either `nth`"),
    ("  - {name: a, labels: [A], pick: largest}\n", "`pick: largest` compares amounts"),
    ("  - {name: a, labels: [A], pick: best}\n", "'first', 'last' or 'largest'"),
    ("  - {name: a, labels: [A], label_order: preference}\n", "two labels or more"),
    ("  - {name: a, anywhere: true, position: {line: 1}}\n", "one or the other"),
    ("  - {name: a, labels: [A], date_order: mdy}\n", "`date_order` is for `type: date`"),
    ("  - {name: a, labels: [A], type: date, date_order: dm}\n", "'dmy', 'mdy' or 'ymd'"),
    ("  - {name: a, labels: [A], type: money, keep_punctuation: true}\n",
     "`keep_punctuation` is for"),
    ("  - {name: a, labels: [A], segment: 0}\n", "-1 is the last cell"),
    ("  - {name: a, labels: [A], lines: 0}\n", "greater than or equal to 1"),
])
def test_options_that_cannot_work_are_refused_with_the_fix(tmp_path: Path, field: str,
                                                            says: str) -> None:
    msg = _refused(tmp_path, field)
    assert "bad.yaml" in msg and "line 5" in msg and says in msg, msg


def test_nth_minus_one_passes_and_a_bad_lang_or_layout_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "id: x\ntitle: X\nkeywords: [x]\nfields:\n"
                     "  - {name: a, labels: [A], nth: -1}\n")
    assert load_doctypes(tmp_path)[-1].fields[0].nth == -1
    assert "Tesseract's language codes" in _refused(tmp_path, "  - {name: a, labels: [A]}\n",
                                                     "lang: english please\n")
    assert "'auto' or 'column'" in _refused(tmp_path, "  - {name: a, labels: [A]}\n",
                                            "page_layout: columns\n")


def test_errors_point_at_the_format_description(tmp_path: Path) -> None:
    msg = _refused(tmp_path, "  - {name: a, labels: [A], nth: 0}\n")
    assert "docs/doctypes.md" in msg and "extraction/doctypes/*.yaml" not in msg
