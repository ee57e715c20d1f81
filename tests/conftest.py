"""Shared fixtures: a real embedded S3 server for the whole test session, and object stores
over it with a bucket prefix of their own per test module."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from storage.embedded import EmbeddedS3, S3Endpoint
from storage.index import RecordIndex
from storage.objects import ObjectStore


@pytest.fixture(scope="session")
def embedded_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedS3]:
    """The embedded S3 server (SeaweedFS ``weed mini``), started once and stopped at the end."""
    # Every test module makes buckets of its own: small volumes, so they never run out.
    server = EmbeddedS3(tmp_path_factory.mktemp("embedded-s3"), volume_size_mb=8)
    server.ensure_running(timeout=60)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_endpoint(embedded_s3: EmbeddedS3) -> S3Endpoint:
    return embedded_s3.ensure_running()


@pytest.fixture(scope="module")
def object_store(s3_endpoint: S3Endpoint) -> ObjectStore:
    """An object store whose buckets belong to this test module alone."""
    return ObjectStore(s3_endpoint, bucket_prefix=f"t{uuid.uuid4().hex[:10]}-")


# Index fixtures: tests using `index` run on SQLite and on PostgreSQL (127.0.0.1:5432,
# override with DOSSIER_TEST_POSTGRES_URL; DOSSIER_TEST_NO_POSTGRES=1 skips those).
POSTGRES_URL = os.environ.get(
    "DOSSIER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _libpq_conninfo(url: str) -> str:
    u = make_url(url)
    parts = {"host": u.host or "127.0.0.1", "port": u.port or 5432, "dbname": u.database,
             "user": u.username, "password": u.password}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v)


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    if os.environ.get("DOSSIER_TEST_NO_POSTGRES") == "1":
        pytest.skip("DOSSIER_TEST_NO_POSTGRES=1")
    conninfo = _libpq_conninfo(POSTGRES_URL)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable ({e}); "
                    "start it or set DOSSIER_TEST_NO_POSTGRES=1")
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            sep = "&" if "?" in POSTGRES_URL else "?"
            yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite3'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def index(index_url: str) -> Iterator[RecordIndex]:
    idx = RecordIndex(index_url)
    try:
        yield idx
    finally:
        idx.close()
