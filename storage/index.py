"""The SQL index: one object, :class:`RecordIndex`, over the index database's parts
(:mod:`storage.db`): the projection of the object store (rebuildable by ``dossier
reindex``), the review queue and its leases, the registry of ingested files, and the
accounts (users, sessions, API keys).

Works on SQLite (a file, WAL mode, busy timeout) and PostgreSQL (``postgresql+psycopg://``).
The schema is created and upgraded by the Alembic migrations in ``storage/migrations`` when the
index is opened.
"""

from __future__ import annotations

from models.records import IndexEntry
from storage.db.accounts import (
    API_KEY_PREFIX,
    Accounts,
    ApiKeyRow,
    LoginFailureRow,
    UserRow,
    WebSessionRow,
)
from storage.db.engine import MIGRATIONS_DIR
from storage.db.files import IngestedFileRow, IngestedFiles
from storage.db.projection import AuditRow, Projection, RecordCitizenRow, RecordRow
from storage.db.queue import QueueCounts, QueueFilter, ReviewQueue
from storage.db.schema import Base
from storage.search import SearchQuery, search

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


class RecordIndex(Projection, ReviewQueue, IngestedFiles, Accounts):
    """The SQL index over ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``): one
    database, its parts by concern (:mod:`storage.db`)."""

    def search_records(self, query: str, *, limit: int = 50) -> list[IndexEntry]:
        """Records matching a citizen ID, a name with or without diacritics, a dossier code,
        a record id, a document type or any value or page text (every word, as a prefix);
        newest first. The staff search; ``GET /v1/records`` asks :mod:`storage.search`."""
        return search(self, SearchQuery(q=query, statuses=("all",), limit=limit)).entries
