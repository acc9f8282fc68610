"""The delivery worker's claim reads its destination's due rows in time order from one partial index.

Every claim names its destination. With only (next_attempt_at) WHERE state = 'pending' and
(destination, state), SQLite chose the second, read every pending row of the destination, checked each
for an earlier open version and sorted them all, to keep 1,000: a claim cost grew with the backlog. An
index on (destination, next_attempt_at, id) over pending rows gives both the filter and the order, so a
claim reads the rows it takes and a few more. It replaces the time-only pending index (a claim without a
destination, only tests and benchmarks make one, sorts the pending rows instead; the pending gauge
counts by destination through it).

On a large PostgreSQL database, build the index beforehand with CREATE INDEX CONCURRENTLY (same name, same
predicate; docs/operations.md): this migration then finds it and takes no long lock.

Revision ID: 0011_outbox_claim_by_destination
Revises: 0010_ledger_categories
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_outbox_claim_by_destination"
down_revision = "0010_ledger_categories"
branch_labels = None
depends_on = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_pending_destination_due", "outbox", ["destination", "next_attempt_at", "id"], if_not_exists=True,
        sqlite_where=PENDING, postgresql_where=PENDING,
    )  # fmt: skip
    op.drop_index("ix_outbox_pending_due", table_name="outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_pending_due", "outbox", ["next_attempt_at"], sqlite_where=PENDING, postgresql_where=PENDING)
    op.drop_index("ix_outbox_pending_destination_due", table_name="outbox")
