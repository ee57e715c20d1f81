"""End to end: a batch digitized by the Prefect flow (embedded S3 server, SQLite index, real
Tesseract) is followed in the events feed, batch and records alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from models.records import IngestReport
from storage.embedded import S3Endpoint
from tests.e2e.test_pipeline import CARD, FORM, ingest, module_runtime

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: S3Endpoint) -> Iterator:
    yield from module_runtime(tmp_path_factory, s3_endpoint, "events")


@pytest.fixture(scope="module")
def batch(runtime) -> IngestReport:
    return ingest([CARD, FORM])


def test_the_batch_and_its_records_are_followed_in_the_events_feed(runtime, batch):
    """
    GIVEN a batch of a card and a form, digitized through the flow
    WHEN a portal reads the events feed with an events:read key
    THEN it finds the batch queued, running and finished, and between running and finished
         one event per record the batch made, typed by the status the machine gave it
    """
    from api.app import create_app

    key, _ = runtime.index.create_api_key("portal", ["events:read"])
    app = create_app(runtime.settings, store=runtime.store, index=runtime.index)
    with TestClient(app) as client:
        r = client.get("/v1/events", params={"limit": 1000},
                       headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    mine = [e for e in r.json()["events"] if e["batch_id"] == batch.batch_id]
    kinds = [e["type"] for e in mine]
    assert kinds[:2] == ["batch.queued", "batch.running"] and kinds[-1] == "batch.finished"
    made = sorted(r for f in batch.files for r in f.record_ids)
    announced = [e for e in mine[2:-1] if e["type"].startswith("record.")]
    assert made and sorted(e["record_id"] for e in announced) == made
    for e in announced:
        entry = runtime.index.get_record(e["record_id"])
        assert e["type"] == f"record.{entry.status.value}" and e["doctype"] == entry.doctype
        assert e["data"]["revision"] == entry.revision
    assert sum(mine[-1]["data"]["files"].values()) == 2  # both files, with their outcomes
