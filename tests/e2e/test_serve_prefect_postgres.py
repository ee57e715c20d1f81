"""`dossier serve` on one machine with Prefect's runs kept in PostgreSQL: the operator's
``PREFECT_SERVER_DATABASE_*`` settings reach the local Prefect server it starts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from flows.service import server_database_env
from storage.embedded import S3Endpoint
from tests.conftest import POSTGRES_URL, _libpq_conninfo
from tests.e2e import service
from tests.e2e.test_pipeline import CARD, cli_env, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def test_only_the_server_database_settings_are_passed_on() -> None:
    got = server_database_env({"PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://x",
                               "PREFECT_SERVER_DATABASE_TIMEOUT": "20",
                               "PREFECT_API_URL": "http://elsewhere/api", "HOME": "/root"})
    assert got == {"PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://x",
                   "PREFECT_SERVER_DATABASE_TIMEOUT": "20"}


@pytest.fixture
def prefect_schema() -> Iterator[str]:
    if os.environ.get("DOSSIER_TEST_NO_POSTGRES") == "1":
        pytest.skip("DOSSIER_TEST_NO_POSTGRES=1")
    name = f"s_prefect_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq_conninfo(POSTGRES_URL), autocommit=True) as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        admin.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_serve_keeps_prefect_runs_in_the_operators_postgresql(tmp_path, s3_endpoint: S3Endpoint,
                                                               prefect_schema: str) -> None:
    """
    GIVEN `dossier serve` with no Prefect server configured, and the Prefect server database
    settings pointing at a PostgreSQL schema
    WHEN a page is uploaded and read
    THEN the batch finishes, and its flow run is in that schema, not in a SQLite file
    """
    env = cli_env(s3_endpoint, tmp_path / "data", f"p{uuid.uuid4().hex[:8]}-")
    env.update(
        PREFECT_SERVER_DATABASE_CONNECTION_URL=make_url(POSTGRES_URL).set(
            drivername="postgresql+asyncpg").render_as_string(hide_password=False),
        PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_SEARCH_PATH=f"{prefect_schema},public",
        DOSSIER_WORKERS="1")
    made = run_cli(["apikey", "create", "--name", "station", "--scope", "batches:write"],
                   env, tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    proc, base = service.serve(env, tmp_path, timeout=300)
    try:
        r = service.upload(base, key, [("card.png", CARD.read_bytes())])
        assert r.status_code == 202, r.text
        status = service.wait_finished(base, key, r.json()["batch_id"])
        assert [f["stage"] for f in status["files"]] in (["stored"], ["needs_review"])
    finally:
        service.stop(proc)
    with psycopg.connect(_libpq_conninfo(POSTGRES_URL)) as db:
        runs = db.execute(f'SELECT count(*) FROM "{prefect_schema}".flow_run '
                          "WHERE parameters->>'batch_id' = %s",
                          (r.json()["batch_id"],)).fetchone()
    assert runs is not None and runs[0] >= 1
    assert not list((tmp_path / "data").rglob("prefect.db"))
