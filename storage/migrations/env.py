"""Alembic environment: runs on the connection :class:`storage.index.RecordIndex` passes in.

For ``alembic`` on the command line, the URL comes from ``sqlalchemy.url`` in the config or
from the settings (``DOSSIER_INDEX_URL``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from storage.index import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite alters tables by copying them; batch mode does that for us.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from models.settings import get_settings

    return get_settings().resolved_index_url()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
    else:
        engine = create_engine(_url())
        try:
            with engine.begin() as conn:
                _run(conn)
        finally:
            engine.dispose()
