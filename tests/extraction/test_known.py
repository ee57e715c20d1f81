"""Learning from what people decided, on real OCR of a committed sample: a reading that is
exactly what a person verified for the same citizen, or in the same field of another
document, or a member of the field's closed list, is accepted; anything else is judged as
before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extraction import extract_documents, load_doctypes
from extraction.known import FixedKnown, VerifiedValue, closed_list, norm
from models.records import FieldSource, FieldStatus
from ocr.loading import Limits, load_page
from ocr.pipeline import OcrOptions, ocr_loaded_page

SAMPLE = Path(__file__).resolve().parents[2] / "sample_scans" / "birth-registration-clean.png"


@pytest.fixture(scope="module")
def form():
    """The OCR of a birth registration form, and its truth."""
    page = load_page(SAMPLE, 0, Limits())
    truth = json.loads(Path(f"{SAMPLE}.truth.json").read_text(encoding="utf-8"))
    return [ocr_loaded_page(page, OcrOptions(), index=0).ocr], truth["documents"][0]


def _fields(docs):
    assert len(docs) == 1 and docs[0].doctype == "birth_registration"
    return {f.name: f for f in docs[0].fields}


def test_a_returning_citizens_verified_values_settle_the_same_readings(form):
    """GIVEN the form read with no history
    WHEN the same citizen's values were verified by a person before (the truth)
    THEN every reading equal to them is accepted with a person's reading beside it, nothing
    accepted before is taken back, and a reading that differs is not accepted for it."""
    pages, truth = form
    doctypes = load_doctypes()
    before = _fields(extract_documents(pages, doctypes))
    cid = str(truth["fields"]["declarant_id"])
    verified = [VerifiedValue("birth_registration", n, str(v), (cid,), "R-earlier")
                for n, v in truth["fields"].items() if v]
    after = _fields(extract_documents(pages, doctypes, known=FixedKnown(verified)))
    same = [n for n, f in after.items()
            if f.value and norm(f.value) == norm(str(truth["fields"].get(n) or ""))]
    assert len(same) >= 8
    for n in same:
        assert after[n].status == FieldStatus.accepted, (n, after[n].problems)
        if before[n].status != FieldStatus.accepted:
            assert any(r.source == FieldSource.person and r.document == "R-earlier"
                       for r in after[n].readings)
    for n, f in before.items():
        if f.status == FieldStatus.accepted:
            assert after[n].status == FieldStatus.accepted
    assert sum(f.status == FieldStatus.accepted for f in after.values()) > \
        sum(f.status == FieldStatus.accepted for f in before.values())

    # Another citizen's verified values are no evidence for this one's fields: only as
    # vocabulary, and a value that is not in it stays as it was.
    other = [VerifiedValue("birth_registration", "child_name", "Trần Văn Khác", ("001099000001",))]
    alone = _fields(extract_documents(pages, doctypes, known=FixedKnown(other)))
    assert {n: f.status for n, f in alone.items()} == {n: f.status for n, f in before.items()}


def test_closed_lists_hold_the_official_names_and_a_member_read_exactly_is_accepted(form):
    assert len({n for n in closed_list("ethnic_groups")}) >= 54
    assert {"kinh", "ê đê", "mông", "khmer"} <= closed_list("ethnic_groups")
    assert norm("Việt  Nam.") in closed_list("nationalities")
    pages, truth = form
    got = _fields(extract_documents(pages, load_doctypes()))
    for name in ("child_ethnicity", "child_nationality", "relationship"):
        f = got[name]
        if f.value == truth["fields"][name]:
            assert f.status == FieldStatus.accepted, (name, f.problems)


def test_a_field_naming_an_unknown_closed_list_is_refused_when_the_type_is_loaded(tmp_path):
    from extraction.doctypes import DoctypeDef

    with pytest.raises(ValueError, match="no closed list 'tribes'.*ethnic_groups"):
        DoctypeDef.model_validate({
            "id": "x", "title": "X", "keywords": [{"text": "x"}],
            "fields": [{"name": "e", "labels": ["Dân tộc"], "closed_list": "tribes"}]})
