"""Accounts, web sessions, login throttling, review leases, audit events, record lifecycle.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("records") as b:
        b.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
        b.add_column(sa.Column("station", sa.String(200), nullable=True))
        b.add_column(sa.Column("operator", sa.String(200), nullable=True))
        b.add_column(sa.Column("reviewed_by", sa.String(200), nullable=True))
        b.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("settled", sa.Boolean(), nullable=False,
                               server_default=sa.false()))
        b.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
        b.add_column(sa.Column("lease_user", sa.String(200), nullable=True))
        b.add_column(sa.Column("lease_expires", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_records_station", "records", ["station"])
    op.create_index("ix_records_confidence", "records", ["confidence"])
    op.create_index("ix_records_reviewed_at", "records", ["reviewed_at"])

    op.create_table(
        "users",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("lang", sa.String(10), nullable=False, server_default="vi"),
        sa.Column("station", sa.String(200), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_name", sa.String(100),
                  sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_web_sessions_user_name", "web_sessions", ["user_name"])
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("field", sa.String(100), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("record_version", sa.Integer(), nullable=True),
        sa.Column("doctype", sa.String(100), nullable=True),
    )
    op.create_index("ix_audit_events_record_id", "audit_events", ["record_id"])
    op.create_index("ix_audit_events_actor_at", "audit_events", ["actor", "at"])
    op.create_index("ix_audit_events_at", "audit_events", ["at"])


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("login_failures")
    op.drop_table("web_sessions")
    op.drop_table("users")
    op.drop_index("ix_records_reviewed_at", "records")
    op.drop_index("ix_records_confidence", "records")
    op.drop_index("ix_records_station", "records")
    with op.batch_alter_table("records") as b:
        for c in ("lease_expires", "lease_user", "search_text", "settled", "reviewed_at",
                  "reviewed_by", "operator", "station", "revision"):
            b.drop_column(c)
