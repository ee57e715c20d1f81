"""Who read a citizen's data: every read through /v1 (key, agency, purpose, records, the
citizens they name), archived append-only to the object store; API keys name their agency
and may be limited to document types.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("agency", sa.String(200), nullable=True))
        batch.add_column(sa.Column("doctypes", _JSON, nullable=True))
    op.create_table(
        "access_log",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("access_id", sa.String(64), nullable=False, unique=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("key_name", sa.String(200), nullable=False),
        sa.Column("agency", sa.String(200), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("purpose_code", sa.String(64), nullable=False),
        sa.Column("purpose_text", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("record_ids", _JSON, nullable=False),
        sa.Column("citizen_ids", _JSON, nullable=False),
        # The object-store segment holding the entry; NULL until archived.
        sa.Column("archived_key", sa.String(300), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_index("ix_access_log_key_id", "access_log", ["key_id"])
    op.create_index("ix_access_log_pending", "access_log", ["archived_key", "seq"])
    op.create_table(
        "access_citizens",
        sa.Column("citizen_id", sa.String(64), primary_key=True),
        sa.Column("access_id", sa.String(64),
                  sa.ForeignKey("access_log.access_id", ondelete="CASCADE"), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("access_citizens")
    op.drop_index("ix_access_log_pending", "access_log")
    op.drop_index("ix_access_log_key_id", "access_log")
    op.drop_index("ix_access_log_at", "access_log")
    op.drop_table("access_log")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("doctypes")
        batch.drop_column("agency")
