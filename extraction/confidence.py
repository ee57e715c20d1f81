"""Calibrated field confidence and the auto-accept rule.

Each found value gets a probability of being right, from what extraction knew when it read
it (``ExtractedField._evidence``): OCR word confidences, how well its label matched, what the
validators said, whether an exact source (QR code, MRZ) or another document of the dossier
agrees, how sure the document's classification was. A small model turns that into a score:
gradient-boosted trees or a logistic model, whichever sends fewer values to review at the
required precision on held-out dev values. It is trained on generated documents of the ``dev``
split only (``python -m bench.trust train``) and kept as JSON beside this file (scoring needs
no machine-learning library at run time); an isotonic map per field type turns its score into
the share of such values that are right. The auto-accept rule is a
threshold on that probability, chosen on ``dev`` so that accepted values are right at least
99.5 % of the time; ``dossier bench`` measures it on the held-out ``test`` split.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from extraction.known import CHOICE_NEAR, CHOICE_SIM, LIST_EXACT, LIST_LETTERS
from extraction.vocab import lexicon_share
from models.errors import CalibrationError
from models.records import ExtractedDocument, ExtractedField, FieldStatus

__all__ = ["FEATURES", "TREE_FEATURES", "Tree", "Calibrator", "evidence_base", "features_of",
           "kind_of", "load_calibrator", "apply_calibration", "confirmed", "held_for_review",
           "doubted", "held_whatever_is_read",
           "verified_elsewhere",
           "CALIBRATION_FILE"]

CALIBRATION_FILE = "calibration.json"
# Below this OCR confidence on any of its words, a value is read by a person unless an exact
# source or another document of the dossier says the same.
MIN_WORD_CONFIDENCE = 0.5

FIELD_TYPES = ("citizen_id", "date", "person_name", "sex", "text", "address", "phone",
               "enterprise_code", "number", "code")

# Evidence about a value. Missing evidence counts as 0.
EVIDENCE: tuple[str, ...] = (
    "ocr_mean", "ocr_min", "ocr_low_share", "n_words_log", "valid", "problems",
    "below", "wrapped", "label_exact", "label_tokens", "unused_share", "value_len_log",
    "odd_chars", "class_conf",
    "exact_source", "exact_agree", "exact_disagree", "doc_agree", "doc_disagree",
    "folded_agree", "ascii_letters", "bare_share", "upper",
    "check_ok", "check_bad", "addr_units", "addr_fixed", "ocr_differs", "generic",
    "lex_share", "addr_exact", "head_free", "lone_id",
)
# The scorer's inputs, in order: the evidence, the field type, and the evidence per field
# type (what makes a date trustworthy is not what makes a name trustworthy).
FEATURES: tuple[str, ...] = (
    *EVIDENCE,
    *(f"type_{t}" for t in FIELD_TYPES),
    *(f"{e}*{t}" for t in FIELD_TYPES for e in EVIDENCE),
)
# Trees find the interactions themselves: they read the evidence and the field type only.
TREE_FEATURES = len(EVIDENCE) + len(FIELD_TYPES)


def evidence_base(kind: str, words: list, parsed, raw: str) -> dict[str, float]:
    """Evidence every OCR reading has: word confidences, validators, how much text it used."""
    confs = [w.confidence for w in words]
    value = parsed.value or ""
    used = parsed.used_chars if parsed.used_chars is not None else len(raw)
    odd = sum(not (ch.isalnum() or ch in " ,./-:") for ch in value)
    letters = [ch for ch in value if ch.isalpha()]
    return {
        "ocr_min": min(confs) if confs else 0.0,
        "ocr_low_share": sum(c < 0.8 for c in confs) / len(confs) if confs else 1.0,
        "n_words_log": math.log1p(len(confs)),
        "valid": float(parsed.valid),
        "problems": float(len(parsed.problems)),
        "unused_share": max(0.0, 1.0 - used / len(raw)) if raw else 0.0,
        "value_len_log": math.log1p(len(value)),
        "odd_chars": min(1.0, odd / max(1, len(value)) * 5),
        # Vietnamese words nearly always carry diacritics: text with none has probably lost them.
        "ascii_letters": float(len(letters) >= 4 and all(ch.isascii() for ch in letters)),
        # As read: a slipped letter or accent mostly makes a syllable Vietnamese does not have.
        "lex_share": lexicon_share(value),
        f"type_{kind}": 1.0,
    }


def kind_of(f: ExtractedField) -> str:
    """The field type the value was read as (``text`` when unknown)."""
    return next((t for t in FIELD_TYPES if f._evidence.get(f"type_{t}")), "text")


def features_of(f: ExtractedField) -> list[float]:
    """The scorer's inputs for a value, in the order of ``FEATURES``."""
    x = _tree_features(f)
    base, types = x[:len(EVIDENCE)], x[len(EVIDENCE):]
    return x + [b * t for t in types for b in base]


def _tree_features(f: ExtractedField) -> list[float]:
    """The first ``TREE_FEATURES`` of ``features_of``: the evidence and the field type."""
    ev = dict(f._evidence)
    letters = [ch for ch in (f.value or "") if ch.isalpha()]
    # Of the value as it stands (an exact source may have replaced the OCR reading).
    ev["ascii_letters"] = float(len(letters) >= 4 and all(ch.isascii() for ch in letters))
    words = [w for w in (f.value or "").split() if sum(ch.isalpha() for ch in w) >= 3]
    # Most Vietnamese syllables carry a diacritic; many bare ones suggest OCR lost them.
    ev["bare_share"] = (sum(all(ch.isascii() for ch in w) for w in words) / len(words)
                        if words else 0.0)
    ev["upper"] = float(len(letters) >= 4 and all(ch.isupper() for ch in letters))
    base = [float(ev.get(name, 0.0)) for name in EVIDENCE]
    types = [float(ev.get(f"type_{t}", 0.0)) for t in FIELD_TYPES]
    return base + types


@dataclass
class Tree:
    """One regression tree of a boosted scorer, as parallel node arrays: a split node sends
    values ``<= threshold`` of ``feature`` to ``left``; a leaf holds ``value``."""

    feature: list[int]
    threshold: list[float]
    left: list[int]
    right: list[int]
    leaf: list[bool]
    value: list[float]

    def predict(self, x: list[float]) -> float:
        i = 0
        while not self.leaf[i]:
            i = self.left[i] if x[self.feature[i]] <= self.threshold[i] else self.right[i]
        return self.value[i]

    def to_dict(self) -> dict:
        return {"feature": self.feature, "threshold": self.threshold, "left": self.left,
                "right": self.right, "leaf": [int(b) for b in self.leaf], "value": self.value}

    @classmethod
    def from_dict(cls, d: dict) -> Tree:
        return cls(feature=d["feature"], threshold=d["threshold"], left=d["left"],
                   right=d["right"], leaf=[bool(b) for b in d["leaf"]], value=d["value"])


@dataclass(frozen=True)
class _Forest:
    """A boosted scorer's trees as flat node arrays, walked for all the values of a dossier
    at once instead of tree by tree and value by value. Tree ``t``'s node ``i`` is at
    ``t * width + i``; a leaf leads to itself, so a walk that reached it stays there."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray  # flat indexes
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray  # the flat index of each tree's root
    depth: int  # the most splits on a path from a root to a leaf

    @classmethod
    def of(cls, trees: list[Tree]) -> _Forest:
        width = max(len(t.leaf) for t in trees)
        feature, threshold, left, right, value = [], [], [], [], []
        for k, t in enumerate(trees):
            base = k * width
            for i in range(width):
                split = i < len(t.leaf) and not t.leaf[i]
                # Past a tree's last node: leaves, which no walk reaches.
                feature.append(t.feature[i] if split else 0)
                threshold.append(t.threshold[i] if split else 0.0)
                left.append(base + (t.left[i] if split else i))
                right.append(base + (t.right[i] if split else i))
                value.append(t.value[i] if i < len(t.leaf) else 0.0)
        if max(feature) >= TREE_FEATURES:
            # Rows are read flat: a split past the row's end would read the next value's.
            raise CalibrationError("a tree of the calibration splits on a feature the trees "
                                   "are not given: retrain it with `python -m bench.trust train`")
        return cls(feature=np.array(feature, dtype=np.intp),
                   threshold=np.array(threshold, dtype=np.float64),
                   left=np.array(left, dtype=np.intp), right=np.array(right, dtype=np.intp),
                   value=np.array(value, dtype=np.float64),
                   roots=np.arange(len(trees), dtype=np.intp) * width,
                   depth=max(_depth(t) for t in trees))

    def leaf_values(self, x: np.ndarray) -> np.ndarray:
        """The leaf value of every tree (columns) for every row of ``x`` (values x features),
        each tree walked as ``Tree.predict`` walks it."""
        rows = (np.arange(len(x), dtype=np.intp) * x.shape[1])[:, None]
        flat_x = x.ravel()
        node = np.broadcast_to(self.roots, (len(x), len(self.roots)))
        for _ in range(self.depth):
            go_left = flat_x[rows + self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        return self.value[node]


def _depth(tree: Tree) -> int:
    """The most splits on a path from the tree's root to a leaf."""
    deepest, todo = 0, [(0, 0)]
    while todo:
        i, d = todo.pop()
        if tree.leaf[i]:
            deepest = max(deepest, d)
        else:
            todo += [(tree.left[i], d + 1), (tree.right[i], d + 1)]
    return deepest


def _logistic(z: float) -> float:
    if z > 35:
        return 1.0
    if z < -35:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


@dataclass
class Calibrator:
    """The scorer (boosted trees, or a logistic model when ``trees`` is empty) plus the
    auto-accept threshold chosen on the dev split."""

    coef: list[float]
    intercept: float
    threshold: float
    means: list[float]
    scales: list[float]
    info: dict
    # Gradient-boosted trees over the first ``TREE_FEATURES`` features: the score is the
    # logistic of ``intercept`` plus every tree's leaf value.
    trees: list[Tree] = field(default_factory=list)
    # Isotonic map from the logistic score to the share right, fitted on held-out scores.
    iso_x: list[float] = field(default_factory=list)
    iso_y: list[float] = field(default_factory=list)
    # The same map per field type (``kind_of``), for types with enough values to fit one:
    # one score means different odds for a date and for a name.
    iso_kinds: dict[str, list[list[float]]] = field(default_factory=dict)
    # The second threshold: a value under ``threshold`` whose lines, read again alone, say
    # the same (``extraction.reread``) is accepted from this probability on. None: never.
    reread_threshold: float | None = None
    # The same per field type, for types with enough values read twice alike to choose one.
    reread_kinds: dict[str, float] = field(default_factory=dict)
    # ``trees`` packed for scoring many values at once, on first use.
    _forest: _Forest | None = field(default=None, init=False, repr=False, compare=False)

    def score(self, f: ExtractedField) -> float:
        """The model's output, before the isotonic map."""
        return self.scores([f])[0]

    def scores(self, fields: list[ExtractedField]) -> list[float]:
        """``score`` of each field: the trees are walked for all of them at once."""
        if not fields:
            return []
        if self.trees:
            if self._forest is None:
                self._forest = _Forest.of(self.trees)
            x = np.array([_tree_features(f) for f in fields], dtype=np.float64)
            # Summed in tree order, as one tree after the other would: the same float.
            return [_logistic(self.intercept + sum(values))
                    for values in self._forest.leaf_values(x).tolist()]
        return [_logistic(self.intercept + sum(
            c * (v - m) / s for c, v, m, s
            in zip(self.coef, features_of(f), self.means, self.scales, strict=True)))
            for f in fields]

    def calibrate(self, p: float, kind: str | None = None) -> float:
        xs, ys = self.iso_kinds.get(kind or "", (self.iso_x, self.iso_y))
        if not xs:
            return p
        if p <= xs[0]:
            return ys[0]
        if p >= xs[-1]:
            return ys[-1]
        i = bisect.bisect_right(xs, p)
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return y0 if x1 == x0 else y0 + (y1 - y0) * (p - x0) / (x1 - x0)

    def second_threshold(self, f: ExtractedField) -> float | None:
        """From which probability a value read twice alike is accepted (None: never)."""
        return self.reread_kinds.get(kind_of(f), self.reread_threshold)

    def probability(self, f: ExtractedField) -> float:
        return self.probabilities([f])[0]

    def probabilities(self, fields: list[ExtractedField]) -> list[float]:
        """The calibrated probability of each field's value being right."""
        return [self.calibrate(p, kind_of(f))
                for p, f in zip(self.scores(fields), fields, strict=True)]

    def to_json(self) -> str:
        return json.dumps({"features": list(FEATURES), "coef": self.coef,
                           "intercept": self.intercept, "threshold": self.threshold,
                           "means": self.means, "scales": self.scales,
                           "iso_x": self.iso_x, "iso_y": self.iso_y,
                           "iso_kinds": self.iso_kinds,
                           "reread_threshold": self.reread_threshold,
                           "reread_kinds": self.reread_kinds,
                           "trees": [t.to_dict() for t in self.trees], "info": self.info},
                          indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Calibrator:
        data = json.loads(text)
        if data.get("features") != list(FEATURES):
            raise CalibrationError("the calibration file was trained on other features: "
                                   "retrain it with `python -m bench.trust train`")
        return cls(coef=data["coef"], intercept=data["intercept"], threshold=data["threshold"],
                   means=data["means"], scales=data["scales"], info=data.get("info", {}),
                   iso_x=data.get("iso_x", []), iso_y=data.get("iso_y", []),
                   iso_kinds=data.get("iso_kinds", {}),
                   reread_threshold=data.get("reread_threshold"),
                   reread_kinds=data.get("reread_kinds", {}),
                   trees=[Tree.from_dict(t) for t in data.get("trees", [])])


def load_calibrator(path: str | None = None) -> Calibrator | None:
    """The committed calibration (or the one at ``path``, read again when the file changes);
    None when there is none yet."""
    stamp = Path(path).stat().st_mtime_ns if path is not None else None
    return _load_calibrator(path, stamp)


@lru_cache(maxsize=4)
def _load_calibrator(path: str | None, _stamp: int | None) -> Calibrator | None:
    if path is not None:
        return Calibrator.from_json(Path(path).read_text(encoding="utf-8"))
    res = resources.files("extraction").joinpath(CALIBRATION_FILE)
    if not res.is_file():
        return None
    return Calibrator.from_json(res.read_text("utf-8"))


def apply_calibration(docs: list[ExtractedDocument], calibrator: Calibrator | None, *,
                      threshold: float | None = None) -> None:
    """Give every found value its calibrated probability and decide accepted or review.

    A value with a validator problem, whose readings disagree, or with a word the OCR doubts
    (``MIN_WORD_CONFIDENCE``) that nothing else confirms, is never auto-accepted.
    ``threshold`` overrides the calibrated rule's own (a stricter office may want that).
    """
    found: list[ExtractedField] = []
    for d in docs:
        for f in d.fields:
            f._evidence["class_conf"] = d.classification_confidence
            if f.value is not None:
                found.append(f)
    if calibrator is not None:
        probs = calibrator.probabilities(found)
        limit = calibrator.threshold if threshold is None else threshold
    else:
        # No calibrated rule: nothing is accepted unless a threshold is set.
        probs = [f.confidence for f in found]
        limit = 1.01 if threshold is None else threshold
    for f, p in zip(found, probs, strict=True):
        # As good as a verified value: the card's own code says the same, or a person
        # verified it before (extraction.known). Accepted at least at the rule's level.
        sure = limit <= 1.0 and (verified_elsewhere(f) or exact_agreement(f))
        # The rule compares the probability itself: the threshold is one of the calibrated
        # probabilities (a plateau of the isotonic map), and a value on it is accepted, as in
        # training. The confidence kept is rounded for people, on the rule's side of it.
        if sure:
            p = max(p, limit)
        f.confidence = _rounded(p, up=p >= limit)
        ok = not held_for_review(f) and p >= limit
        f.status = FieldStatus.accepted if ok else FieldStatus.review


def _rounded(p: float, *, up: bool) -> float:
    """``p`` to four decimals, up or down (``round`` may cross the threshold either way)."""
    scaled = round(p * 10_000, 6)  # 0.98 * 10_000 is 9800.000000000002
    return min(1.0, (math.ceil(scaled) if up else math.floor(scaled)) / 10_000)


def exact_agreement(f: ExtractedField) -> bool:
    """An exact source (the chip card's QR code, a check-digit-valid MRZ) gave this very value
    or says the same as the reading, letter for letter: the document's own data."""
    ev = f._evidence
    return bool(ev.get("exact_source") or ev.get("exact_agree"))


def verified_elsewhere(f: ExtractedField) -> bool:
    """The reading is a member of its closed list (exactly, or with the letters of one member
    only) or a reading of one of its choices and no other, or what a person verified for this
    citizen, or in this field of another document (``extraction.known``)."""
    ev = f._evidence
    return bool(ev.get(LIST_EXACT) or ev.get(LIST_LETTERS)
                or ev.get(CHOICE_SIM, 0.0) >= CHOICE_NEAR
                or ev.get("person_agree") or ev.get("vocab_agree"))


def confirmed(f: ExtractedField) -> bool:
    """An exact source gave the value, or agrees with it, or another document of the dossier
    says the same, or a person verified it before (``verified_elsewhere``)."""
    ev = f._evidence
    return bool(ev.get("exact_source") or ev.get("exact_agree") or ev.get("doc_agree")
                or verified_elsewhere(f))


def held_for_review(f: ExtractedField) -> bool:
    """Whether the rule sends a value to review whatever its probability: a validator
    problem, readings that disagree, a document no definition matched (read by guesswork),
    a word Tesseract itself doubts (``MIN_WORD_CONFIDENCE``) or a unit the national list does
    not name, that nothing confirms."""
    return held_whatever_is_read(f) or doubted(f)


def doubted(f: ExtractedField) -> bool:
    """A word of the value Tesseract itself doubts (``MIN_WORD_CONFIDENCE``), and nothing
    confirms the value. A second reading of its lines that agrees lifts the doubt
    (``extraction.reread``)."""
    return f._evidence.get("ocr_min", 1.0) < MIN_WORD_CONFIDENCE and not confirmed(f)


def held_whatever_is_read(f: ExtractedField, lifted: tuple[str, ...] = ()) -> bool:
    """The holds of ``held_for_review`` no second reading lifts: a validator problem (other
    than those in ``lifted``), readings that disagree, a document no definition matched, a
    unit the national list does not name that nothing confirms."""
    ev = f._evidence
    # Another document of the dossier reads otherwise, but this reading is what a person
    # verified for this citizen: the other reading is the doubtful one.
    disagree = ev.get("exact_disagree") or (ev.get("doc_disagree")
                                            and not ev.get("person_agree"))
    # It names a ward, district or province no list has ("Xã Hành Đúc"): a misreading.
    misnamed = ev.get("unit_unknown") and not confirmed(f)
    problems = [p for p in f.problems if p not in lifted]
    return bool(problems or disagree or ev.get("generic") or misnamed)
