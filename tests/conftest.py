"""Shared fixtures: a real embedded S3 server for the whole test session, and object stores
over it with a bucket prefix of their own per test module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from storage.embedded import EmbeddedS3, S3Endpoint
from storage.objects import ObjectStore


@pytest.fixture(scope="session")
def embedded_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedS3]:
    """The embedded S3 server (SeaweedFS ``weed mini``), started once and stopped at the end."""
    server = EmbeddedS3(tmp_path_factory.mktemp("embedded-s3"))
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
