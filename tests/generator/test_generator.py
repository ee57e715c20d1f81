"""Tests of the sample dossier generator: determinism, valid content, truth contract, containers."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from datetime import date
from pathlib import Path

import pdfplumber
import pytest
from PIL import Image

from sample_scans.generator import (
    CONTAINERS,
    DOCTYPES,
    LAYOUTS,
    SPLIT_LAYOUTS,
    DossierSpec,
    generate_corpus,
    generate_dossier,
)
from sample_scans.generator.data import (
    PROVINCE_ID_CODES,
    id_century_digit,
    make_person,
    validate_citizen_id,
)
from sample_scans.generator.fonts import FONT_FAMILIES, families_for_split, missing_glyphs

SAMPLES = Path(__file__).resolve().parents[2] / "sample_scans"

REQUIRED_FIELDS = {
    "cccd_front": {"citizen_id", "full_name", "date_of_birth", "sex", "nationality", "place_of_origin",
                   "place_of_residence", "expiry_date"},
    "cccd_back": {"issue_date", "issuing_authority", "identifying_marks", "mrz"},
    "birth_registration": {"declarant_name", "declarant_id", "declarant_residence", "relationship", "child_name",
                           "child_sex", "child_date_of_birth", "child_place_of_birth", "child_ethnicity",
                           "child_nationality", "mother_name", "mother_id", "father_name", "father_id",
                           "declaration_date", "declaration_place"},
    "birth_certificate_extract": {"document_number", "child_name", "child_date_of_birth", "child_sex",
                                  "child_place_of_birth", "mother_name", "father_name", "registration_date",
                                  "issuing_authority"},
    "marriage_registration": {"wife_name", "wife_date_of_birth", "wife_id", "husband_name",
                              "husband_date_of_birth", "husband_id", "residence", "declaration_date"},
    "residence_confirmation": {"document_number", "full_name", "citizen_id", "date_of_birth", "sex",
                               "permanent_residence", "current_residence", "issue_date", "issuing_authority"},
    "land_use_certificate": {"certificate_serial", "owner_name", "owner_id", "parcel_number", "map_sheet_number",
                             "land_address", "area_m2", "land_use_purpose"},
    "enterprise_registration": {"enterprise_code", "enterprise_name", "head_office_address", "charter_capital",
                                "legal_representative", "representative_id", "first_registration_date"},
    "receipt_appointment": {"dossier_code", "procedure_name", "applicant_name", "applicant_id", "phone",
                            "received_date", "appointment_date"},
    "power_of_attorney": {"grantor_name", "grantor_id", "grantee_name", "grantee_id", "scope", "date"},
    "application_letter": {"applicant_name", "citizen_id", "date_of_birth", "address", "subject", "date"},
}
ID_FIELDS = {"citizen_id", "declarant_id", "mother_id", "father_id", "wife_id", "husband_id", "owner_id",
             "representative_id", "applicant_id", "grantor_id", "grantee_id"}
DATE_FIELDS = {"date_of_birth", "expiry_date", "issue_date", "child_date_of_birth", "declaration_date",
               "registration_date", "wife_date_of_birth", "husband_date_of_birth", "first_registration_date",
               "received_date", "appointment_date", "date"}
PAGE_KEYS = {"index", "file", "source_page", "width", "height", "dpi", "rotation", "skew_deg", "degradations",
             "text", "words"}


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _truths(folder: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.truth.json"))]


def _frame(page: dict) -> tuple[int, int]:
    w, h = page["width"], page["height"]
    return (h, w) if page["rotation"] in (90, 270) else (w, h)


@pytest.fixture(scope="module")
def every_doctype(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dossier per doctype, cycling through every container and the heavy degradations."""
    out = tmp_path_factory.mktemp("every")
    for i, doctype in enumerate(sorted(DOCTYPES)):
        container = CONTAINERS[i % len(CONTAINERS)]
        spec = DossierSpec(name=f"{doctype}-{container}", seed=1000 + i, split="dev", container=container,
                           degradation="heavy" if i % 2 else "light",
                           items=[(doctype, LAYOUTS[doctype][0], "applicant")])
        generate_dossier(out, spec)
    return out


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    """GIVEN the same seed and arguments
    WHEN a corpus is generated twice into different folders
    THEN every file, images and truth alike, is byte-identical."""
    kwargs = dict(dossiers=3, seed=7, split="dev", doctypes=["cccd_front", "cccd_back", "application_letter"],
                  containers=["png", "pdf-scan", "folder", "tiff"], degradation="heavy")
    generate_corpus(tmp_path / "one", **kwargs)
    generate_corpus(tmp_path / "two", **kwargs)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")


def test_different_seed_gives_different_content(tmp_path: Path) -> None:
    """GIVEN two seeds
    WHEN one dossier is generated with each
    THEN the truths differ."""
    for s in (1, 2):
        generate_corpus(tmp_path / str(s), dossiers=1, seed=s, doctypes=["cccd_front"], containers=["png"],
                        degradation="clean")
    assert _truths(tmp_path / "1")[0]["documents"] != _truths(tmp_path / "2")[0]["documents"]


def test_personal_id_numbers_are_valid() -> None:
    """GIVEN many generated people
    WHEN their 12-digit ID numbers are checked
    THEN province code is real and the century/gender digit and year match birth date and sex."""
    rng = random.Random(3)
    for _ in range(500):
        p = make_person(rng, born=(1940, 2024))
        cid = p.citizen_id
        assert len(cid) == 12 and cid.isdigit()
        assert cid[:3] in PROVINCE_ID_CODES
        assert int(cid[3]) == (0 if p.dob.year < 2000 else 2) + (1 if p.sex == "Nữ" else 0)
        assert cid[4:6] == f"{p.dob.year % 100:02d}"
        assert validate_citizen_id(cid, p.sex, p.dob.year)
    assert PROVINCE_ID_CODES["001"] == "Thành phố Hà Nội"
    assert PROVINCE_ID_CODES["079"] == "Thành phố Hồ Chí Minh"
    assert PROVINCE_ID_CODES["048"] == "Thành phố Đà Nẵng"
    assert id_century_digit("Nữ", 2005) == 3
    assert not validate_citizen_id("999085001234")


def test_every_font_covers_vietnamese() -> None:
    """GIVEN the font families documents are set in
    WHEN each face is checked against the full Vietnamese alphabet
    THEN no glyph is missing."""
    for fam in FONT_FAMILIES.values():
        for path in (fam.regular, fam.bold, fam.italic, fam.bold_italic):
            assert missing_glyphs(path) == [], path


def test_truth_schema_is_complete_for_every_doctype_and_container(every_doctype: Path) -> None:
    """GIVEN one dossier of every doctype across every container
    WHEN its truth file is read
    THEN it has every contract key, every required field, ISO dates and digit-only IDs."""
    truths = _truths(every_doctype)
    assert {t["documents"][0]["doctype"] for t in truths} == set(DOCTYPES)
    assert {t["container"] for t in truths} == set(CONTAINERS)
    for t in truths:
        assert set(t) == {"schema", "dossier", "container", "seed", "split", "pages", "documents"}
        assert t["schema"] == "dossier-truth/1" and t["split"] == "dev"
        assert (every_doctype / t["dossier"]).exists()
        for i, page in enumerate(t["pages"]):
            assert set(page) == PAGE_KEYS and page["index"] == i
            assert page["text"] and page["words"]
            assert page["text"].split() == [w["text"] for w in page["words"]]
            if t["container"] == "folder":
                assert (every_doctype / t["dossier"] / page["file"]).exists()
            else:
                assert page["file"] is None
        for doc in t["documents"]:
            fields = doc["fields"]
            assert REQUIRED_FIELDS[doc["doctype"]] <= set(fields), doc["doctype"]
            for k, v in fields.items():
                if k in ID_FIELDS:
                    assert validate_citizen_id(v), (k, v)
                if k in DATE_FIELDS and v:
                    date.fromisoformat(v)
                if k not in ("mrz", "expiry_date", "document_number"):
                    assert v, k
            printed = " ".join(t["pages"][doc["pages"][0]]["text"].split())
            for k in ("full_name", "child_name", "applicant_name", "owner_name", "enterprise_name"):
                if k in fields:
                    assert fields[k] in printed


def test_word_boxes_lie_inside_the_page(every_doctype: Path) -> None:
    """GIVEN dossiers with rotated, skewed and resampled pages
    WHEN each word box is compared with the clean page frame at the final dpi
    THEN every box is non-empty and inside it."""
    for t in _truths(every_doctype):
        for page in t["pages"]:
            fw, fh = _frame(page)
            for w in page["words"]:
                x0, y0, x1, y1 = w["bbox"]
                assert 0 <= x0 < x1 <= fw and 0 <= y0 < y1 <= fh, (t["dossier"], w)


def test_stored_image_size_matches_truth(every_doctype: Path) -> None:
    """GIVEN image dossiers
    WHEN the stored image is opened
    THEN its size is the truth's width and height."""
    for t in _truths(every_doctype):
        if t["container"] in ("png", "jpeg"):
            with Image.open(every_doctype / t["dossier"]) as im:
                assert im.size == (t["pages"][0]["width"], t["pages"][0]["height"])


def test_born_digital_pdf_text_is_extractable(tmp_path: Path) -> None:
    """GIVEN a born-digital PDF dossier with several documents
    WHEN pdfplumber extracts each page's text
    THEN it equals the truth text, word for word, Vietnamese diacritics included."""
    spec = DossierSpec(name="digital", seed=5, split="dev", container="pdf-text",
                       items=[("birth_registration", "a", ""), ("receipt_appointment", "a", ""),
                              ("application_letter", "b", "")])
    generate_dossier(tmp_path, spec)
    truth = json.loads((tmp_path / "digital.pdf.truth.json").read_text(encoding="utf-8"))
    with pdfplumber.open(tmp_path / "digital.pdf") as pdf:
        assert len(pdf.pages) == len(truth["pages"]) == 3
        for page, tp in zip(pdf.pages, truth["pages"], strict=True):
            assert (page.extract_text() or "").split() == tp["text"].split()
    assert "Đề nghị cơ quan đăng ký khai sinh cho người dưới đây:" in truth["pages"][0]["text"]


def test_multipage_tiff_has_one_frame_per_page(tmp_path: Path) -> None:
    """GIVEN a mixed dossier in a TIFF container
    WHEN the TIFF is opened
    THEN it has as many frames as the truth has pages, with matching sizes."""
    spec = DossierSpec(name="mixed", seed=9, split="dev", container="tiff", degradation="light",
                       items=[("receipt_appointment", "b", ""), ("cccd_front", "a", "applicant"),
                              ("cccd_back", "a", "applicant")])
    generate_dossier(tmp_path, spec)
    truth = json.loads((tmp_path / "mixed.tiff.truth.json").read_text(encoding="utf-8"))
    with Image.open(tmp_path / "mixed.tiff") as im:
        assert im.n_frames == len(truth["pages"]) == 3
        for i, page in enumerate(truth["pages"]):
            im.seek(i)
            assert im.size == (page["width"], page["height"])
    assert [d["pages"] for d in truth["documents"]] == [[0], [1], [2]]


def test_dev_and_test_splits_are_disjoint(tmp_path: Path) -> None:
    """GIVEN the dev and test splits
    WHEN their layouts, fonts and generated dossiers are compared
    THEN no doctype shares a layout, no font family is shared, and seeds differ."""
    for doctype in DOCTYPES:
        dev, test = set(SPLIT_LAYOUTS["dev"][doctype]), set(SPLIT_LAYOUTS["test"][doctype])
        assert dev and test and not dev & test
        assert len(LAYOUTS[doctype]) >= 2
    assert not set(families_for_split("dev")) & set(families_for_split("test"))
    seen: dict[str, set] = {}
    for split in ("dev", "test"):
        generate_corpus(tmp_path / split, dossiers=2, seed=1, split=split, doctypes=["cccd_front"],
                        containers=["png"], degradation="clean")
        seen[split] = {(t["seed"], d["layout"]) for t in _truths(tmp_path / split) for d in t["documents"]}
        assert {lay for _, lay in seen[split]} <= set(SPLIT_LAYOUTS[split]["cccd_front"])
    assert not {s for s, _ in seen["dev"]} & {s for s, _ in seen["test"]}


def test_cli_prints_summary_and_writes_manifest(tmp_path: Path) -> None:
    """GIVEN the command line
    WHEN it generates two dossiers
    THEN it exits 0, prints a summary, and the manifest lists each dossier with its truth beside it."""
    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "sample_scans.generator", "--out", str(out), "--dossiers", "2",
                        "--seed", "4", "--split", "test", "--doctypes", "application_letter,cccd_back",
                        "--degradation", "clean"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert "2 dossiers" in r.stdout
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["split"] == "test" and manifest["seed"] == 4
    for entry in manifest["dossiers"]:
        assert (out / entry["dossier"]).exists() and (out / entry["truth"]).exists()
    bad = subprocess.run([sys.executable, "-m", "sample_scans.generator", "--out", str(out), "--dossiers", "1",
                          "--seed", "1", "--doctypes", "passport"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "unknown doctype" in bad.stderr


def test_committed_samples_are_complete() -> None:
    """GIVEN the committed sample set
    WHEN its manifest is read
    THEN each dossier exists with its truth beside it, cards and birth forms are well covered, and it is small."""
    manifest = json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))
    doctypes: list[str] = []
    total = 0
    for entry in manifest["dossiers"]:
        path, truth = SAMPLES / entry["dossier"], SAMPLES / entry["truth"]
        assert path.exists() and truth.exists() and truth.parent == path.parent
        doctypes += sorted(set(entry["doctypes"]))
        files = [p for p in path.rglob("*")] if path.is_dir() else [path]
        total += sum(p.stat().st_size for p in files) + truth.stat().st_size
    assert doctypes.count("cccd_front") >= 3 and doctypes.count("birth_registration") >= 3
    assert 8 <= len(manifest["dossiers"]) <= 12
    assert total <= 15 * 1024 * 1024
