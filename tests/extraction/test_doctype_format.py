"""The document-type definition format: the worked example of docs/doctypes.md, positions,
patterns, amounts, date notations and errors that name the file, the line and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from extraction.doctypes import load_doctypes
from extraction.validators import parse_date, parse_money
from models.errors import DoctypeDefinitionError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.fixture(scope="module")
def shop_receipt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean English shop receipt, rendered at 300 dpi."""
    img = Image.new("L", (1400, 1500), 255)
    d = ImageDraw.Draw(img)
    big, font = ImageFont.truetype(FONT, 52), ImageFont.truetype(FONT, 40)
    lines = [("NORTHWIND TRADERS LTD", big), ("12 Harbour Street", font),
             ("Bristol BS1 4QA", font), ("", font), ("SALES RECEIPT", big),
             ("Date: 25 DEC 2018", font), ("Till 3   Cashier Anna", font), ("", font),
             ("Coffee beans 1kg        18.50", font), ("Milk 2L                  2.35", font),
             ("Subtotal                20.85", font), ("TOTAL                   20.85", big),
             ("", font), ("Thank you for shopping with us", font)]
    y = 80
    for text, f in lines:
        d.text((100, y), text, font=f, fill=0)
        y += 78
    out = tmp_path_factory.mktemp("receipt") / "shop-receipt.png"
    img.save(out, dpi=(300, 300))
    return out


def test_worked_example_reads_an_english_shop_receipt(shop_receipt: Path) -> None:
    """GIVEN the worked example's definition from docs/doctypes.md and a shop receipt
    WHEN `dossier extract --doctypes docs/examples --json` reads it
    THEN the unlabelled company name and address, the date and the total are found."""
    import json

    r = subprocess.run([sys.executable, "-m", "cli.main", "extract", str(shop_receipt),
                        "--doctypes", str(EXAMPLE), "--lang", "eng", "--json"],
                       capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    docs = json.loads(r.stdout)["documents"]
    assert [d["doctype"] for d in docs] == ["shop_receipt_en"]
    values = {f["name"]: f["value"] for f in docs[0]["fields"]}
    assert values["company_name"] == "NORTHWIND TRADERS LTD"
    assert values["company_address"] == "12 Harbour Street Bristol BS1 4QA"
    assert values["date"] == "2018-12-25"
    assert values["total"] == "20.85"


@pytest.mark.parametrize(("raw", "iso"), [
    ("25/12/2018", "2018-12-25"), ("25-12-18", "2018-12-25"), ("25 DEC 2018", "2018-12-25"),
    ("ngày 05 tháng 3 năm 2020", "2020-03-05"), ("Dec 25, 2018", "2018-12-25"),
    ("12.3.2020", "2020-03-12"),
])
def test_dates_in_the_usual_notations(raw: str, iso: str) -> None:
    assert parse_date(raw).value == iso


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
