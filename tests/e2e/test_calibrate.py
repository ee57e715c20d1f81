"""`dossier calibrate` on real parts: a card digitized by the flow, a clerk's corrections in
review, the dev and test corpora read by Tesseract; the new scorer is installed only when its
held-out precision passes, and the flow then uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage.embedded import S3Endpoint
from tests.e2e.test_pipeline import CARD, ingest, module_runtime

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: S3Endpoint) -> Iterator:
    yield from module_runtime(tmp_path_factory, s3_endpoint, "calibrate")


@pytest.fixture(scope="module")
def reviewed(runtime):
    """The card, digitized, with every found field confirmed or corrected by a clerk."""
    from api.app import _field_kinds
    from review.lifecycle import FieldAction, FieldDecision
    from review.service import ReviewService

    report = ingest([CARD])
    rid = report.files[0].record_ids[0]
    svc = ReviewService(runtime.store, runtime.index, _field_kinds(None))
    rec = svc.load(rid)
    svc.claim(rid, "an")
    decisions = [FieldDecision(field=f.name, action=FieldAction.confirm)
                 for f in rec.fields if f.value is not None]
    k = next(i for i, d in enumerate(decisions) if d.field == "place_of_origin")
    decisions[k] = FieldDecision(field="place_of_origin", action=FieldAction.correct,
                                 value="Xã Tân Phước, Tỉnh Đồng Tháp")
    svc.decide(rid, "an", rec.revision, decisions)
    return rid, {d.field for d in decisions}, "place_of_origin"


def test_values_people_decided_become_labelled_training_values(runtime, reviewed):
    from extraction import load_doctypes
    from review.learning import correction_examples

    rid, decided, corrected = reviewed
    examples = correction_examples(runtime.store, runtime.index, load_doctypes())
    assert {e.field.name for e in examples} == decided
    assert {e.group for e in examples} == {runtime.index.get_record(rid).dossier_id}
    assert [e.correct for e in examples if e.field.name == corrected] == [False]
    assert all(e.correct for e in examples if e.field.name != corrected)
    assert all(e.field._evidence.get("ocr_mean") is not None or e.field.source.value != "ocr"
               for e in examples)


def test_a_scorer_under_the_required_precision_is_refused_and_a_passing_one_installed(
        runtime, reviewed):
    """GIVEN small dev and test corpora and the clerk's decisions
    WHEN the retrained scorer must reach more than any precision can THEN it is refused with
    its own exit code and nothing is installed; WHEN it passes THEN it is written to the data
    dir, and the settings and the scorer loader pick it up."""
    from cli.calibrate import CalibrationRefusedError, calibrate
    from extraction.confidence import load_calibrator
    from models.errors import ExitCode

    said: list[str] = []
    settings = runtime.settings
    with pytest.raises(CalibrationRefusedError) as refused:
        calibrate(settings, pages=12, test_pages=6, workers=2, install=True, say=said.append,
                  required=1.01)
    assert refused.value.exit_code == ExitCode.refused and "not installed" in str(refused.value)
    assert not settings.installed_calibration_path().exists()
    assert settings.resolved_calibration() is None
    assert any(line.startswith("in use") for line in said)

    got = calibrate(settings, pages=12, test_pages=6, workers=2, install=True, say=said.append,
                    required=0.0)
    assert got.installed == settings.installed_calibration_path()
    assert settings.resolved_calibration() == got.installed
    cal = load_calibrator(str(got.installed))
    assert cal is not None and "values decided in review" in cal.info["trained_on"]
    assert cal.info["command"] == "dossier calibrate --pages 12"
    assert got.after["values"] == got.before["values"] > 0
