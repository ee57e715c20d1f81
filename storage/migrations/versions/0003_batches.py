"""Batch ledger: accepted batches, their files and pages, progress and the worker's lease.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column("station", sa.String(200), nullable=True),
        sa.Column("operator", sa.String(200), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("worker", sa.String(200), nullable=True),
    )
    op.create_index("ix_batches_station", "batches", ["station"])
    op.create_index("ix_batches_state", "batches", ["state"])
    op.create_index("ix_batches_created_at", "batches", ["created_at"])

    op.create_table(
        "batch_files",
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("batches.batch_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("file_no", sa.Integer(), primary_key=True),
        sa.Column("dossier", sa.Text(), nullable=False),
        sa.Column("dossier_id", sa.String(200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_kind", sa.String(100), nullable=True),
        sa.Column("hint", sa.Text(), nullable=True),
        sa.Column("refused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("record_ids", _JSON, nullable=False),
        sa.Column("replaced_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_batch_files_sha256", "batch_files", ["sha256"])

    op.create_table(
        "batch_pages",
        sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column("file_no", sa.Integer(), primary_key=True),
        sa.Column("source_page", sa.Integer(), primary_key=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("reads", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["batch_id", "file_no"],
                                ["batch_files.batch_id", "batch_files.file_no"],
                                ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("batch_pages")
    op.drop_table("batch_files")
    op.drop_index("ix_batches_created_at", "batches")
    op.drop_index("ix_batches_state", "batches")
    op.drop_index("ix_batches_station", "batches")
    op.drop_table("batches")
