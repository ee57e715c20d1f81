"""Training the field scorer (``extraction.confidence``): from labelled values (a value as
extraction found it, with its evidence, and whether it was right) to a :class:`Calibrator`.

The values come from the generated dev corpus (``python -m bench.trust train``) and from what
people decided in review (``dossier calibrate``). Fitting needs scikit-learn (the ``bench``
extra); scoring at run time does not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from extraction.confidence import Calibrator, Tree
from models.records import ExtractedField

__all__ = ["Example", "fit", "choose_threshold", "ece_arrays", "TARGET_PRECISION",
           "DEV_PRECISION", "BINS"]

TARGET_PRECISION = 0.995
# The threshold is chosen on the training values with a margin: their precision must reach this.
DEV_PRECISION = 0.998
BINS = 10
# A field type gets its own isotonic map from this many values on.
MIN_KIND_VALUES = 50
# Ways of cutting the dossiers into five folds, averaged for the out-of-fold scores.
REPEATS = 3


@dataclass
class Example:
    """A found value with its evidence, whether it was right, and its dossier (values of one
    dossier stay in one fold)."""

    field: ExtractedField
    correct: bool
    group: str


def ece_arrays(p, y, bins: int = BINS) -> float:
    """Expected calibration error of probabilities ``p`` against outcomes ``y``: the share
    of values in each of ``bins`` equal bins times the gap between their mean probability and
    their share right."""
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    if not len(p):
        return 0.0
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
    return float(total)


def choose_threshold(probs: list[float], right: list[bool], target: float) -> float:
    """The lowest threshold whose accepted values (probability >= it) are right at least
    ``target`` of the time."""
    pairs = sorted(zip(probs, right, strict=True), key=lambda x: -x[0])
    best = 1.0 + 1e-9  # nothing accepted
    n = ok = 0
    i = 0
    while i < len(pairs):
        p = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == p:
            n += 1
            ok += pairs[i][1]
            i += 1
        if ok / n >= target:
            best = p
    return min(best, 1.0)


def trees_of(model) -> tuple[float, list]:
    """A fitted ``HistGradientBoostingClassifier`` as its baseline log-odds and plain trees."""
    trees = []
    for (predictor,) in model._predictors:
        n = predictor.nodes
        trees.append(Tree(feature=[int(v) for v in n["feature_idx"]],
                          threshold=[float(v) for v in n["num_threshold"]],
                          left=[int(v) for v in n["left"]], right=[int(v) for v in n["right"]],
                          leaf=[bool(v) for v in n["is_leaf"]],
                          value=[float(v) for v in n["value"]]))
    return float(np.ravel(model._baseline_prediction)[0]), trees


def calibrated_maps(oof: np.ndarray, y: np.ndarray, kinds: np.ndarray,
                    ) -> tuple[np.ndarray, tuple[list[float], list[float]],
                               dict[str, list[list[float]]]]:
    """Isotonic maps from held-out scores to the share right: overall, and per field type
    with enough values. Returns the calibrated scores and the maps."""
    from sklearn.isotonic import IsotonicRegression

    def fit(scores, right):
        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, right)

    iso = fit(oof, y)
    cal = iso.predict(oof)
    # A map per field type with enough values: the same score is not the same odds for a
    # date and for a name.
    per_kind: dict[str, list[list[float]]] = {}
    for k in sorted(set(kinds)):
        m = kinds == k
        if m.sum() >= MIN_KIND_VALUES:
            ik = fit(oof[m], y[m])
            cal[m] = ik.predict(oof[m])
            per_kind[k] = [[float(v) for v in ik.X_thresholds_],
                           [float(v) for v in ik.y_thresholds_]]
    return cal, ([float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_]), \
        per_kind


def fit(examples: Sequence[Example], say: Callable[[str], None], *, trained_on: str,
        command: str,
        reread: Callable[[list[Example]], list[str | None]] | None = None) -> Calibrator:
    """Fit the scorer on ``examples``: boosted trees or a logistic model, whichever accepts
    more values at the required precision out of fold; isotonic maps and the threshold are
    fitted on out-of-fold scores. With ``reread`` (a second reading of each value's lines,
    None where there is none), the second thresholds are chosen too: among the values the
    first did not accept (under it, or held by a doubted word or restored accents alone)
    whose second reading agrees, the lowest probability from which they are right
    ``DEV_PRECISION`` of the time out of fold (``extraction.reread``)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    from extraction.confidence import FEATURES, TREE_FEATURES, features_of, held_for_review, kind_of

    x = np.array([features_of(s.field) for s in examples], dtype=float)
    y = np.array([s.correct for s in examples], dtype=int)
    groups = np.array([s.group for s in examples])
    kinds = np.array([kind_of(s.field) for s in examples])
    # Values the rule sends to review whatever their score: the threshold is chosen among
    # the others.
    free = np.array([not held_for_review(s.field) for s in examples])
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales < 1e-9] = 1.0
    candidates = {
        "logistic": (lambda: LogisticRegression(C=0.3, max_iter=10000), (x - means) / scales),
        "boosted_trees": (lambda: HistGradientBoostingClassifier(
            learning_rate=0.03, max_iter=400, max_leaf_nodes=8, min_samples_leaf=20,
            l2_regularization=1.0, random_state=0), x[:, :TREE_FEATURES]),
    }
    # Out-of-fold scores: the isotonic maps and the threshold are fitted on values the model
    # did not see; the model that accepts the most values at the required precision is kept.
    # Each value's score is the mean over REPEATS ways of cutting the dossiers into folds, so
    # that the threshold does not hang on one cut.
    results: dict[str, dict[str, Any]] = {}
    rng = np.random.default_rng(0)
    names = np.unique(groups)
    if len(names) < 2:
        raise ValueError(f"values of {len(names)} dossier(s): at least two are needed to "
                         f"judge a scorer on values it was not fitted on")
    folds = min(5, len(names))
    cuts = [dict(zip(names, rng.permutation(len(names)), strict=True)) for _ in range(REPEATS)]
    for name, (model, xs) in candidates.items():
        oof = np.zeros(len(y))
        for cut in cuts:
            ids = np.array([cut[g] for g in groups])
            for tr, te in GroupKFold(n_splits=folds).split(xs, y, ids):
                oof[te] += model().fit(xs[tr], y[tr]).predict_proba(xs[te])[:, 1] / len(cuts)
        cal_oof, iso, iso_kinds = calibrated_maps(oof, y, kinds)
        threshold = choose_threshold(list(cal_oof[free]), list(y[free].astype(bool)),
                                      DEV_PRECISION)
        accepted = free & (cal_oof >= threshold)
        results[name] = {
            "threshold": float(threshold), "iso": iso, "iso_kinds": iso_kinds,
            "cal_oof": cal_oof,
            "dev_out_of_fold": {
                "accepted": int(accepted.sum()),
                "accepted_precision": float(y[accepted].mean()) if accepted.any() else None,
                "review_share": float(1 - accepted.mean()),
                "ece": ece_arrays(cal_oof, y),
            }}
        say(f"{name}: threshold {threshold:.4f}; dev out-of-fold "
            f"{json.dumps(results[name]['dev_out_of_fold'])}")
    best = max(results, key=lambda k: results[k]["dev_out_of_fold"]["accepted"])
    r = results[best]
    model, xs = candidates[best]
    final = model().fit(xs, y)
    info = {
        "trained_on": trained_on,
        "command": command,
        "model": best,
        "values": int(len(y)),
        "right": int(y.sum()),
        "dev_out_of_fold": r["dev_out_of_fold"],
        "candidates": {k: v["dev_out_of_fold"] for k, v in results.items()},
        "target_precision": TARGET_PRECISION,
        "dev_precision_required": DEV_PRECISION,
    }
    reread_threshold: float | None = None
    reread_kinds: dict[str, float] = {}
    if reread is not None:
        reread_threshold, reread_kinds, info["reread"] = _reread_threshold(
            examples, r["cal_oof"], y, free, r["threshold"], reread)
        say(f"second reading: {json.dumps(info['reread'])}")
    common = dict(threshold=r["threshold"], info=info, iso_x=r["iso"][0], iso_y=r["iso"][1],
                  iso_kinds=r["iso_kinds"], reread_threshold=reread_threshold,
                  reread_kinds=reread_kinds)
    if best == "boosted_trees":
        baseline, trees = trees_of(final)
        cal = Calibrator(coef=[], intercept=baseline, means=[], scales=[], trees=trees, **common)
    else:
        cal = Calibrator(coef=[float(c) for c in final.coef_[0]],
                         intercept=float(final.intercept_[0]), means=[float(m) for m in means],
                         scales=[float(s) for s in scales], **common)
    # The plain-Python scorer must give the fitted model's own scores.
    check = np.array([cal.score(s.field) for s in examples[:200]])
    assert np.allclose(check, final.predict_proba(xs[:200])[:, 1], atol=1e-6), best
    say(f"kept {best} ({len(FEATURES)} features)")
    return cal




# The lowest second threshold: a second reading confirms a value the scorer puts at four in
# five or more, never one it doubts more (few dev values under it are read alike and wrong,
# too few to say that none would be).
REREAD_FLOOR = 0.8
# A field type gets its own second threshold from this many values read twice alike on.
MIN_KIND_REREAD = 100


def _reread_threshold(examples: Sequence[Example], cal_oof: np.ndarray, y: np.ndarray,
                      free: np.ndarray, threshold: float,
                      reread: Callable[[list[Example]], list[str | None]]
                      ) -> tuple[float | None, dict[str, float], dict]:
    """The second threshold (None when no probability under the first gives the required
    precision to values read twice alike), the same for each field type with at least
    ``MIN_KIND_REREAD`` such values, and what they were chosen on."""
    from extraction.confidence import doubted, held_whatever_is_read, kind_of
    from extraction.reread import LIFTED, confirmable, same_reading

    # Values the first threshold did not accept: under it, or held by a doubted word or
    # restored accents alone (a second reading that agrees lifts those).
    fields = [ex.field for ex in examples]
    idx = [i for i, f in enumerate(fields)
           if REREAD_FLOOR <= cal_oof[i] and not held_whatever_is_read(f, LIFTED)
           and confirmable(f)
           and (cal_oof[i] < threshold and free[i] or doubted(f)
                or any(p in LIFTED for p in f.problems))]
    texts = reread([examples[i] for i in idx])
    agree = [i for i, t in zip(idx, texts, strict=True)
             if t is not None and same_reading(examples[i].field, t)]

    def second(among: list[int]) -> float | None:
        t2 = choose_threshold([float(cal_oof[i]) for i in among], [bool(y[i]) for i in among],
                              DEV_PRECISION) if among else 1.0
        return float(t2) if t2 < threshold else None

    chosen = second(agree)
    kinds: dict[str, list[int]] = {}
    for i in agree:
        kinds.setdefault(kind_of(examples[i].field), []).append(i)
    per_kind = {k: t for k, among in sorted(kinds.items()) if len(among) >= MIN_KIND_REREAD
                and (t := second(among)) is not None}

    def limit(i: int) -> float | None:
        return per_kind.get(kind_of(examples[i].field), chosen)

    taken = [i for i in agree if (t := limit(i)) is not None and cal_oof[i] >= t]
    agreed = set(agree)
    return chosen, per_kind, {
        "read_again": int(len(idx)), "read": int(sum(t is not None for t in texts)),
        "agree": len(agree), "agree_right": int(sum(y[i] for i in agree)),
        "threshold": chosen, "by_kind": per_kind, "accepted": len(taken),
        "accepted_precision": float(np.mean([y[i] for i in taken])) if taken else None,
        "differ_right": int(sum(y[i] for i, t in zip(idx, texts, strict=True)
                                if t is not None and i not in agreed)),
    }


def judge(cal: Calibrator | None, examples: Sequence[Example]) -> dict:
    """How the auto-accept rule with ``cal`` decides ``examples``: values accepted, the share
    of them right, the share sent to review. The examples are left as they were."""
    from extraction.confidence import apply_calibration
    from models.records import ExtractedDocument, FieldStatus

    accepted = right = 0
    for ex in examples:
        f = ex.field.model_copy(deep=True)
        f._evidence = dict(ex.field._evidence)
        doc = ExtractedDocument(doctype="", pages=[], fields=[f],
                                classification_confidence=f._evidence.get("class_conf", 0.0))
        apply_calibration([doc], cal)
        if f.status == FieldStatus.accepted:
            accepted += 1
            right += ex.correct
    n = len(examples)
    return {"values": n, "accepted": accepted,
            "accepted_precision": right / accepted if accepted else None,
            "review_share": 1 - accepted / n if n else None}


__all__ += ["judge"]
