"""The one-file tools, run as a user runs them: `dossier ocr` and `dossier extract`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_scans"
DOSSIER_BIN = Path(sys.executable).parent / "dossier"


def dossier(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(DOSSIER_BIN), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.fixture(scope="module")
def card_extract(tmp_path_factory) -> dict:
    p = dossier("extract", str(SAMPLES / "cccd-front-clean.png"), "--json",
                cwd=tmp_path_factory.mktemp("cli"))
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_ocr_json_has_words_boxes_and_confidences(tmp_path):
    p = dossier("ocr", str(SAMPLES / "birth-registration-scan-200dpi.pdf"), "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    (page,) = doc["pages"]
    words = [w for line in page["lines"] for w in line["words"]]
    assert len(words) > 100
    assert all(len(w["bbox"]) == 4 and 0 <= w["confidence"] <= 1 for w in words)
    text = " ".join(line["text"] for line in page["lines"]).lower()
    assert "khai sinh" in text
    # Neither the S3 server nor Prefect was started: nothing was written here.
    assert not (tmp_path / ".dossier").exists()


def test_ocr_plain_text_of_a_rotated_page(tmp_path):
    p = dossier("ocr", str(SAMPLES / "birth-registration-rotated-90.tiff"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "TỜ KHAI ĐĂNG KÝ KHAI SINH" in p.stdout.upper()


def test_extract_card(card_extract):
    truth = json.loads((SAMPLES / "cccd-front-clean.png.truth.json").read_text(encoding="utf-8"))
    want = truth["documents"][0]["fields"]
    (doc,) = card_extract["documents"]
    assert doc["doctype"] == "cccd_front"
    fields = {f["name"]: f for f in doc["fields"]}
    assert fields["citizen_id"]["value"] == want["citizen_id"]
    assert fields["date_of_birth"]["value"] == want["date_of_birth"]
    assert 0 < fields["citizen_id"]["confidence"] <= 1


def test_extract_with_an_extra_doctype_folder(tmp_path):
    from tests.pages import render, save

    (tmp_path / "types").mkdir()
    (tmp_path / "types" / "parking_permit.yaml").write_text("""
id: parking_permit
title: Giấy phép đỗ xe
min_score: 3
keywords:
  - {text: "giấy phép đỗ xe", weight: 4, title: true}
fields:
  - name: plate
    title: Biển số
    labels: ["Biển số xe"]
    type: text
  - name: holder_id
    title: Số định danh
    labels: ["Số định danh"]
    type: citizen_id
    citizen: true
""", encoding="utf-8")
    page = save(render(["GIẤY PHÉP ĐỖ XE", "Biển số xe: 29A-123.45",
                        "Số định danh: 001099012345"]), tmp_path / "permit.png")
    p = dossier("extract", str(page), "--doctypes", str(tmp_path / "types"), "--json",
                cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    (doc,) = json.loads(p.stdout)["documents"]
    assert doc["doctype"] == "parking_permit"
    fields = {f["name"]: f["value"] for f in doc["fields"]}
    assert fields == {"plate": "29A-123.45", "holder_id": "001099012345"}


@pytest.mark.parametrize("name,content,code,words", [
    ("scan.pdf", b"%PDF-1.4 garbage", 3, "scan.pdf"),
    ("empty.png", b"", 3, "empty.png"),
    ("notes.txt", "Họ và tên".encode(), 3, "notes.txt"),
])
def test_bad_input_gets_a_clear_error(tmp_path, name, content, code, words):
    f = tmp_path / name
    f.write_bytes(content)
    p = dossier("ocr", str(f), cwd=tmp_path)
    assert p.returncode == code, p.stdout + p.stderr
    assert words in p.stderr and "Traceback" not in p.stderr


def test_missing_file(tmp_path):
    p = dossier("extract", str(tmp_path / "nope.png"), cwd=tmp_path)
    assert p.returncode != 0 and "nope.png" in p.stderr


def test_ocr_many_files_one_output_each_and_a_searchable_pdf(tmp_path):
    """GIVEN two scans and a bad file WHEN `dossier ocr` reads them into a folder THEN each
    good input gets its text and PDF named after it, and the bad one is named in the error."""
    import pdfplumber

    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 truncated")
    out = tmp_path / "out"
    p = dossier("ocr", str(SAMPLES / "cccd-front-clean.png"),
                str(SAMPLES / "birth-registration-clean.png"), str(bad),
                "--out-dir", str(out), "--pdf", cwd=tmp_path)
    assert p.returncode == 4, p.stderr
    assert "broken.pdf" in p.stderr
    assert sorted(x.name for x in out.iterdir()) == [
        "birth-registration-clean.png.pdf", "birth-registration-clean.png.txt",
        "cccd-front-clean.png.pdf", "cccd-front-clean.png.txt"]
    text = (out / "birth-registration-clean.png.txt").read_text(encoding="utf-8")
    assert "KHAI SINH" in text
    with pdfplumber.open(out / "birth-registration-clean.png.pdf") as pdf:
        assert "KHAI SINH" in pdf.pages[0].extract_text()


def test_ingest_takes_the_served_app_from_the_settings(tmp_path):
    """GIVEN DOSSIER_API_URL in the working folder's .env and no API key WHEN `dossier ingest`
    runs THEN it means to upload to that app (not to digitize here) and asks for the key."""
    import os

    (tmp_path / ".env").write_text("DOSSIER_API_URL=http://127.0.0.1:9\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_API_")}
    p = subprocess.run([str(DOSSIER_BIN), "ingest", str(SAMPLES / "cccd-front-clean.png")],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "DOSSIER_API_KEY" in p.stderr
    assert not (tmp_path / ".dossier").exists()


@pytest.mark.parametrize("args", [["ocr", "--no-such-option"], ["bench", "--split", "nope"]])
def test_a_bad_option_is_a_usage_error_in_plain_words(tmp_path, args):
    p = dossier(*args, cwd=tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr and "╭" not in p.stderr
    assert args[-1] in p.stderr
