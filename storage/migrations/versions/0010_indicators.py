"""The indicators read a period's work by time: files and pages by when they last changed,
records by when they were made, the counter's lookups and reuses by action and time (the
dashboard, GET /v1/metrics/summary and each Prometheus scrape would otherwise read the whole
ledger and access log).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_batch_pages_updated_at", "batch_pages", ["updated_at"])
    op.create_index("ix_batch_files_updated_at", "batch_files", ["updated_at"])
    op.create_index("ix_records_created_at", "records", ["created_at"])
    op.create_index("ix_access_log_action_at", "access_log", ["action", "at"])


def downgrade() -> None:
    op.drop_index("ix_access_log_action_at", "access_log")
    op.drop_index("ix_records_created_at", "records")
    op.drop_index("ix_batch_files_updated_at", "batch_files")
    op.drop_index("ix_batch_pages_updated_at", "batch_pages")
