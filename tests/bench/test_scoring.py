"""The benchmark's measures on hand-made examples, and one tiny real run."""

from __future__ import annotations

import random

import pytest

from bench.scoring import (
    levenshtein,
    normalize_text,
    page_doctypes,
    score_fields,
    score_split,
    text_errors,
)
from models.records import ExtractedDocument, ExtractedField, FieldStatus


@pytest.mark.parametrize("a,b,d", [
    ("", "", 0), ("abc", "", 3), ("", "abc", 3), ("kitten", "sitting", 3),
    ("Nguyễn", "Nguyen", 1), ("flaw", "lawn", 2),
])
def test_levenshtein_known_pairs(a, b, d):
    assert levenshtein(a, b) == d


def test_levenshtein_matches_the_textbook_algorithm_on_random_strings():
    def slow(a, b):
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = cur
        return prev[-1]

    rng = random.Random(3)
    for _ in range(200):
        a = "".join(rng.choice("aăbđ ") for _ in range(rng.randint(0, 90)))
        b = "".join(rng.choice("aăbđ ") for _ in range(rng.randint(0, 90)))
        assert levenshtein(a, b) == slow(a, b)
    assert levenshtein(["Họ", "và", "tên"], ["Họ", "tên"]) == 1


def test_text_errors_ignore_leaders_and_line_breaks():
    truth = "Họ và tên: Nguyễn Văn An\nNgày sinh: 01/02/1990"
    ocr = "Họ và tên: Nguyễn Văn An ..........\n\nNgày sinh: 01/02/1990"
    assert normalize_text(ocr) == normalize_text(truth)
    e = text_errors(truth, ocr)
    assert (e.char_edits, e.word_edits, e.cer) == (0, 0, 0.0)
    bad = text_errors(truth, "Họ và tên: Nguyen Văn An\nNgày sinh: 01/02/1990")
    assert bad.char_edits == 1 and bad.word_edits == 1
    assert bad.cer == pytest.approx(1 / len(normalize_text(truth)))
    assert text_errors("abc", "x" * 50).cer == 1.0  # capped


def _field(name, value, status=FieldStatus.accepted):
    return ExtractedField(name=name, value=value, status=status)


def test_field_scoring_pairs_documents_and_counts_misses_and_extras():
    truth = [
        {"doctype": "cccd_front", "pages": [0], "fields": {"citizen_id": "001099012345",
                                                          "full_name": "NGUYỄN VĂN AN",
                                                          "expiry_date": ""}},
        {"doctype": "birth_registration", "pages": [1], "fields": {"child_name": "Lê Bình"}},
    ]
    predicted = [
        ExtractedDocument(doctype="cccd_front", pages=[0], fields=[
            _field("citizen_id", "001099012345"), _field("full_name", "NGUYEN VAN AN"),
            _field("expiry_date", None, FieldStatus.missing)]),
        ExtractedDocument(doctype="power_of_attorney", pages=[1], fields=[
            _field("grantor_name", "Lê Bình")]),
    ]
    out = {(o.doctype, o.name): o for o in score_fields(truth, predicted)}
    assert out["cccd_front", "citizen_id"].correct and out["cccd_front", "citizen_id"].exact
    assert not out["cccd_front", "full_name"].correct  # diacritics matter
    assert out["cccd_front", "expiry_date"].exact and not out["cccd_front", "expiry_date"].emitted
    missed = out["birth_registration", "child_name"]
    assert missed.expected and not missed.emitted
    extra = out["power_of_attorney", "grantor_name"]
    assert extra.truth is None and extra.emitted and not extra.correct


def test_split_scoring():
    truth = [{"doctype": "receipt_appointment", "pages": [0]},
             {"doctype": "cccd_front", "pages": [1]},
             {"doctype": "birth_registration", "pages": [2, 3]}]
    predicted = [ExtractedDocument(doctype="receipt_appointment", pages=[0, 1]),
                 ExtractedDocument(doctype="birth_registration", pages=[2]),
                 ExtractedDocument(doctype="birth_registration", pages=[3])]
    s = score_split(truth, predicted, 4)
    assert s.pages_typed_right == 3
    assert s.true_starts == {1, 2} and s.predicted_starts == {2, 3}
    assert s.documents == 3 and s.documents_found == 0 and not s.exact
    assert page_doctypes([], 2) == ["unknown", "unknown"]
