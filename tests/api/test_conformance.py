"""The served app against its own OpenAPI document: schemathesis generates requests for every
operation (valid and invalid ones, multipart uploads included), sends them over HTTP to the
app on 127.0.0.1 with a key holding every scope, and runs all its checks on the answers: no
server error, every status code and body as documented, the content types declared, invalid
requests refused, and the rest.

The app runs as in production (uvicorn, the suite's embedded S3 server, a SQLite index);
Prefect is unreachable, so an accepted batch stays queued. The examples per operation are
bounded so the run takes about a minute on two cores; ``DOSSIER_CONFORMANCE_EXAMPLES`` asks
for more (``DOSSIER_CONFORMANCE_SEED`` another seed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from models.settings import Settings
from storage.index import RecordIndex
from storage.objects import ObjectStore
from tests.e2e.service import app_served

EXAMPLES = int(os.environ.get("DOSSIER_CONFORMANCE_EXAMPLES", "6"))
SEED = int(os.environ.get("DOSSIER_CONFORMANCE_SEED", "20261207"))


def prefect_down(batch_id: str) -> str:
    raise ConnectionError("Prefect is not reachable in this test")


@pytest.fixture
def served(tmp_path: Path, object_store: ObjectStore) -> Iterator[tuple[str, str]]:
    """The app over HTTP on 127.0.0.1 and a key with every scope."""
    index = RecordIndex(f"sqlite:///{tmp_path / 'data' / 'index.sqlite3'}")
    key, _ = index.create_api_key("conformance", ["*"])
    # Small limits, so generated uploads meet them too.
    settings = Settings(data_dir=tmp_path / "data", _env_file=None, max_upload_bytes=200_000,
                        max_file_bytes=100_000, webhook_delivery=False)
    app = create_app(settings, store=object_store, index=index)
    app.state.submit_batch = prefect_down
    try:
        with app_served(app) as base:
            yield base, key
    finally:
        index.close()


def run_schemathesis(url: str, key: str, examples: int, seed: int) -> dict[str, object]:
    """Every phase and every check of schemathesis against ``url``; what it found."""
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.core.failures import ServerError
    from schemathesis.engine import events, from_schema
    from schemathesis.engine.statistic import Statistic

    config = SchemathesisConfig()
    config.update(seed=seed, max_failures=None)
    project = config.projects.override
    project.update(headers={"Authorization": f"Bearer {key}"}, base_url=url,
                   request_timeout=30)
    project.checks.update(included_check_names=["all"])
    project.generation.update(max_examples=examples, database="none")
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
    assert schema.config.base_url == url  # nothing goes anywhere but the app

    statistic = Statistic()
    errors: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            statistic.on_scenario_finished(event.recorder)
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            errors.append(f"fatal: {event.exception!r}")
    failures = [(label, f) for label, groups in statistic.failures.items()
                for g in groups.values() for f in g.failures]
    said = [f"{label}: {f.title}: {f.message}\n  {g.code_sample}\n  -> "
            f"{g.response.status_code if g.response else None} "
            f"{g.response.text[:300] if g.response else ''}"
            for label, groups in statistic.failures.items() for g in groups.values()
            for f in g.failures]
    server_errors = [x for x in failures if isinstance(x[1], ServerError)]
    return {"cases": statistic.total_cases, "failures": failures, "said": said,
            "server_errors": server_errors, "errors": errors,
            "operations": sorted(statistic.tested_operations)}


def _said(found: dict[str, object]) -> str:
    return "\n".join(list(found["said"]) + list(found["errors"]))  # type: ignore[call-overload]


@pytest.mark.e2e
def test_the_served_api_answers_as_its_openapi_says(served) -> None:
    """
    GIVEN the app served over HTTP with a key that holds every scope
    WHEN schemathesis runs every phase and every check against its OpenAPI document, a few
         generated requests per operation, uploads included
    THEN no server error and no failure of any check
    """
    url, key = served
    found = run_schemathesis(url, key, EXAMPLES, SEED)
    print(f"schemathesis: {found['cases']} cases, {len(found['operations'])} operations, "
          f"{len(found['server_errors'])} server errors, "
          f"{len(found['failures'])} failures, {len(found['errors'])} errors")
    assert not found["failures"] and not found["errors"], _said(found)
    assert found["cases"]
