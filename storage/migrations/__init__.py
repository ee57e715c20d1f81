"""Alembic migrations of the SQL index, applied by :meth:`storage.index.RecordIndex.migrate`."""
