"""Initial schema: records, their citizen ids, ingested files, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("record_id", sa.String(200), primary_key=True),
        sa.Column("dossier_id", sa.String(200), nullable=False),
        sa.Column("batch_id", sa.String(200), nullable=False),
        sa.Column("doctype", sa.String(100), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("s3_key", sa.String(1024), nullable=False),
        sa.Column("version_id", sa.String(200), nullable=True),
        sa.Column("summary", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_records_dossier_id", "records", ["dossier_id"])
    op.create_index("ix_records_batch_id", "records", ["batch_id"])
    op.create_index("ix_records_doctype", "records", ["doctype"])
    op.create_index("ix_records_status", "records", ["status"])
    op.create_index("ix_records_updated_at", "records", ["updated_at"])

    op.create_table(
        "record_citizens",
        sa.Column("record_id", sa.String(200),
                  sa.ForeignKey("records.record_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("citizen_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_record_citizens_citizen_id", "record_citizens", ["citizen_id"])

    op.create_table(
        "ingested_files",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("dossier_id", sa.String(200), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_kind", sa.String(100), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("record_ids", _JSON, nullable=False),
        sa.Column("batch_id", sa.String(200), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ingested_files_dossier_id", "ingested_files", ["dossier_id"])
    op.create_index("ix_ingested_files_batch_id", "ingested_files", ["batch_id"])

    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_table("ingested_files")
    op.drop_table("record_citizens")
    op.drop_table("records")
