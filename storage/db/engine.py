"""The index database's plumbing: the engine over SQLite or PostgreSQL, the migrations, and the
transactions every part of the database works in.

:meth:`Database.transaction` is for the modules of the ``storage`` package that are parts of
the database (the projection, the queue, accounts, the batch ledger, events, webhooks, the
access log, search, indicators); code outside ``storage`` calls their public methods.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DataError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models.errors import ConfigurationError, InvalidInputError, StorageError
from storage.db.schema import Base

__all__ = ["Database", "MIGRATIONS_DIR"]


MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_SQLITE_BUSY_TIMEOUT_MS = 15_000
# A pooled PostgreSQL connection idle this long is checked before use.
_PING_IDLE_S = 10.0
# Any constant: serializes concurrent first-time migrations on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x646F7373


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


class Database:
    """The index database over ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``),
    its schema brought to the newest migration when opened."""

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- for the parts of the database (modules of ``storage``) ------------------------------

    @contextmanager
    def transaction(self, action: str, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction, committed when the block ends without an exception.
        A writer (``write``) takes SQLite's write lock up front. Failures are the index's
        errors, naming ``action``: a value the database refuses is an
        :class:`InvalidInputError`, anything else a :class:`StorageError`."""
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

    def insert(self, table: Any) -> Any:
        """``INSERT`` into ``table`` in this backend's dialect (``ON CONFLICT`` clauses)."""
        return (postgresql.insert if self.backend == "postgresql" else sqlite.insert)(table)

    # -- for operators and tools -------------------------------------------------------------

    def ping(self) -> None:
        """Raise :class:`StorageError` unless the database answers a query."""
        with self.transaction("check the index") as s:
            s.execute(text("SELECT 1"))

    def analyze(self) -> None:
        """Refresh the query planner's statistics after a bulk load: ``ANALYZE``, and on
        PostgreSQL ``VACUUM ANALYZE`` (the visibility map too, as autovacuum would leave it
        some time later, at a cost to whatever runs then)."""
        if self.backend == "postgresql":
            try:
                with self.engine.connect().execution_options(
                        isolation_level="AUTOCOMMIT") as c:
                    c.execute(text("VACUUM ANALYZE"))
            except SQLAlchemyError as e:
                raise StorageError(f"cannot analyze the index at {self.url}: {e}") from e
            return
        with self.transaction("analyze the index", write=True) as s:
            s.execute(text("ANALYZE"))

    def insert_rows(self, table: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows as they are into one table, in one transaction: for tools that fill the
        batch ledger in bulk (``bench.indicators``). Records and reads are never written this
        way: :class:`storage.records.RecordStore` and :class:`storage.access.AccessLog` are
        their writers. The application writes through the methods of each part of the
        database, which keep their rules."""
        if rows:
            with self.transaction(f"fill table {table.__tablename__}", write=True) as s:
                s.execute(insert(table), list(rows))
