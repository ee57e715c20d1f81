"""The index database, by concern: the plumbing (``engine``: the engine, migrations and
transactions; ``schema``: the declarative base and column types) and the parts built on it,
each with its own tables:

- ``projection``: records, the citizens they name and the audit: what ``reindex`` rebuilds;
  with each record's row, its search rows (``search_rows``) and the values people verified
  in it (``verified_rows``);
- ``queue``: the review queue and its leases;
- ``files``: the registry of ingested files;
- ``accounts``: users, their sessions and login throttling; API keys.

:class:`storage.index.RecordIndex` is the one public object over all of them. The other
modules of ``storage`` that keep tables in this database (the batch ledger, events, webhooks,
the access log, search, verified values, indicators) work through
:meth:`Database.transaction` and :meth:`Database.insert`; nothing outside ``storage`` opens a
transaction or a session.
"""

from __future__ import annotations

from storage.db.engine import MIGRATIONS_DIR, Database
from storage.db.schema import Base, PortableJSON, UTCDateTime

__all__ = ["Database", "Base", "PortableJSON", "UTCDateTime", "MIGRATIONS_DIR"]
