"""Retention and scrape-time gauges at national size: when an inbox payload was purged, and partial
indexes so that neither the retention job nor a /metrics scrape reads the delivered rows (the vast
majority of the outbox after a while) one by one.

On a large PostgreSQL database, build the indexes beforehand with CREATE INDEX CONCURRENTLY (same names,
same predicates; docs/operations.md): this migration then finds them and takes no long lock.

Revision ID: 0009_retention_and_gauge_indexes
Revises: 0008_chunked_ingest
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.store.schema import UTCDateTime

revision = "0009_retention_and_gauge_indexes"
down_revision = "0008_chunked_ingest"
branch_labels = None
depends_on = None

# (name, table, columns, predicate): kept equal to core/store/schema.py.
INDEXES = [
    ("ix_outbox_held_destination", "outbox", ["destination"], "state = 'held'"),
    ("ix_outbox_delivered_at", "outbox", ["delivered_at"], "state = 'delivered'"),
    ("ix_dead_letters_open_destination", "dead_letters", ["destination"], "resolved_at IS NULL"),
    ("ix_inbox_messages_payload_kept_received", "inbox_messages", ["received_at"], "payload_purged_at IS NULL"),
]


def upgrade() -> None:
    op.add_column("inbox_messages", sa.Column("payload_purged_at", UTCDateTime(), nullable=True))
    for name, table, columns, predicate in INDEXES:
        op.create_index(
            name, table, columns, if_not_exists=True,
            sqlite_where=sa.text(predicate), postgresql_where=sa.text(predicate),
        )


def downgrade() -> None:
    for name, table, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("inbox_messages") as batch:
        batch.drop_column("payload_purged_at")
