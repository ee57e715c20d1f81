"""Values people verified, found by document type and field: the review page's suggestions
read one field's vocabulary at a time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_verified_values_lookup", "verified_values", ["doctype", "field", "norm"])


def downgrade() -> None:
    op.drop_index("ix_verified_values_lookup", "verified_values")
