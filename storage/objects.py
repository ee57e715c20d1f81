"""The object store: originals (content-addressed, never overwritten), derived artifacts, and
versioned record JSON, in three S3 buckets reached through the ``minio`` SDK.

Only transient faults (connection errors, 5xx, SlowDown) are retried, a few times with a short
backoff; every other S3 error becomes a :class:`StorageError` naming the bucket and key, and a
missing object a :class:`NotFoundError`. With the embedded server, a connection fault first
makes sure the server runs (restarted on its own ports if it died), so whichever process
notices the outage first heals it for all.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, NamedTuple, TypeVar
from urllib.parse import quote, unquote, urlsplit

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, Tags
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.helpers import DictType
from minio.versioningconfig import VersioningConfig

from models.errors import ConfigurationError, NotFoundError, StorageError
from models.records import AuditEvent
from models.settings import Settings
from storage.embedded import EmbeddedS3, S3Endpoint
from storage.private import make_private

__all__ = [
    "ObjectStore",
    "OriginalRef",
    "OriginalInfo",
    "RecordVersion",
    "open_object_store",
    "original_key",
    "record_key",
    "RETRY_DELAYS",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Pause before each retry of a transient fault: at most three retries, 3.5 s in all.
RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0)
_TRANSIENT_CODES = frozenset({"SlowDown", "InternalError", "ServiceUnavailable"})
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchObject"})
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_RECORD_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$")
_META_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_PREFIX_RE = re.compile(r"^([a-z0-9][a-z0-9-]*)?$")
_CHUNK = 1024 * 1024
_RECORDS_PREFIX = "records/"
_AUDIT_PREFIX = "audit/"
_ACCESS_PREFIX = "access/"


def original_key(sha256: str) -> str:
    """Object key of the original whose content hashes to ``sha256``."""
    return f"sha256/{sha256[:2]}/{sha256}"


def record_key(record_id: str) -> str:
    """Object key of a record's JSON in the records bucket."""
    return f"{_RECORDS_PREFIX}{record_id}.json"


@dataclass(frozen=True)
class OriginalRef:
    """An original in the store; ``created`` is False when the same content was already there."""

    sha256: str
    key: str
    size: int
    created: bool


@dataclass(frozen=True)
class OriginalInfo:
    """What the store knows about an original besides its bytes."""

    sha256: str
    key: str
    size: int
    content_type: str
    filename: str
    metadata: dict[str, str] = field(default_factory=dict)


class RecordVersion(NamedTuple):
    version_id: str | None
    last_modified: datetime | None
    is_latest: bool


def _sha256_of_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class _HashingReader:
    """A file wrapper that hashes what the uploader reads, to prove the upload matches the key."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.hash.update(data)
        return data


def _status_of(e: Exception) -> int | None:
    if isinstance(e, S3Error):
        return getattr(e.response, "status", None)
    if isinstance(e, ServerError):
        return e.status_code
    if isinstance(e, InvalidResponseError):
        return getattr(e, "_code", None)
    return None


def _is_transient(e: Exception) -> bool:
    """Connection-level faults and server-side (5xx / SlowDown) errors; never a 4xx."""
    if isinstance(e, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError):
        return True
    if isinstance(e, S3Error) and e.code in _TRANSIENT_CODES:
        return True
    status = _status_of(e)
    return status is not None and status >= 500


def _encode_meta(value: str) -> str:
    # S3 user metadata travels in HTTP headers, so it must be ASCII: URL-quote it.
    return quote(value, safe=" !#$&'()*+,-./:;=?@[]_~")


def _user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith("x-amz-meta-"):
            out[lower[len("x-amz-meta-"):]] = unquote(value)
    return out


class ObjectStore:
    """Originals, derived artifacts and versioned records in ``{prefix}originals``,
    ``{prefix}derived`` and ``{prefix}records``; the buckets are created if missing."""

    def __init__(
        self,
        endpoint: S3Endpoint,
        bucket_prefix: str = "",
        *,
        client: Minio | None = None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        heal: Callable[[], S3Endpoint] | None = None,
        public_url: str = "",
    ) -> None:
        if not _PREFIX_RE.match(bucket_prefix) or len(bucket_prefix) > 50:
            raise ConfigurationError(
                f"bucket prefix {bucket_prefix!r} is not usable in S3 bucket names: "
                "use lowercase letters, digits and '-', starting with a letter or digit"
            )
        self.endpoint = endpoint
        self.bucket_prefix = bucket_prefix
        self.originals_bucket = f"{bucket_prefix}originals"
        self.derived_bucket = f"{bucket_prefix}derived"
        self.records_bucket = f"{bucket_prefix}records"
        self._retry_delays = tuple(retry_delays)
        self.public_url = public_url.strip()
        self._presigner: Minio | None = None
        self._heal = heal
        self._healed_at = 0.0
        if client is None:
            # Retries are ours (transient faults only), so the HTTP layer must not add its own.
            http = urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=5.0, read=120.0),
                maxsize=16,
                retries=False,
            )
            client = endpoint.client(http_client=http)
        self.client = client
        self.ensure_buckets()

    @classmethod
    def from_settings(cls, settings: Settings, *, start_embedded: bool = True) -> ObjectStore:
        """See :func:`open_object_store`."""
        return open_object_store(settings, start_embedded=start_embedded)

    # -- plumbing ----------------------------------------------------------------------------

    def _call(self, action: str, bucket: str, key: str | None, fn: Callable[[], T]) -> T:
        """Run one S3 operation, retrying transient faults and translating errors."""
        where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
        delays = self._retry_delays
        for attempt in range(len(delays) + 1):
            try:
                return fn()
            except (MinioException, urllib3.exceptions.HTTPError, OSError) as e:
                if isinstance(e, S3Error) and e.code in _NOT_FOUND_CODES:
                    raise NotFoundError(f"{where} does not exist", hint="") from e
                if isinstance(e, S3Error) and e.code == "NoSuchBucket":
                    raise StorageError(f"cannot {action} {where}: bucket {bucket} does not exist") from e
                if _is_transient(e) and attempt < len(delays):
                    log.warning("transient S3 fault on %s %s (try %d of %d): %s",
                                action, where, attempt + 1, len(delays) + 1, e)
                    time.sleep(delays[attempt])
                    if _status_of(e) is None:
                        self._heal_server()
                    continue
                detail = f"{e.code}: {e.message}" if isinstance(e, S3Error) else str(e)
                raise StorageError(
                    f"cannot {action} {where} on {self.endpoint.endpoint}: {detail}"
                ) from e
        raise AssertionError("unreachable")

    def _heal_server(self) -> None:
        """The embedded server did not answer: start it again (on its own ports) unless it
        runs, at most every two seconds; a new address gets a new client."""
        if self._heal is None or time.monotonic() - self._healed_at < 2.0:
            return
        self._healed_at = time.monotonic()
        try:
            endpoint = self._heal()
        except StorageError as e:
            log.warning("cannot restart the embedded S3 server: %s", e)
            return
        if endpoint.endpoint != self.endpoint.endpoint:
            log.warning("the embedded S3 server moved to %s", endpoint.endpoint)
            self.endpoint = endpoint
            self.client = endpoint.client(http_client=self.client._http)

    def _read(self, action: str, bucket: str, key: str, version_id: str | None = None) -> bytes:
        def get() -> bytes:
            resp = self.client.get_object(bucket, key, version_id=version_id)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()

        return self._call(action, bucket, key, get)

    def _exists(self, bucket: str, key: str) -> bool:
        try:
            self._call("look up", bucket, key, lambda: self.client.stat_object(bucket, key))
        except NotFoundError:
            return False
        return True

    def ensure_buckets(self) -> None:
        """Create the three buckets if missing and keep versioning on for records."""
        for bucket in (self.originals_bucket, self.derived_bucket, self.records_bucket):
            def make(bucket: str = bucket) -> None:
                if self.client.bucket_exists(bucket):
                    return
                try:
                    self.client.make_bucket(bucket)
                except S3Error as e:
                    # Another process created it between the check and here.
                    if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise

            self._call("create bucket", bucket, None, make)

        def versioning() -> None:
            if self.client.get_bucket_versioning(self.records_bucket).status != ENABLED:
                self.client.set_bucket_versioning(self.records_bucket, VersioningConfig(ENABLED))

        self._call("enable versioning on", self.records_bucket, None, versioning)

    # -- originals ---------------------------------------------------------------------------

    def put_original(
        self,
        source: Path | str | bytes,
        *,
        filename: str,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
    ) -> OriginalRef:
        """Store an original under the SHA-256 of its content, unless that content is there.

        Files are hashed and uploaded as streams. When this returns, the upload is complete.
        An existing object is never overwritten: ``created`` is False then.
        """
        if isinstance(source, bytes):
            sha256, size = hashlib.sha256(source).hexdigest(), len(source)
        else:
            path = Path(source)
            try:
                sha256, size = _sha256_of_file(path)
            except OSError as e:
                raise StorageError(f"cannot read {path}: {e.strerror or e}", path=str(path)) from e
        key = original_key(sha256)
        bucket = self.originals_bucket
        if self._exists(bucket, key):
            return OriginalRef(sha256=sha256, key=key, size=size, created=False)

        # Prefixed explicitly: minio would send names like "content-disposition" as headers.
        meta: DictType = {"x-amz-meta-filename": _encode_meta(filename),
                          "x-amz-meta-sha256": sha256}
        for name, value in (metadata or {}).items():
            if not _META_KEY_RE.match(name):
                raise ValueError(f"metadata key {name!r}: use ASCII letters, digits and '-'")
            meta[f"x-amz-meta-{name.lower()}"] = _encode_meta(value)

        def upload() -> str:
            if isinstance(source, bytes):
                self.client.put_object(bucket, key, io.BytesIO(source), size,
                                       content_type=content_type, metadata=meta)
                return sha256
            with open(source, "rb") as f:
                reader = _HashingReader(f)
                self.client.put_object(bucket, key, reader, size,  # type: ignore[arg-type]
                                       content_type=content_type, metadata=meta)
                return reader.hash.hexdigest()

        uploaded = self._call("upload", bucket, key, upload)
        if uploaded != sha256:
            # The file changed between hashing and upload: the object is not what its key says.
            assert not isinstance(source, bytes)  # bytes are hashed as they are sent
            self._call("remove", bucket, key, lambda: self.client.remove_object(bucket, key))
            raise StorageError(f"{source} changed while it was being stored; store it again",
                               path=str(source))
        return OriginalRef(sha256=sha256, key=key, size=size, created=True)

    def _original_key(self, sha256: str) -> str:
        if not _SHA256_RE.match(sha256):
            raise NotFoundError(f"no original {sha256!r}: not a lowercase SHA-256 hex digest")
        return original_key(sha256)

    def original_exists(self, sha256: str) -> bool:
        """Whether an original with this content hash is stored."""
        if not _SHA256_RE.match(sha256):
            return False
        return self._exists(self.originals_bucket, original_key(sha256))

    def get_original(self, sha256: str) -> bytes:
        """The bytes of an original (small files; use :meth:`download_original` for big ones)."""
        return self._read("read", self.originals_bucket, self._original_key(sha256))

    def original_info(self, sha256: str) -> OriginalInfo:
        """Size, content type, original filename and metadata of a stored original."""
        key = self._original_key(sha256)
        st = self._call("look up", self.originals_bucket, key,
                        lambda: self.client.stat_object(self.originals_bucket, key))
        meta = _user_metadata(st.metadata or {})
        filename = meta.pop("filename", "")
        meta.pop("sha256", None)
        return OriginalInfo(sha256=sha256, key=key, size=st.size or 0,
                            content_type=st.content_type or "application/octet-stream",
                            filename=filename, metadata=meta)

    def download_original(self, sha256: str, dest: Path) -> Path:
        """Stream an original into ``dest`` (written to a temporary name, then renamed)."""
        key = self._original_key(sha256)
        dest = Path(dest)
        self._call("download", self.originals_bucket, key,
                   lambda: self.client.fget_object(self.originals_bucket, key, str(dest)))
        make_private(dest)  # a citizen's scan in a cache on disk: 0600 whatever the umask
        return dest

    # -- derived -----------------------------------------------------------------------------

    def put_derived(self, key: str, data: bytes, content_type: str) -> str:
        """Store a derived artifact (recomputable, so it may be overwritten); returns its key."""
        bucket = self.derived_bucket
        self._call("upload", bucket, key, lambda: self.client.put_object(
            bucket, key, io.BytesIO(data), len(data), content_type=content_type))
        return key

    def get_derived(self, key: str) -> bytes:
        return self._read("read", self.derived_bucket, key)

    def derived_exists(self, key: str) -> bool:
        return self._exists(self.derived_bucket, key)

    # -- records -----------------------------------------------------------------------------

    def _record_key(self, record_id: str) -> str:
        if not _RECORD_ID_RE.match(record_id):
            raise ValueError(f"record id {record_id!r}: use letters, digits, '.', '_' and '-'")
        return record_key(record_id)

    def put_record(
        self, record_id: str, data: bytes, *, tags: Mapping[str, str] | None = None
    ) -> str | None:
        """Store a new version of a record's JSON; returns the version id."""
        key = self._record_key(record_id)
        bucket = self.records_bucket
        object_tags: Tags | None = None
        if tags:
            object_tags = Tags.new_object_tags()
            object_tags.update(tags)
        result = self._call("upload", bucket, key, lambda: self.client.put_object(
            bucket, key, io.BytesIO(data), len(data),
            content_type="application/json", tags=object_tags))
        return result.version_id

    def record_location(self, record_id: str) -> str:
        """The ``s3://bucket/key`` of a record, as kept in the index."""
        return f"s3://{self.records_bucket}/{self._record_key(record_id)}"

    def get_record(self, record_id: str, version_id: str | None = None) -> bytes:
        """The latest JSON of a record, or the given version of it."""
        return self._read("read", self.records_bucket, self._record_key(record_id), version_id)

    def record_tags(self, record_id: str, version_id: str | None = None) -> dict[str, str]:
        key = self._record_key(record_id)
        tags = self._call("read tags of", self.records_bucket, key, lambda: self.client.get_object_tags(
            self.records_bucket, key, version_id=version_id))
        return dict(tags or {})

    def record_versions(self, record_id: str) -> list[RecordVersion]:
        """Every version of a record, newest first."""
        key = self._record_key(record_id)
        bucket = self.records_bucket

        def listing() -> list[RecordVersion]:
            return [
                RecordVersion(o.version_id, o.last_modified, str(o.is_latest).lower() == "true")
                for o in self.client.list_objects(bucket, prefix=key, include_version=True)
                if o.object_name == key and not o.is_delete_marker
            ]

        versions = self._call("list versions of", bucket, key, listing)
        if not versions:
            raise NotFoundError(f"s3://{bucket}/{key} does not exist")
        # Servers list newest first; keep that order, but the latest always leads.
        return sorted(versions, key=lambda v: not v.is_latest)

    def _keys_under(self, prefix: str, suffix: str) -> list[str]:
        """The keys of the records bucket under ``prefix`` that end in ``suffix``, in order."""
        bucket = self.records_bucket

        def listing() -> list[str]:
            return sorted(o.object_name for o in self.client.list_objects(
                bucket, prefix=prefix, recursive=True)
                if o.object_name and o.object_name.endswith(suffix))

        return self._call("list", bucket, prefix, listing)

    def record_ids(self) -> list[str]:
        """Ids of every stored record."""
        return [key[len(_RECORDS_PREFIX):-len(".json")]
                for key in self._keys_under(_RECORDS_PREFIX, ".json")]

    def iter_records(self) -> Iterator[tuple[str, bytes, str | None]]:
        """``(record_id, latest JSON, version id)`` of every record, to rebuild the index."""
        bucket = self.records_bucket
        for record_id in self.record_ids():
            key = record_key(record_id)

            def get(key: str = key) -> tuple[bytes, str | None]:
                resp = self.client.get_object(bucket, key)
                try:
                    return resp.read(), resp.headers.get("x-amz-version-id")
                finally:
                    resp.close()
                    resp.release_conn()

            try:
                data, version_id = self._call("read", bucket, key, get)
            except NotFoundError:
                continue  # removed since the listing
            yield record_id, data, version_id


    # -- audit events: append-only, one object each, never rewritten ------------------------

    def put_audit_event(self, event: AuditEvent) -> str:
        """Store one audit event as its own object; returns its key."""
        self._record_key(event.record_id)  # validates the id
        key = (f"{_AUDIT_PREFIX}{event.record_id}/"
               f"{event.at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{event.event_id}.json")
        data = event.model_dump_json().encode("utf-8")
        bucket = self.records_bucket
        self._call("upload", bucket, key, lambda: self.client.put_object(
            bucket, key, io.BytesIO(data), len(data), content_type="application/json"))
        return key

    def _audit_under(self, prefix: str) -> Iterator[AuditEvent]:
        for key in self._keys_under(prefix, ".json"):
            yield AuditEvent.model_validate_json(self._read("read", self.records_bucket, key))

    def audit_events(self, record_id: str) -> list[AuditEvent]:
        """A record's audit events, oldest first."""
        self._record_key(record_id)
        return list(self._audit_under(f"{_AUDIT_PREFIX}{record_id}/"))

    def iter_audit_events(self) -> Iterator[AuditEvent]:
        """Every audit event of every record, to rebuild the index."""
        return self._audit_under(_AUDIT_PREFIX)

    # -- the access log: append-only segments, one object each, never rewritten ------------

    def put_access_segment(self, at: datetime, name: str, data: bytes) -> str:
        """Store one segment of the access log (JSON lines) under a new key; returns it."""
        key = f"{_ACCESS_PREFIX}{at.astimezone(UTC):%Y/%m/%d/%H%M%S%fZ}-{name}.jsonl"
        bucket = self.records_bucket
        self._call("upload", bucket, key, lambda: self.client.put_object(
            bucket, key, io.BytesIO(data), len(data), content_type="application/x-ndjson"))
        return key

    def iter_access_segments(self) -> Iterator[tuple[str, bytes]]:
        """Every access-log segment ``(key, JSON lines)``, oldest first."""
        for key in self._keys_under(_ACCESS_PREFIX, ".jsonl"):
            yield key, self._read("read", self.records_bucket, key)

    # -- presigned URLs: a client fetches the bytes from the object store itself ----------

    def _presign_client(self) -> Minio:
        """A client that signs for the address clients reach (``public_url``, else the
        endpoint): a signature covers the host, so it is made for that host. Signing is
        local (the region is given), no request is sent."""
        if self._presigner is None:
            if self.public_url:
                parts = urlsplit(self.public_url if "://" in self.public_url
                                 else f"http://{self.public_url}")
                host, secure = parts.netloc, parts.scheme == "https"
            else:
                host, secure = self.endpoint.endpoint, self.endpoint.secure
            self._presigner = Minio(host, access_key=self.endpoint.access_key,
                                    secret_key=self.endpoint.secret_key, secure=secure,
                                    region=self.endpoint.region)
        return self._presigner

    def presigned_original_url(self, sha256: str, expires: timedelta, *,
                               filename: str | None = None) -> str:
        """A GET URL for an original, valid for ``expires``; it downloads under ``filename``."""
        key = self._original_key(sha256)
        headers: DictType | None = None
        if filename:
            headers = {"response-content-disposition":
                       f"attachment; filename*=UTF-8''{quote(filename, safe='')}"}
        return self._presign_client().presigned_get_object(
            self.originals_bucket, key, expires=expires, response_headers=headers)

    def presigned_derived_url(self, key: str, expires: timedelta, *,
                              content_type: str | None = None) -> str:
        """A GET URL for a derived artifact (a searchable PDF), valid for ``expires``."""
        headers: DictType | None = (
            {"response-content-type": content_type} if content_type else None)
        return self._presign_client().presigned_get_object(
            self.derived_bucket, key, expires=expires, response_headers=headers)


def _endpoint_from_settings(settings: Settings) -> S3Endpoint:
    raw = settings.s3_endpoint.strip()
    secure = settings.s3_secure
    if "://" in raw:
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"DOSSIER_S3_ENDPOINT {raw!r} is not host:port or a URL")
        secure = parts.scheme == "https"
        raw = parts.netloc
    access = settings.s3_access_key.get_secret_value()
    secret = settings.s3_secret_key.get_secret_value()
    if not access or not secret:
        raise ConfigurationError(
            "DOSSIER_S3_ENDPOINT is set but DOSSIER_S3_ACCESS_KEY / DOSSIER_S3_SECRET_KEY are not"
        )
    return S3Endpoint(endpoint=raw, access_key=access, secret_key=secret, secure=secure,
                      region=settings.s3_region)


def open_object_store(settings: Settings, *, start_embedded: bool = True) -> ObjectStore:
    """The object store the settings describe.

    With ``s3_endpoint`` set, that server with the configured keys (nothing is started).
    Otherwise the embedded server under ``data_dir``: started if needed when
    ``start_embedded``, else it must already be running.
    """
    heal = None
    if settings.s3_endpoint.strip():
        endpoint = _endpoint_from_settings(settings)
    else:
        embedded = EmbeddedS3(settings.data_dir)
        heal = embedded.ensure_running
        if start_embedded:
            endpoint = embedded.ensure_running()
        else:
            found = embedded.endpoint_if_running()
            if found is None:
                raise StorageError(
                    f"the embedded S3 server under {settings.data_dir} is not running",
                    hint="start it (`dossier serve` or `dossier ingest` start it), "
                    "or set DOSSIER_S3_ENDPOINT",
                )
            endpoint = found
    return ObjectStore(endpoint, settings.bucket_prefix, heal=heal,
                       public_url=settings.s3_public_url)
