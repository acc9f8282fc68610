"""Inbox payloads in a table of their own, `inbox_payloads` (one row per message, never updated).

SQLite rewrites a whole row on every UPDATE. A message's row is updated while it is stored (counts, the
chunks stored so far, its answer), and with the payload in the row every update read the payload and
wrote part of it again: with a 6 MB payload, an update cost 15 ms and 1.2 MB of WAL (0.2 ms and 4 KB
without it), and a refused 30 MB body was copied twice in memory by SQLite as it was stored.
PostgreSQL keeps large values out of line already; the same table serves both.

The column is dropped with ALTER TABLE ... DROP COLUMN (SQLite 3.35 or later), not by rebuilding the
table: rebuilding drops the old table, and with foreign keys on that deletes the rejections and chunks
that refer to it. A payload that retention purged (empty bytes) gets no row.

Revision ID: 0012_inbox_payloads
Revises: 0011_outbox_claim_by_destination
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0012_inbox_payloads"
down_revision = "0011_outbox_claim_by_destination"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        raise RuntimeError(f"migration 0012 needs SQLite 3.35 or later (ALTER TABLE DROP COLUMN); this is {sqlite3.sqlite_version}")
    op.create_table(
        "inbox_payloads",
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["inbox_messages.message_id"], ondelete="CASCADE",
                                name="fk_inbox_payloads_message_id_inbox_messages"),
        sa.PrimaryKeyConstraint("message_id", name="pk_inbox_payloads"),
    )  # fmt: skip
    op.execute(
        "INSERT INTO inbox_payloads (message_id, payload) "
        "SELECT message_id, payload FROM inbox_messages WHERE payload_purged_at IS NULL"
    )
    op.execute("ALTER TABLE inbox_messages DROP COLUMN payload")


def downgrade() -> None:
    empty = "X''" if op.get_bind().dialect.name == "sqlite" else "'\\x'::bytea"  # NOT NULL needs a default
    op.add_column("inbox_messages", sa.Column("payload", sa.LargeBinary(), nullable=False, server_default=sa.text(empty)))
    op.execute(
        "UPDATE inbox_messages SET payload = "
        "(SELECT p.payload FROM inbox_payloads p WHERE p.message_id = inbox_messages.message_id) "
        "WHERE message_id IN (SELECT message_id FROM inbox_payloads)"
    )
    op.drop_table("inbox_payloads")
