"""The SQL index: a projection of the object store (rebuildable by ``dossier reindex``), the
registry of ingested files, and the API keys.

Works on SQLite (a file, WAL mode, busy timeout) and PostgreSQL (``postgresql+psycopg://``).
The schema is created and upgraded by the Alembic migrations in ``storage/migrations`` when the
index is opened.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DataError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from models.accounts import Role, UserInfo
from models.errors import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StorageError,
)
from models.records import (
    ApiKeyInfo,
    AuditAction,
    AuditEvent,
    FileStatus,
    IndexEntry,
    IngestFileResult,
    RecordStatus,
    utcnow,
)

__all__ = [
    "RecordIndex",
    "Base",
    "RecordRow",
    "RecordCitizenRow",
    "IngestedFileRow",
    "ApiKeyRow",
    "UserRow",
    "WebSessionRow",
    "LoginFailureRow",
    "AuditRow",
    "QueueFilter",
    "QueueCounts",
    "API_KEY_PREFIX",
    "MIGRATIONS_DIR",
]

log = logging.getLogger(__name__)

API_KEY_PREFIX = "dsk"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_SQLITE_BUSY_TIMEOUT_MS = 15_000
# A pooled PostgreSQL connection idle this long is checked before use.
_PING_IDLE_S = 10.0
# Any constant: serializes concurrent first-time migrations on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x646F7373


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_JSON = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class RecordRow(Base):
    __tablename__ = "records"

    record_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    dossier_id: Mapped[str] = mapped_column(String(200), index=True)
    batch_id: Mapped[str] = mapped_column(String(200), index=True)
    doctype: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    s3_key: Mapped[str] = mapped_column(String(1024))
    version_id: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[dict[str, Any]] = mapped_column(_JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    station: Mapped[str | None] = mapped_column(String(200), index=True)
    operator: Mapped[str | None] = mapped_column(String(200))
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    settled: Mapped[bool] = mapped_column(Boolean, default=False)
    search_text: Mapped[str] = mapped_column(Text, default="")
    lease_user: Mapped[str | None] = mapped_column(String(200))
    lease_expires: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UserRow(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    lang: Mapped[str] = mapped_column(String(10), default="vi")
    station: Mapped[str | None] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebSessionRow(Base):
    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(
        String(100), ForeignKey("users.name", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoginFailureRow(Base):
    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditRow(Base):
    __tablename__ = "audit_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    field: Mapped[str | None] = mapped_column(String(100))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    record_version: Mapped[int | None] = mapped_column(Integer)
    doctype: Mapped[str | None] = mapped_column(String(100))


class RecordCitizenRow(Base):
    __tablename__ = "record_citizens"

    record_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("records.record_id", ondelete="CASCADE"), primary_key=True
    )
    citizen_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class IngestedFileRow(Base):
    __tablename__ = "ingested_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(Text)
    dossier_id: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(100))
    pages: Mapped[int] = mapped_column(Integer)
    record_ids: Mapped[list[str]] = mapped_column(_JSON)
    batch_id: Mapped[str | None] = mapped_column(String(200), index=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(_JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    agency: Mapped[str | None] = mapped_column(String(200))  # migration 0009
    doctypes: Mapped[list[str] | None] = mapped_column(_JSON)  # None: every type


@dataclass(frozen=True)
class QueueFilter:
    """What the review queue shows: records needing review, optionally narrowed."""

    batch_id: str | None = None
    doctype: str | None = None
    station: str | None = None
    older_than: timedelta | None = None  # only records waiting at least this long
    order: str = "confidence"  # lowest confidence first; or "age" (oldest first)


@dataclass(frozen=True)
class QueueCounts:
    waiting: int
    in_review: int
    verified_today: int


def _hash_secret(secret: str) -> str:
    # API key secrets are 256-bit random tokens: a fast hash is enough, no password KDF needed.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        # Writers take the write lock up front, so the busy timeout applies instead of a
        # "database is locked" when a read transaction later tries to write.
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Check a pooled server connection before use only when it sat idle for ``idle_s``: a
    server restart or a firewall's idle cut shows there, and a busy pool pays nothing. A dead
    connection is replaced (DisconnectionError makes the pool take another)."""
    import time

    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
            dbapi_conn.rollback()
        except Exception as e:  # noqa: BLE001 - any failure means: take another connection
            raise DisconnectionError(f"idle connection is gone: {e}") from e


def _private_sqlite_file(path: Path) -> None:
    """Create the SQLite file 0600 in a 0700 folder before SQLite does (it would follow the
    umask); SQLite gives its journal, WAL and shared-memory files the database's mode."""
    from storage.private import open_private, private_dir

    private_dir(path.parent)
    try:
        open_private(path).close()  # an empty file is an empty SQLite database
    except FileExistsError:
        pass


class RecordIndex:
    """The SQL index over ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as e:
            raise ConfigurationError(f"index URL {url!r} is not a database URL") from e
        self.backend = parsed.get_backend_name()
        if self.backend not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"index URL {parsed.render_as_string(hide_password=True)!r}: "
                "only sqlite and postgresql are supported"
            )
        self.url = parsed.render_as_string(hide_password=True)
        connect_args: dict[str, Any] = {}
        if self.backend == "sqlite":
            if not parsed.database or parsed.database == ":memory:":
                raise ConfigurationError(
                    "an in-memory SQLite index would vanish with its connection: "
                    "give a file, e.g. sqlite:///.dossier/index.sqlite3"
                )
            _private_sqlite_file(Path(parsed.database))
            connect_args["timeout"] = _SQLITE_BUSY_TIMEOUT_MS / 1000
        else:
            # psycopg prepares a statement run five times, and PostgreSQL then plans it once
            # for any value: a search for a value most records hold got the plan of a rare
            # one (a second instead of 2 ms). Every statement is planned with its values.
            connect_args["prepare_threshold"] = None
        try:
            # No test query on every checkout (half of a lookup's SQL time under load): a
            # server connection idle for a while is pinged first (_ping_when_idle); a SQLite
            # file needs none.
            # The pool holds as many connections as the web app's threads use at once (40),
            # so a busy server does not open and close one per request past the pool's size
            # (a SQLite connection's set-up takes locks; a PostgreSQL one a round of auth).
            self.engine = create_engine(parsed, echo=echo, pool_pre_ping=False,
                                        pool_size=40 if self.backend == "sqlite" else 20,
                                        max_overflow=20, connect_args=connect_args)
        except (SQLAlchemyError, ImportError) as e:
            raise ConfigurationError(f"cannot use index URL {self.url}: {e}") from e
        if self.backend == "sqlite":
            _sqlite_setup(self.engine)
        else:
            _ping_when_idle(self.engine, _PING_IDLE_S)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(sqlite_immediate=True),
                                   expire_on_commit=False)
        self.migrate()

    # -- lifecycle ---------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        try:
            with self.engine.connect().execution_options(sqlite_immediate=True) as conn:
                with conn.begin():
                    if self.backend == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                     {"k": _PG_MIGRATION_LOCK})
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
        except SQLAlchemyError as e:
            raise StorageError(f"cannot create or upgrade the index schema at {self.url}: {e}") from e

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> RecordIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _session(self, action: str, *, write: bool = False) -> Iterator[Session]:
        maker = self._write if write else self._read
        try:
            with maker() as session, session.begin():
                yield session
        except DataError as e:  # the value, not the database: a NUL, an overlong name
            reason = str(getattr(e, "orig", None) or "invalid value").splitlines()[0]
            raise InvalidInputError(f"cannot {action}: the index refuses a value ({reason})") \
                from e
        except SQLAlchemyError as e:
            raise StorageError(f"cannot {action} in the index at {self.url}: {e}") from e

    def _insert(self) -> Any:
        return postgresql.insert if self.backend == "postgresql" else sqlite.insert

    # -- for operators and tools -------------------------------------------------------------

    def ping(self) -> None:
        """Raise :class:`StorageError` unless the database answers a query."""
        with self._session("check the index") as s:
            s.execute(text("SELECT 1"))

    def analyze(self) -> None:
        """Refresh the query planner's statistics (``ANALYZE``), after a bulk load."""
        with self._session("analyze the index", write=True) as s:
            s.execute(text("ANALYZE"))

    def insert_rows(self, table: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows as they are into one table, in one transaction: for tools that fill an
        index in bulk (``bench.indicators``). The application writes through the methods of
        each part of the index, which keep their rules."""
        if rows:
            with self._session(f"fill table {table.__tablename__}", write=True) as s:
                s.execute(insert(table), list(rows))

    # -- records -----------------------------------------------------------------------------

    def upsert_record(self, entry: IndexEntry) -> None:
        """Insert or replace a record's row and its citizen ids (idempotent)."""
        with self._session(f"index record {entry.record_id}", write=True) as s:
            self._upsert_in(s, self._upsert_stmt(entry), entry)

    def write_record(self, record_id: str,
                     write: Callable[[IndexEntry | None],
                                     tuple[IndexEntry, Sequence[AuditEvent]]]) -> IndexEntry:
        """One write transaction holding the record's row, when it has one: ``write`` gets the
        indexed entry (None for a record not indexed yet), stores what it decides in the
        object store, and returns the entry to index with the audit events to index beside
        it. The event announcing the change (``storage.events``) is written in the same
        transaction. A failing ``write`` leaves the index as it was, with no event.
        (``storage.records`` is the only caller: the record store's front door.)"""
        from storage.events import append_events, record_event

        with self._session(f"write record {record_id}", write=True) as s:
            row = s.get(RecordRow, record_id, with_for_update=True)
            current = self._entries(s, [row])[0] if row is not None else None
            entry, events = write(current)
            self._upsert_in(s, self._upsert_stmt(entry), entry)
            self._audit_in(s, events, entry.doctype)
            append_events(s, self.backend, [record_event(current, entry, events)])
        return entry

    def _upsert_stmt(self, entry: IndexEntry) -> Any:
        values = {
            "record_id": entry.record_id,
            "dossier_id": entry.dossier_id,
            "batch_id": entry.batch_id,
            "doctype": entry.doctype,
            "status": str(entry.status),
            "confidence": entry.confidence,
            "s3_key": entry.s3_key,
            "version_id": entry.version_id,
            "summary": dict(entry.summary),
            "created_at": entry.created_at,
            "updated_at": entry.updated_at,
            "revision": entry.revision,
            "station": entry.station,
            "operator": entry.operator,
            "reviewed_by": entry.reviewed_by,
            "reviewed_at": entry.reviewed_at,
            "settled": entry.settled,
            "search_text": entry.search_text,
        }
        stmt = self._insert()(RecordRow).values(**values)
        # A reviewer's lease is the index's own state: a projection update keeps it.
        return stmt.on_conflict_do_update(
            index_elements=[RecordRow.record_id],
            set_={k: stmt.excluded[k] for k in values if k != "record_id"},
        )

    def _upsert_in(self, s: Session, stmt: Any, entry: IndexEntry) -> None:
        from storage.search import write_search
        from storage.verified import write_verified

        s.execute(stmt)
        s.execute(delete(RecordCitizenRow).where(RecordCitizenRow.record_id == entry.record_id))
        citizens = sorted(set(entry.citizen_ids))
        if citizens:
            s.execute(self._insert()(RecordCitizenRow),
                      [{"record_id": entry.record_id, "citizen_id": c} for c in citizens])
        write_verified(s, entry)
        write_search(s, self.backend, entry)

    def _entries(self, s: Session, rows: Sequence[RecordRow]) -> list[IndexEntry]:
        ids = [r.record_id for r in rows]
        citizens: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            found = s.execute(
                select(RecordCitizenRow.record_id, RecordCitizenRow.citizen_id)
                .where(RecordCitizenRow.record_id.in_(ids))
                .order_by(RecordCitizenRow.citizen_id)
            )
            for record_id, citizen_id in found:
                citizens[record_id].append(citizen_id)
        return [
            IndexEntry(
                record_id=r.record_id,
                dossier_id=r.dossier_id,
                batch_id=r.batch_id,
                doctype=r.doctype,
                status=RecordStatus(r.status),
                confidence=r.confidence,
                s3_key=r.s3_key,
                version_id=r.version_id,
                citizen_ids=citizens[r.record_id],
                summary=dict(r.summary or {}),
                created_at=r.created_at,
                updated_at=r.updated_at,
                revision=r.revision or 1,
                station=r.station,
                operator=r.operator,
                reviewed_by=r.reviewed_by,
                reviewed_at=r.reviewed_at,
                settled=bool(r.settled),
                search_text=r.search_text or "",
                lease_user=r.lease_user,
                lease_expires=r.lease_expires,
            )
            for r in rows
        ]

    def get_record(self, record_id: str) -> IndexEntry | None:
        with self._session(f"read record {record_id}") as s:
            row = s.get(RecordRow, record_id)
            return self._entries(s, [row])[0] if row is not None else None

    def records_for_citizen(
        self, citizen_id: str, *, status: RecordStatus | str | None = None
    ) -> list[IndexEntry]:
        """Records that name this citizen id, oldest first, optionally of one status."""
        stmt = (
            select(RecordRow)
            .join(RecordCitizenRow, RecordCitizenRow.record_id == RecordRow.record_id)
            .where(RecordCitizenRow.citizen_id == citizen_id)
            .order_by(RecordRow.created_at, RecordRow.record_id)
        )
        if status is not None:
            stmt = stmt.where(RecordRow.status == str(status))
        with self._session(f"look up citizen {citizen_id}") as s:
            return self._entries(s, s.scalars(stmt).all())

    def list_records(
        self,
        limit: int = 100,
        status: RecordStatus | str | None = None,
        doctype: str | None = None,
        *,
        offset: int = 0,
    ) -> list[IndexEntry]:
        """Records, most recently updated first."""
        stmt = select(RecordRow).order_by(RecordRow.updated_at.desc(), RecordRow.record_id)
        if status is not None:
            stmt = stmt.where(RecordRow.status == str(status))
        if doctype is not None:
            stmt = stmt.where(RecordRow.doctype == doctype)
        stmt = stmt.limit(limit).offset(offset)
        with self._session("list records") as s:
            return self._entries(s, s.scalars(stmt).all())

    def count_records(self, status: RecordStatus | str | None = None) -> int:
        stmt = select(func.count()).select_from(RecordRow)
        if status is not None:
            stmt = stmt.where(RecordRow.status == str(status))
        with self._session("count records") as s:
            return int(s.scalar(stmt) or 0)

    def clear_records(self) -> int:
        """Remove every record row (before a reindex); returns how many there were.
        Leases go with them: a reindex returns every held document to the queue."""
        from storage.search import RecordTextRow, RecordValueRow
        from storage.verified import VerifiedValueRow

        with self._session("clear records", write=True) as s:
            s.execute(delete(RecordValueRow))
            s.execute(delete(RecordTextRow))
            s.execute(delete(RecordCitizenRow))
            s.execute(delete(VerifiedValueRow))
            result = s.execute(delete(RecordRow))
            return int(getattr(result, "rowcount", 0) or 0)

    # -- ingested files ----------------------------------------------------------------------

    def record_file(self, result: IngestFileResult, batch_id: str | None) -> bool:
        """Remember what became of an ingested file, keyed by its content hash.

        A file once accepted stays accepted: a later duplicate or failed attempt only updates
        ``last_seen``. Returns False (nothing stored) when the result has no hash, i.e. the file
        could not even be read.
        """
        if not result.sha256:
            return False
        now = utcnow()
        values = {
            "filename": result.path,
            "dossier_id": result.dossier_id,
            "status": str(result.status),
            "error": result.error,
            "error_kind": result.error_kind,
            "pages": result.pages,
            "record_ids": list(result.record_ids),
            "batch_id": batch_id,
            "last_seen": now,
        }
        with self._session(f"register file {result.path}", write=True) as s:
            s.execute(
                self._insert()(IngestedFileRow)
                .values(sha256=result.sha256, first_seen=now, **values)
                .on_conflict_do_nothing(index_elements=[IngestedFileRow.sha256])
            )
            row = s.get(IngestedFileRow, result.sha256, with_for_update=True)
            assert row is not None
            if row.status == FileStatus.accepted and result.status != FileStatus.accepted:
                row.last_seen = now
            else:
                for k, v in values.items():
                    setattr(row, k, v)
        return True

    def find_file(self, sha256: str) -> IngestFileResult | None:
        """What became of the file with this content hash, if it was ever ingested."""
        with self._session(f"look up file {sha256}") as s:
            row = s.get(IngestedFileRow, sha256)
            if row is None:
                return None
            return IngestFileResult(
                path=row.filename,
                dossier_id=row.dossier_id,
                sha256=row.sha256,
                status=FileStatus(row.status),
                error=row.error,
                error_kind=row.error_kind,
                pages=row.pages,
                record_ids=list(row.record_ids or []),
            )

    # -- API keys ----------------------------------------------------------------------------

    def create_api_key(self, name: str, scopes: Sequence[str], *, agency: str | None = None,
                       doctypes: Sequence[str] | None = None) -> tuple[str, ApiKeyInfo]:
        """A new API key: the plaintext (shown once, never stored) and its description.

        The plaintext looks like ``dsk_<key_id>_<secret>``; only a hash of the secret is kept.
        ``agency`` is named in every access record of its reads; ``doctypes`` limits the
        document types it may read (None: every type).
        """
        scope_list = sorted({str(sc).strip() for sc in scopes if str(sc).strip()})
        if not scope_list:
            raise ValueError("an API key needs at least one scope")
        types = None if doctypes is None else sorted({d.strip() for d in doctypes if d.strip()})
        if types is not None and not types:
            raise ValueError("a key limited to document types needs at least one type")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        row = ApiKeyRow(key_id=key_id, name=name, key_hash=_hash_secret(secret),
                        scopes=scope_list, created_at=utcnow(), revoked=False,
                        agency=(agency or "").strip() or None, doctypes=types)
        info = self._key_info(row)
        with self._session(f"create API key {name!r}", write=True) as s:
            s.add(row)
        return f"{API_KEY_PREFIX}_{key_id}_{secret}", info

    @staticmethod
    def _key_info(row: ApiKeyRow) -> ApiKeyInfo:
        return ApiKeyInfo(key_id=row.key_id, name=row.name, scopes=list(row.scopes),
                          created_at=row.created_at, revoked=bool(row.revoked),
                          agency=row.agency,
                          doctypes=None if row.doctypes is None else list(row.doctypes))

    def verify_api_key(self, key: str, scope: str | None = None) -> ApiKeyInfo | None:
        """The key's description if it is valid, not revoked and has ``scope`` (or ``*``)."""
        parts = key.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not parts[1] or not parts[2]:
            return None
        _, key_id, secret = parts
        with self._session("check an API key") as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                # Same work as a real check, so timing does not tell which key ids exist.
                hmac.compare_digest(_hash_secret(secret), "0" * 64)
                return None
            info = self._key_info(row)
            stored = row.key_hash
        if not hmac.compare_digest(_hash_secret(secret), stored) or info.revoked:
            return None
        if scope is not None and not self.key_allows(info, scope):
            return None
        return info

    @staticmethod
    def key_allows(info: ApiKeyInfo, scope: str) -> bool:
        """Whether a key may use ``scope``: it names it, or it holds ``*`` (every scope)."""
        return scope in info.scopes or "*" in info.scopes

    def list_api_keys(self) -> list[ApiKeyInfo]:
        with self._session("list API keys") as s:
            rows = s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.key_id))
            return [self._key_info(r) for r in rows]

    def revoke_api_key(self, key_id: str) -> ApiKeyInfo:
        """Revoke a key for good; raises :class:`NotFoundError` if there is no such key."""
        with self._session(f"revoke API key {key_id}", write=True) as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(f"no API key with id {key_id!r}")
            row.revoked = True
            return self._key_info(row)

    # -- review queue and leases -------------------------------------------------------------

    def _queue_stmt(self, f: QueueFilter, now: datetime) -> Any:
        stmt = select(RecordRow).where(RecordRow.status == str(RecordStatus.needs_review))
        if f.batch_id:
            stmt = stmt.where(RecordRow.batch_id == f.batch_id)
        if f.doctype:
            stmt = stmt.where(RecordRow.doctype == f.doctype)
        if f.station:
            stmt = stmt.where(RecordRow.station == f.station)
        if f.older_than is not None:
            stmt = stmt.where(RecordRow.created_at <= now - f.older_than)
        if f.order == "age":
            return stmt.order_by(RecordRow.created_at, RecordRow.record_id)
        return stmt.order_by(RecordRow.confidence, RecordRow.created_at, RecordRow.record_id)

    def review_queue(self, f: QueueFilter | None = None, *, limit: int = 50,
                     offset: int = 0) -> list[IndexEntry]:
        """Records needing review (held ones included, marked by their lease)."""
        stmt = self._queue_stmt(f or QueueFilter(), utcnow()).limit(limit).offset(offset)
        with self._session("list the review queue") as s:
            return self._entries(s, s.scalars(stmt).all())

    def queue_counts(self, f: QueueFilter | None = None, *, day_start: datetime) -> QueueCounts:
        now = utcnow()
        base = self._queue_stmt(f or QueueFilter(), now).order_by(None).subquery()
        held = (base.c.lease_expires.is_not(None)) & (base.c.lease_expires > now)
        with self._session("count the review queue") as s:
            total = int(s.scalar(select(func.count()).select_from(base)) or 0)
            in_review = int(s.scalar(select(func.count()).select_from(base).where(held)) or 0)
            verified = int(s.scalar(
                select(func.count()).select_from(RecordRow)
                .where(RecordRow.status == str(RecordStatus.verified),
                       RecordRow.reviewed_at >= day_start)) or 0)
        return QueueCounts(waiting=total - in_review, in_review=in_review,
                           verified_today=verified)

    def claim_next(self, user: str, ttl: timedelta, f: QueueFilter | None = None,
                   *, exclude: Sequence[str] = ()) -> str | None:
        """Lease the first free record of the queue to ``user``; its id, or None if none.

        Two reviewers asking at the same moment never get the same record: PostgreSQL skips
        rows another transaction holds (``FOR UPDATE SKIP LOCKED``); SQLite serializes
        writers (the transaction begins IMMEDIATE).
        """
        now = utcnow()
        stmt = self._queue_stmt(f or QueueFilter(), now).where(
            (RecordRow.lease_expires.is_(None)) | (RecordRow.lease_expires <= now)
            | (RecordRow.lease_user == user))
        if exclude:
            stmt = stmt.where(RecordRow.record_id.not_in(list(exclude)))
        stmt = stmt.limit(1)
        if self.backend == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        with self._session("claim the next record", write=True) as s:
            row = s.scalars(stmt).first()
            if row is None:
                return None
            row.lease_user, row.lease_expires = user, now + ttl
            return row.record_id

    def claim(self, record_id: str, user: str, ttl: timedelta) -> IndexEntry:
        """Lease one record to ``user`` (or renew their lease).

        Raises :class:`ConflictError` naming the holder if another reviewer holds it.
        """
        now = utcnow()
        with self._session(f"claim record {record_id}", write=True) as s:
            row = s.get(RecordRow, record_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no record {record_id}")
            if row.lease_user not in (None, user) and row.lease_expires is not None \
                    and row.lease_expires > now:
                raise ConflictError(
                    f"record {record_id} is being reviewed by {row.lease_user} "
                    f"until {row.lease_expires:%H:%M:%S} UTC",
                    hint="take another document; this one returns to the queue if its lease "
                    "expires")
            row.lease_user, row.lease_expires = user, now + ttl
            s.flush()
            return self._entries(s, [row])[0]

    def release(self, record_id: str, user: str) -> bool:
        """Give a lease back (skip, approve, reject); False if ``user`` did not hold it."""
        with self._session(f"release record {record_id}", write=True) as s:
            row = s.get(RecordRow, record_id, with_for_update=True)
            if row is None or row.lease_user != user:
                return False
            row.lease_user, row.lease_expires = None, None
            return True

    def search_records(self, query: str, *, limit: int = 50) -> list[IndexEntry]:
        """Records matching a citizen ID, a name with or without diacritics, a dossier code,
        a record id, a document type or any value or page text (every word, as a prefix);
        newest first. The staff search; ``GET /v1/records`` asks :mod:`storage.search`."""
        from storage.search import SearchQuery, search

        return search(self, SearchQuery(q=query, statuses=("all",), limit=limit)).entries

    def list_settled_records(self, limit: int = 100) -> list[IndexEntry]:
        stmt = (select(RecordRow).where(RecordRow.settled.is_(True))
                .order_by(RecordRow.updated_at.desc()).limit(limit))
        with self._session("list settled records") as s:
            return self._entries(s, s.scalars(stmt).all())

    # -- audit events ------------------------------------------------------------------------

    def add_audit_events(self, events: Sequence[AuditEvent], doctype: str | None = None) -> None:
        """Index audit events (idempotent: an event already indexed is skipped)."""
        if not events:
            return
        with self._session("index audit events", write=True) as s:
            self._audit_in(s, events, doctype)

    def _audit_in(self, s: Session, events: Sequence[AuditEvent], doctype: str | None) -> None:
        if not events:
            return
        rows = [{"event_id": e.event_id, "record_id": e.record_id, "action": str(e.action),
                 "actor": e.actor, "at": e.at, "field": e.field, "old_value": e.old_value,
                 "new_value": e.new_value, "reason": e.reason,
                 "record_version": e.record_version, "doctype": doctype} for e in events]
        s.execute(self._insert()(AuditRow).values(rows)
                  .on_conflict_do_nothing(index_elements=[AuditRow.event_id]))

    @staticmethod
    def _event(r: AuditRow) -> AuditEvent:
        return AuditEvent(event_id=r.event_id, record_id=r.record_id,
                          action=AuditAction(r.action), actor=r.actor, at=r.at, field=r.field,
                          old_value=r.old_value, new_value=r.new_value, reason=r.reason,
                          record_version=r.record_version)

    def audit_events(self, record_id: str) -> list[AuditEvent]:
        stmt = (select(AuditRow).where(AuditRow.record_id == record_id)
                .order_by(AuditRow.at, AuditRow.event_id))
        with self._session(f"read the audit of {record_id}") as s:
            return [self._event(r) for r in s.scalars(stmt)]

    def audit_events_since(self, since: datetime) -> list[tuple[AuditEvent, str | None]]:
        """Every event since ``since`` with its record's document type, oldest first."""
        stmt = select(AuditRow).where(AuditRow.at >= since).order_by(AuditRow.at,
                                                                     AuditRow.event_id)
        with self._session("read audit events") as s:
            return [(self._event(r), r.doctype) for r in s.scalars(stmt)]

    def iter_audit_events(self, actions: Sequence[str] | None = None,
                          batch: int = 1000) -> Iterator[tuple[AuditEvent, str | None]]:
        stmt = select(AuditRow).order_by(AuditRow.at, AuditRow.event_id)
        if actions:
            stmt = stmt.where(AuditRow.action.in_(list(actions)))
        with self._session("read audit events") as s:
            for r in s.scalars(stmt.execution_options(yield_per=batch)):
                yield self._event(r), r.doctype

    def clear_audit(self) -> int:
        with self._session("clear audit events", write=True) as s:
            result = s.execute(delete(AuditRow))
            return int(getattr(result, "rowcount", 0) or 0)

    def backlog(self) -> list[tuple[str, int, datetime | None]]:
        """Per document type: records waiting for review and the oldest one's creation time."""
        stmt = (select(RecordRow.doctype, func.count(), func.min(RecordRow.created_at))
                .where(RecordRow.status == str(RecordStatus.needs_review))
                .group_by(RecordRow.doctype).order_by(RecordRow.doctype))
        with self._session("measure the backlog") as s:
            out: list[tuple[str, int, datetime | None]] = []
            for doctype, n, oldest in s.execute(stmt):
                if oldest is not None and oldest.tzinfo is None:
                    oldest = oldest.replace(tzinfo=UTC)
                out.append((doctype, int(n), oldest))
            return out

    # -- users, sessions, login throttling ---------------------------------------------------

    @staticmethod
    def _user(row: UserRow) -> UserInfo:
        return UserInfo(name=row.name, role=Role(row.role), lang=row.lang, station=row.station,
                        disabled=bool(row.disabled), created_at=row.created_at)

    def create_user(self, name: str, password_hash: str, role: Role, *, lang: str = "vi",
                    station: str | None = None) -> UserInfo:
        with self._session(f"create user {name!r}", write=True) as s:
            if s.get(UserRow, name) is not None:
                raise ConflictError(f"a user named {name!r} already exists",
                                    hint="choose another name, or disable the old account")
            row = UserRow(name=name, password_hash=password_hash, role=str(role), lang=lang,
                          station=station, disabled=False, created_at=utcnow())
            s.add(row)
            return self._user(row)

    def get_user(self, name: str) -> UserInfo | None:
        with self._session(f"read user {name!r}") as s:
            row = s.get(UserRow, name)
            return self._user(row) if row is not None else None

    def password_hash(self, name: str) -> str | None:
        """The stored hash of an enabled user's password, or None."""
        with self._session("check a login") as s:
            row = s.get(UserRow, name)
            return row.password_hash if row is not None and not row.disabled else None

    def update_user(self, name: str, *, password_hash: str | None = None,
                    disabled: bool | None = None, lang: str | None = None,
                    role: Role | None = None) -> UserInfo:
        with self._session(f"update user {name!r}", write=True) as s:
            row = s.get(UserRow, name)
            if row is None:
                raise NotFoundError(f"no user named {name!r}")
            if password_hash is not None:
                row.password_hash = password_hash
            if disabled is not None:
                row.disabled = disabled
                if disabled:
                    s.execute(delete(WebSessionRow).where(WebSessionRow.user_name == name))
            if lang is not None:
                row.lang = lang
            if role is not None:
                row.role = str(role)
            return self._user(row)

    def list_users(self) -> list[UserInfo]:
        with self._session("list users") as s:
            return [self._user(r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]

    def create_session(self, user: str, ttl: timedelta) -> str:
        """A new session for ``user``: the token for the cookie (only its hash is kept)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self._session("open a session", write=True) as s:
            s.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
            s.add(WebSessionRow(token_hash=_hash_secret(token), user_name=user, created_at=now,
                                expires_at=now + ttl))
        return token

    def session_user(self, token: str, *, extend: timedelta | None = None) -> UserInfo | None:
        """The enabled user a live session token belongs to; optionally slides its expiry."""
        now = utcnow()
        with self._session("check a session", write=extend is not None) as s:
            sess = s.get(WebSessionRow, _hash_secret(token))
            if sess is None or sess.expires_at <= now:
                return None
            row = s.get(UserRow, sess.user_name)
            if row is None or row.disabled:
                return None
            if extend is not None and sess.expires_at - now < extend / 2:
                sess.expires_at = now + extend
            return self._user(row)

    def delete_session(self, token: str) -> None:
        with self._session("close a session", write=True) as s:
            s.execute(delete(WebSessionRow).where(WebSessionRow.token_hash == _hash_secret(token)))

    def login_failures(self, keys: Sequence[str]) -> list[tuple[str, int, datetime]]:
        """(key, failures, last failure) of the keys that have failures."""
        with self._session("check login failures") as s:
            rows = s.scalars(select(LoginFailureRow).where(LoginFailureRow.key.in_(list(keys))))
            return [(r.key, r.failures, r.last_at) for r in rows]

    def note_login_failure(self, keys: Sequence[str]) -> None:
        now = utcnow()
        with self._session("count a login failure", write=True) as s:
            for k in keys:
                s.execute(self._insert()(LoginFailureRow).values(key=k, failures=0, last_at=now)
                          .on_conflict_do_nothing(index_elements=[LoginFailureRow.key]))
                row = s.get(LoginFailureRow, k, with_for_update=True)
                assert row is not None
                row.failures += 1
                row.last_at = now

    def clear_login_failures(self, keys: Sequence[str]) -> None:
        with self._session("clear login failures", write=True) as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.key.in_(list(keys))))
