"""The object store on the real embedded S3 server; fakes only to inject faults."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
import urllib3
from minio import Minio
from minio.error import S3Error
from urllib3.response import HTTPResponse

from models.errors import NotFoundError, StorageError
from models.settings import Settings
from storage.embedded import S3Endpoint
from storage.objects import ObjectStore, open_object_store, original_key, record_key

MISSING_SHA = "0" * 64


def test_original_is_content_addressed(object_store: ObjectStore) -> None:
    """
    GIVEN some bytes
    WHEN they are stored as an original
    THEN the key derives from their SHA-256 and they read back unchanged
    """
    data = b"%PDF-1.7 to khai\n" + os.urandom(64)
    ref = object_store.put_original(data, filename="to-khai.pdf", content_type="application/pdf")
    sha = hashlib.sha256(data).hexdigest()
    assert ref.created is True
    assert ref.sha256 == sha
    assert ref.key == original_key(sha) == f"sha256/{sha[:2]}/{sha}"
    assert ref.size == len(data)
    assert object_store.original_exists(sha)
    assert object_store.get_original(sha) == data
    assert object_store.original_info(sha).content_type == "application/pdf"


def test_original_is_never_overwritten(object_store: ObjectStore) -> None:
    """
    GIVEN an original already stored
    WHEN the same content is stored again under another filename
    THEN nothing is written: created is False and the object and its metadata are unchanged
    """
    data = os.urandom(1000)
    first = object_store.put_original(data, filename="first.png", content_type="image/png")
    before = object_store.client.stat_object(object_store.originals_bucket, first.key)

    second = object_store.put_original(data, filename="second.png", content_type="image/png")

    after = object_store.client.stat_object(object_store.originals_bucket, first.key)
    assert second.created is False
    assert (second.sha256, second.key, second.size) == (first.sha256, first.key, first.size)
    assert after.etag == before.etag
    assert after.last_modified == before.last_modified
    assert object_store.original_info(first.sha256).filename == "first.png"


def test_vietnamese_filename_and_metadata_round_trip(object_store: ObjectStore) -> None:
    """
    GIVEN an original named in Vietnamese with Vietnamese metadata
    WHEN it is stored and described again
    THEN the filename and the metadata come back exactly
    """
    name = "Giấy khai sinh - Nguyễn Thị Ánh Tuyết (bản sao) #2.pdf"
    ref = object_store.put_original(
        os.urandom(300), filename=name, content_type="application/pdf",
        metadata={"station": "Một cửa Phường Bến Nghé", "Operator": "trần.văn.bình"},
    )
    info = object_store.original_info(ref.sha256)
    assert info.filename == name
    assert info.metadata == {"station": "Một cửa Phường Bến Nghé", "operator": "trần.văn.bình"}
    assert info.size == ref.size


def test_large_file_is_streamed_and_downloaded(object_store: ObjectStore, tmp_path: Path) -> None:
    """
    GIVEN a file bigger than one multipart part
    WHEN it is stored from its path and downloaded again
    THEN the hash is that of the file and the download is byte-identical
    """
    src = tmp_path / "scan.tif"
    src.write_bytes(os.urandom(6 * 1024 * 1024 + 123))
    ref = object_store.put_original(src, filename=src.name, content_type="image/tiff")
    assert ref.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert ref.created

    dest = object_store.download_original(ref.sha256, tmp_path / "out" / "copy.tif")
    assert dest.read_bytes() == src.read_bytes()
    assert object_store.put_original(src, filename="again.tif").created is False


def test_missing_objects_raise_not_found(object_store: ObjectStore, tmp_path: Path) -> None:
    """
    GIVEN keys that were never stored
    WHEN they are read
    THEN NotFoundError names them, and existence checks say False
    """
    with pytest.raises(NotFoundError, match=MISSING_SHA):
        object_store.get_original(MISSING_SHA)
    with pytest.raises(NotFoundError):
        object_store.download_original(MISSING_SHA, tmp_path / "x")
    with pytest.raises(NotFoundError):
        object_store.get_original("not-a-hash")
    assert object_store.original_exists(MISSING_SHA) is False
    assert object_store.original_exists("../etc/passwd") is False
    with pytest.raises(NotFoundError, match="never-stored"):
        object_store.get_record("never-stored")
    with pytest.raises(NotFoundError):
        object_store.record_versions("never-stored")
    with pytest.raises(NotFoundError):
        object_store.get_derived("cleaned/none.png")


def test_derived_round_trip(object_store: ObjectStore) -> None:
    """
    GIVEN a derived artifact
    WHEN it is stored, replaced and read
    THEN the latest bytes come back
    """
    key = object_store.put_derived("cleaned/abc/page-0001.png", b"v1", "image/png")
    object_store.put_derived(key, b"v2", "image/png")
    assert object_store.get_derived(key) == b"v2"


def test_records_are_versioned(object_store: ObjectStore) -> None:
    """
    GIVEN a record stored twice with different content
    WHEN its versions are listed and read
    THEN there are two versions, newest first, each readable by id, the latest by default
    """
    v1 = object_store.put_record("rec-versioned", b'{"v": 1}', tags={"doctype": "cccd"})
    v2 = object_store.put_record("rec-versioned", b'{"v": 2}', tags={"doctype": "cccd"})
    assert v1 and v2 and v1 != v2

    versions = object_store.record_versions("rec-versioned")
    assert [v.version_id for v in versions] == [v2, v1]
    assert [v.is_latest for v in versions] == [True, False]
    assert object_store.get_record("rec-versioned") == b'{"v": 2}'
    assert object_store.get_record("rec-versioned", version_id=v1) == b'{"v": 1}'
    assert object_store.record_tags("rec-versioned", version_id=v1) == {"doctype": "cccd"}


def test_record_ids_are_checked(object_store: ObjectStore) -> None:
    """
    GIVEN record ids that would escape the records prefix
    WHEN they are stored
    THEN they are refused
    """
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            object_store.put_record(bad, b"{}")


def test_iter_records_yields_latest_of_each(s3_endpoint: S3Endpoint) -> None:
    """
    GIVEN three records, one of them updated
    WHEN all records are iterated (as reindex does)
    THEN each comes once, with its latest JSON and version id
    """
    store = ObjectStore(s3_endpoint, bucket_prefix="iter-")
    store.put_record("r-a", b'{"a": 1}')
    latest_a = store.put_record("r-a", b'{"a": 2}')
    latest_b = store.put_record("r-b", b'{"b": 1}')
    latest_c = store.put_record("r-c.2", b'{"c": 1}')

    got = {rid: (data, vid) for rid, data, vid in store.iter_records()}
    assert got == {
        "r-a": (b'{"a": 2}', latest_a),
        "r-b": (b'{"b": 1}', latest_b),
        "r-c.2": (b'{"c": 1}', latest_c),
    }
    assert record_key("r-a") == "records/r-a.json"


def test_wrong_credentials_are_refused(s3_endpoint: S3Endpoint) -> None:
    """
    GIVEN the right endpoint with a wrong secret key
    WHEN an object store is opened on it
    THEN a StorageError names the endpoint
    """
    bad = S3Endpoint(endpoint=s3_endpoint.endpoint, access_key=s3_endpoint.access_key,
                     secret_key="not-the-secret")
    with pytest.raises(StorageError, match=s3_endpoint.endpoint):
        ObjectStore(bad, bucket_prefix="bad-", retry_delays=(0.01,))


def test_open_object_store_uses_configured_endpoint(s3_endpoint: S3Endpoint, tmp_path: Path) -> None:
    """
    GIVEN settings naming an S3 endpoint (as a URL) and its keys
    WHEN the object store is opened from them
    THEN that endpoint is used and nothing is started under the data dir
    """
    settings = Settings(
        data_dir=tmp_path, s3_endpoint=f"http://{s3_endpoint.endpoint}",
        s3_access_key=s3_endpoint.access_key, s3_secret_key=s3_endpoint.secret_key,
        bucket_prefix="cfg-",
    )
    store = open_object_store(settings)
    assert store.endpoint.endpoint == s3_endpoint.endpoint
    assert store.put_original(b"configured", filename="c.txt").created
    assert not (tmp_path / "s3").exists()


def test_open_object_store_without_start_needs_a_running_server(tmp_path: Path) -> None:
    """
    GIVEN no endpoint configured and no embedded server running
    WHEN the object store is opened without starting one
    THEN a StorageError says the embedded server is not running
    """
    with pytest.raises(StorageError, match="not running"):
        open_object_store(Settings(data_dir=tmp_path), start_embedded=False)


# -- fault injection ---------------------------------------------------------------------------


class FlakyClient:
    """A real minio client whose ``method`` raises the queued errors first."""

    def __init__(self, real: Minio, method: str, errors: list[Exception]) -> None:
        self._real = real
        self._method = method
        self._errors = list(errors)
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name != self._method:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self._errors:
                raise self._errors.pop(0)
            return attr(*args, **kwargs)

        return call


def _s3_error(status: int, code: str) -> S3Error:
    return S3Error(HTTPResponse(body=b"", status=status), code, f"injected {code}",
                   "/bucket/key", "req-1", "host-1")


def _flaky_store(endpoint: S3Endpoint, method: str, errors: list[Exception]) -> tuple[ObjectStore, FlakyClient]:
    flaky = FlakyClient(endpoint.client(), method, errors)
    store = ObjectStore(endpoint, bucket_prefix="flaky-", client=flaky,  # type: ignore[arg-type]
                        retry_delays=(0.01, 0.01, 0.01))
    return store, flaky


@pytest.mark.parametrize("fault", [
    urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")),
    urllib3.exceptions.NewConnectionError(None, "connection refused"),  # type: ignore[arg-type]
    _s3_error(503, "SlowDown"),
    _s3_error(500, "InternalError"),
], ids=["reset", "refused", "slowdown", "internal"])
def test_transient_fault_is_retried(s3_endpoint: S3Endpoint, fault: Exception) -> None:
    """
    GIVEN an S3 client whose upload fails once with a transient fault
    WHEN a record is stored
    THEN the store retries, the second try succeeds and the record is there
    """
    store, flaky = _flaky_store(s3_endpoint, "put_object", [fault])
    version = store.put_record("after-fault", b'{"ok": true}')
    assert flaky.calls == 2
    assert version is not None
    assert store.get_record("after-fault", version_id=version) == b'{"ok": true}'


@pytest.mark.parametrize("status,code", [(403, "AccessDenied"), (400, "InvalidRequest")])
def test_client_error_is_not_retried(s3_endpoint: S3Endpoint, status: int, code: str) -> None:
    """
    GIVEN an S3 client whose upload fails with a 4xx error
    WHEN a record is stored
    THEN it is tried exactly once and a StorageError names the bucket, key and code
    """
    store, flaky = _flaky_store(s3_endpoint, "put_object", [_s3_error(status, code)])
    with pytest.raises(StorageError, match=rf"flaky-records/records/once\.json.*{code}") as info:
        store.put_record("once", b"{}")
    assert flaky.calls == 1
    assert isinstance(info.value.__cause__, S3Error)


def test_persistent_fault_gives_up(s3_endpoint: S3Endpoint) -> None:
    """
    GIVEN an S3 client whose reads always fail with 503
    WHEN a record is read
    THEN the store tries a bounded number of times, then raises StorageError
    """
    store, flaky = _flaky_store(s3_endpoint, "get_object", [_s3_error(503, "SlowDown")] * 10)
    with pytest.raises(StorageError, match="SlowDown"):
        store.get_record("whatever")
    assert flaky.calls == 4
