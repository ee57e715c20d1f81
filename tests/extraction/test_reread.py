"""A held value's lines read again alone (``ocr.reread``, ``extraction.reread``): read with the
real Tesseract on a rendered page, the rule that accepts a value read twice alike, and the
second threshold training chooses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from extraction.confidence import FEATURES, Calibrator
from extraction.reread import (
    MAX_HELD,
    candidates,
    confirmable,
    same_reading,
    settle_by_rereading,
)
from extraction.training import Example, _reread_threshold
from extraction.vocab import LEXICON_RESTORED
from models.ocr import line_boxes
from models.records import ExtractedDocument, ExtractedField, FieldSource, FieldStatus
from ocr.reread import read_lines
from ocr.searchable import FONT_CANDIDATES, page_jpeg

LINES = ["Số 12 đường Lý Thường Kiệt,", "Phường Minh Khai, Tỉnh Hà Nam"]


def _page() -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A white 300 dpi page with the two lines printed at 11 pt, and each line's ink box."""
    font_path = next(p for p in FONT_CANDIDATES if p.exists())
    font = ImageFont.truetype(str(font_path), 46)
    img = Image.new("L", (1800, 600), 255)
    draw = ImageDraw.Draw(img)
    boxes = []
    for k, text in enumerate(LINES):
        xy = (300, 150 + 90 * k)
        draw.text(xy, text, font=font, fill=0)
        boxes.append(tuple(int(v) for v in draw.textbbox(xy, text, font=font)))
    return np.array(img), boxes


def _calibrator(p: float, *, threshold: float = 0.98, second: float | None = 0.95
                ) -> Calibrator:
    """A scorer that gives every value probability ``p`` (a logistic model with no weight)."""
    return Calibrator(coef=[0.0] * len(FEATURES), intercept=math.log(p / (1 - p)),
                      threshold=threshold, means=[0.0] * len(FEATURES),
                      scales=[1.0] * len(FEATURES), info={}, reread_threshold=second)


def _held(name: str, value: str, boxes, kind: str = "address") -> ExtractedField:
    f = ExtractedField(name=name, value=value, raw=value, page=0, status=FieldStatus.review,
                       confidence=0.96, bbox=boxes[0])
    f._line_boxes = list(boxes)
    f._evidence[f"type_{kind}"] = 1.0
    return f


def test_line_boxes_group_words_into_printed_lines() -> None:
    words = [(100, 10, 180, 40), (190, 12, 260, 42), (100, 60, 150, 90), (270, 8, 300, 38)]
    assert line_boxes(words) == [(100, 8, 300, 42), (100, 60, 150, 90)]
    assert line_boxes([]) == []


def test_each_line_is_read_again_alone_from_the_stored_jpeg() -> None:
    gray, boxes = _page()
    texts = read_lines(page_jpeg(gray), boxes, dpi=300)
    assert texts == LINES
    # A box off the page reads nothing rather than failing.
    assert read_lines(gray, [(5000, 5000, 5100, 5040)]) == [""]


def test_same_reading_needs_the_same_letters_and_accents() -> None:
    f = _held("address", "Phường Minh Khai, Tỉnh Hà Nam", [(0, 0, 1, 1)])
    assert same_reading(f, "PHƯỜNG MINH KHAI . Tỉnh Hà Nam")  # case, spaces, punctuation aside
    assert not same_reading(f, "Phường Minh Khai, Tinh Hà Nam")  # an accent lost
    assert not same_reading(f, "")
    d = _held("date_of_birth", "1995-05-23", [(0, 0, 1, 1)], kind="date")
    d.raw = "23/05/1995"
    assert same_reading(d, "23.05.1995")
    assert not same_reading(d, "28/05/1995")
    amount = _held("charter_capital", "10000.000", [(0, 0, 1, 1)], kind="number")
    amount.raw = ": 10.000,000 đồng"
    assert same_reading(amount, "10.000,000 đồng.")
    assert not same_reading(amount, "10,000,000")  # the same digits, another amount


@pytest.mark.parametrize("kind, value, ok", [
    ("address", "Phường 10, Quận 10, Thành phố Hồ Chí Minh", True),
    ("text", "Bệnh viện Phụ sản Hà Nội", True),
    # Cut short after a unit's word: read again, it reads as short.
    ("text", "Trạm y tế phường", False),
    ("address", "Số 77 đường Phạm Văn Đồng, Thị trấn Châu Ổ, Huyện", False),
    # A unit's word with its accents lost: both readings lose them.
    ("text", "Trạm y tế xã Ia Sao, Tinh Gia Lai", False),
    ("text", "Uy ban nhân dân xã Hùng Thái", False),
    # Capitals lose their small accents to both readings alike.
    ("text", "CÔNG TY TNHH IN ẤN VA QUẢNG CÁO THÀNH ĐẠT", False),
    ("text", "trú", False),
    ("person_name", "Nguyễn Văn Quan", True),
])
def test_what_a_second_reading_cannot_confirm(kind, value, ok) -> None:
    assert confirmable(_held("x", value, [(0, 0, 1, 1)], kind=kind)) is ok


def test_a_value_read_alike_again_is_accepted_and_one_read_otherwise_is_not() -> None:
    gray, boxes = _page()
    image = page_jpeg(gray)
    right = _held("address", " ".join(LINES), boxes)
    # The first reading slipped an accent: the second reading says otherwise.
    slipped = _held("residence", "Số 12 đường Ly Thường Kiệt, Phường Minh Khai, Tỉnh Hà Nam",
                    boxes)
    docs = [ExtractedDocument(doctype="a", pages=[0], fields=[right]),
            ExtractedDocument(doctype="b", pages=[0], fields=[slipped])]
    asked = []

    def reader(page: int, bxs):
        asked.append(page)
        return read_lines(image, bxs, dpi=300)

    assert settle_by_rereading(docs, _calibrator(0.96), reader) == 1
    assert asked == [0, 0]
    assert right.status == FieldStatus.accepted
    assert right.readings[-1].source == FieldSource.reread
    assert slipped.status == FieldStatus.review
    # The reviewer sees the second reading beside the first.
    assert slipped.readings[-1].value == " ".join(LINES)


@pytest.mark.parametrize("p, second", [(0.90, 0.95), (0.96, None)])
def test_no_second_reading_under_the_second_threshold_or_without_one(p, second) -> None:
    f = _held("address", "x", [(0, 0, 10, 10)])
    docs = [ExtractedDocument(doctype="a", pages=[0], fields=[f])]
    assert candidates(docs, _calibrator(p, second=second)) == []


def test_a_doubted_word_or_restored_accents_are_lifted_by_a_second_reading_that_agrees(
        ) -> None:
    """A value held because Tesseract gave one of its words under 50 %, or whose accents
    were restored from the word list, is read again; a value whose readings disagree is not,
    whatever its words."""
    gray, boxes = _page()
    image = page_jpeg(gray)
    doubted = _held("address", " ".join(LINES), boxes)
    doubted._evidence["ocr_min"] = 0.3
    disputed = _held("residence", " ".join(LINES), boxes)
    disputed._evidence["doc_disagree"] = 1.0
    docs = [ExtractedDocument(doctype="a", pages=[0], fields=[doubted]),
            ExtractedDocument(doctype="b", pages=[0], fields=[disputed])]
    restored = _held("scope", " ".join(LINES), boxes, kind="text")
    restored.problems.append(LEXICON_RESTORED)  # accents restored from the word list
    docs.append(ExtractedDocument(doctype="c", pages=[0], fields=[restored]))
    assert candidates(docs, _calibrator(0.99)) == [doubted, restored]
    assert settle_by_rereading(docs, _calibrator(0.99),
                               lambda _p, bxs: read_lines(image, bxs, dpi=300)) == 2
    assert doubted.status == FieldStatus.accepted
    # The page itself reads the restored accents: the restoration's warning goes.
    assert restored.status == FieldStatus.accepted and restored.problems == []
    assert disputed.status == FieldStatus.review and not disputed.readings


def test_a_document_is_read_again_only_when_that_could_settle_it() -> None:
    cal = _calibrator(0.96)
    many = [_held(f"f{k}", "x", [(0, 0, 10, 10)]) for k in range(MAX_HELD + 1)]
    problem = _held("g", "x", [(0, 0, 10, 10)])
    problem.problems.append("not a valid date")  # the rule holds it whatever its reading
    other = _held("h", "y", [(0, 0, 10, 10)])
    no_box = _held("k", "z", [(0, 0, 10, 10)])
    no_box._line_boxes = []
    docs = [ExtractedDocument(doctype="a", pages=[0], fields=many),
            ExtractedDocument(doctype="b", pages=[0], fields=[problem, other]),
            ExtractedDocument(doctype="c", pages=[0], fields=[no_box])]
    assert candidates(docs, cal) == []
    few = ExtractedDocument(doctype="d", pages=[0], fields=many[:MAX_HELD])
    assert candidates([few], cal) == many[:MAX_HELD]


def test_the_second_threshold_is_where_values_read_alike_stay_right() -> None:
    """Out-of-fold probabilities under the first threshold: those whose second reading
    agrees are accepted from the lowest probability keeping them right 99.8 % of the time."""
    rng = np.random.default_rng(1)
    n = 1000
    probs = np.linspace(0.7, 0.97, n)
    # Right values read alike; wrong values under 0.9 read alike too; above, read otherwise.
    right = np.ones(n, dtype=int)
    wrong = rng.choice(np.flatnonzero(probs < 0.9), 40, replace=False)
    right[wrong] = 0
    examples = []
    for i in range(n):
        f = _held("address", f"value {i}", [(0, 0, 10, 10)])
        examples.append(Example(f, bool(right[i]), f"d{i}"))

    def reread(exs):
        return [ex.field.value if ex.correct or probs[int(ex.group[1:])] < 0.9 else "other"
                for ex in exs]

    t2, kinds, info = _reread_threshold(examples, probs, right, np.ones(n, dtype=bool), 0.98,
                                        reread)
    assert t2 is not None
    assert probs[wrong].max() < t2 <= 0.9 + 1e-9
    assert info["accepted_precision"] == 1.0
    # Values under four in five are not read again: a second reading never confirms them.
    assert info["read_again"] == info["agree"] == int((probs >= 0.8).sum())
    # Nothing better than the first threshold: no second one.
    # Each value read as an address: the type has enough values for a threshold of its own.
    assert kinds == {"address": t2}
    none, _, _ = _reread_threshold(examples, probs, np.zeros(n, dtype=int), np.ones(n, dtype=bool),
                                0.98, reread)
    assert none is None


def test_the_second_threshold_is_kept_with_the_calibration() -> None:
    cal = _calibrator(0.9, second=0.9411)
    again = Calibrator.from_json(cal.to_json())
    assert again.reread_threshold == 0.9411
    assert Calibrator.from_json(_calibrator(0.9, second=None).to_json()).reread_threshold is None
