"""Search: a search row per record (the columns searches narrow by, its folded text) with a
full-text index (SQLite FTS5; PostgreSQL tsvector + GIN), each field's folded value, and the
index that orders records by creation time. Filled from the records already indexed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# FTS5 over record_text (external content): the triggers keep it in step with the rows.
_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE records_fts USING fts5(names, body, pages, content='record_text', "
    "content_rowid='doc_id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER record_text_ai AFTER INSERT ON record_text BEGIN "
    "INSERT INTO records_fts(rowid, names, body, pages) "
    "VALUES (new.doc_id, new.names, new.body, new.pages); END",
    "CREATE TRIGGER record_text_ad AFTER DELETE ON record_text BEGIN "
    "INSERT INTO records_fts(records_fts, rowid, names, body, pages) "
    "VALUES ('delete', old.doc_id, old.names, old.body, old.pages); END",
    "CREATE TRIGGER record_text_au AFTER UPDATE OF names, body, pages ON record_text BEGIN "
    "INSERT INTO records_fts(records_fts, rowid, names, body, pages) "
    "VALUES ('delete', old.doc_id, old.names, old.body, old.pages); "
    "INSERT INTO records_fts(rowid, names, body, pages) "
    "VALUES (new.doc_id, new.names, new.body, new.pages); END",
]


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    op.create_table(
        "record_text",
        sa.Column("doc_id", _ID, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(200),
                  sa.ForeignKey("records.record_id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("doctype", sa.String(100), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("served", sa.Boolean(), nullable=False),
        sa.Column("station", sa.String(200), nullable=True),
        sa.Column("batch_id", sa.String(200), nullable=False),
        sa.Column("dossier_id", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("names", sa.Text(), nullable=False, server_default=""),
        sa.Column("body", sa.Text(), nullable=False, server_default=""),
        sa.Column("pages", sa.Text(), nullable=False, server_default=""),
        sqlite_autoincrement=True,
    )
    for name, cols in (("doctype", ["doctype", "doc_id"]), ("status", ["status", "doc_id"]),
                       ("served", ["served", "doc_id"]), ("station", ["station", "doc_id"]),
                       ("batch", ["batch_id", "doc_id"]), ("dossier", ["dossier_id", "doc_id"]),
                       ("created", ["created_at"])):
        op.create_index(f"ix_record_text_{name}", "record_text", cols)
    op.create_table(
        "record_values",
        sa.Column("record_id", sa.String(200),
                  sa.ForeignKey("records.record_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("field", sa.String(100), primary_key=True),
        sa.Column("norm", sa.String(300), nullable=False),
    )
    op.create_index("ix_record_values_lookup", "record_values", ["field", "norm"])
    if pg:
        op.execute("ALTER TABLE record_text ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
                   "(to_tsvector('simple', names || ' ' || body || ' ' || pages)) STORED")
        op.execute("ALTER TABLE record_text ADD COLUMN names_tsv tsvector GENERATED ALWAYS AS "
                   "(to_tsvector('simple', names)) STORED")
        op.execute("CREATE INDEX ix_record_text_tsv ON record_text USING gin (tsv)")
        op.execute("CREATE INDEX ix_record_text_names_tsv ON record_text USING gin (names_tsv)")
    else:
        for stmt in _SQLITE_FTS:
            op.execute(stmt)
    _fill(bind)


def _fill(bind: sa.engine.Connection) -> None:
    """Search rows for the records already indexed (their pages' text comes with reindex)."""
    from models.records import IndexEntry, RecordStatus
    from storage.search import write_search

    rows = bind.execute(sa.text(
        "SELECT record_id, dossier_id, batch_id, doctype, status, confidence, s3_key, "
        "summary, created_at, station, settled, search_text FROM records "
        "ORDER BY created_at, record_id")).mappings().all()
    from sqlalchemy.orm import Session

    with Session(bind=bind) as s:
        for r in rows:
            summary = r["summary"]
            if isinstance(summary, str):
                import json

                summary = json.loads(summary)
            entry = IndexEntry(record_id=r["record_id"], dossier_id=r["dossier_id"],
                               batch_id=r["batch_id"], doctype=r["doctype"],
                               status=RecordStatus(r["status"]), confidence=r["confidence"],
                               s3_key=r["s3_key"], summary=summary or {},
                               created_at=r["created_at"], station=r["station"],
                               settled=bool(r["settled"]), search_text=r["search_text"] or "")
            write_search(s, bind.dialect.name, [entry])
        s.flush()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        for trigger in ("record_text_ai", "record_text_ad", "record_text_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS records_fts")
    op.drop_index("ix_record_values_lookup", "record_values")
    op.drop_table("record_values")
    op.drop_table("record_text")
