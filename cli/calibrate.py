"""``dossier calibrate``: retrain the field scorer on the generated dev corpus plus what
people decided in review, show it beside the scorer in use on held-out values, and install it
only when its accepted values stay right often enough."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.errors import DossierError, ExitCode, MissingDependencyError
from models.settings import Settings

__all__ = ["CalibrationRefusedError", "Comparison", "calibrate", "held_out"]

# Share of the corrected dossiers kept out of training, to judge the new scorer on.
HELD_OUT_SHARE = 0.3


class CalibrationRefusedError(DossierError):
    exit_code = ExitCode.refused
    hint = ("the scorer in use stays; review more documents, or add dev pages with --pages, "
            "and try again")


@dataclass
class Comparison:
    before: dict
    after: dict
    installed: Path | None


def held_out(group: str) -> bool:
    """Whether a dossier's values are kept out of training (the same answer every run)."""
    return int(hashlib.sha256(group.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < \
        HELD_OUT_SHARE


def calibrate(settings: Settings, *, pages: int, test_pages: int, workers: int,
              install: bool, say: Callable[[str], None],
              required: float | None = None) -> Comparison:
    """Fit, compare and (with ``install``) install the scorer; raises
    :class:`CalibrationRefusedError` when the new one's held-out precision is under
    ``required`` (the trust target, 99.5 %, unless given)."""
    import importlib.util

    if importlib.util.find_spec("sklearn") is None:
        raise MissingDependencyError(
            "training the scorer needs scikit-learn, which is not installed",
            hint='install the bench extra: bash scripts/setup.sh --bench')
    from bench.trust import _collect, examples_read_again
    from extraction import load_doctypes
    from extraction.confidence import load_calibrator
    from extraction.training import TARGET_PRECISION, Example, fit, judge
    from review.learning import correction_examples
    from storage.index import RecordIndex
    from storage.objects import open_object_store

    bench_dir = settings.data_dir
    dev, lines = _collect("dev", pages, workers, bench_dir, say, calibrate=False)
    test, _ = _collect("test", test_pages, workers, bench_dir, say, calibrate=False)
    store = open_object_store(settings)
    index = RecordIndex(settings.resolved_index_url())
    try:
        people = correction_examples(store, index, load_doctypes(settings.doctypes_dir))
    finally:
        index.close()
    train = [Example(s.field, s.correct, s.dossier) for s in dev if s.field is not None]
    train += [e for e in people if not held_out(e.group)]
    check = [Example(s.field, s.correct, s.dossier) for s in test if s.field is not None]
    check += [e for e in people if held_out(e.group)]
    say(f"{len(people)} values decided by people "
        f"({sum(not held_out(e.group) for e in people)} for training, the rest held out); "
        f"{len(dev)} dev values; {len(check)} held-out values in all")
    if len({e.group for e in train}) < 5:
        raise CalibrationRefusedError(
            f"{len({e.group for e in train})} dossiers to train on: too few to judge a scorer "
            f"out of fold; give more dev pages with --pages")
    new = fit(train, say, trained_on=(f"dev split, first {pages} pages, seed 1, degradation "
                                      f"mixed; {len(people)} values decided in review"),
              command=f"dossier calibrate --pages {pages}",
              reread=examples_read_again(lines, workers, say))
    current = load_calibrator(str(settings.resolved_calibration())
                              if settings.resolved_calibration() else None)
    before, after = judge(current, check), judge(new, check)
    for name, r in (("in use", before), ("new", after)):
        p = r["accepted_precision"]
        say(f"{name:7s} accepted {r['accepted']:5d} of {r['values']} held-out values, right "
            f"{'-' if p is None else f'{100 * p:.2f} %'}, to review "
            f"{100 * (r['review_share'] or 0):.1f} %")
    p = after["accepted_precision"]
    required = TARGET_PRECISION if required is None else required
    if p is None or p < required:
        raise CalibrationRefusedError(
            f"the new scorer's accepted values are right {'-' if p is None else f'{p:.2%}'} "
            f"of the time on held-out values, under the {required:.1%} required: "
            f"not installed")
    target = None
    if install:
        target = settings.installed_calibration_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(new.to_json(), encoding="utf-8")
        tmp.replace(target)
        say(f"installed {target}: workers use it from their next dossier on")
    return Comparison(before, after, target)
