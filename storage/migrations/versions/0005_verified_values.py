"""Values people verified (confirmed or corrected fields), for extraction to learn from.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "verified_values",
        sa.Column("record_id", sa.String(200),
                  sa.ForeignKey("records.record_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("field", sa.String(100), primary_key=True),
        sa.Column("doctype", sa.String(100), nullable=False),
        sa.Column("norm", sa.String(1000), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_index("ix_verified_values_norm", "verified_values", ["norm"])


def downgrade() -> None:
    op.drop_index("ix_verified_values_norm", "verified_values")
    op.drop_table("verified_values")
