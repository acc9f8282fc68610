"""The time of each (system, entity type)'s last successful pull, apart from pull_cursors.updated_at
(which also moves on every ingested page and on an operator's cursor edit).

Revision ID: 0003_pull_last_success
Revises: 0002_admin_security
Create Date: 2025-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.store.schema import UTCDateTime

revision = "0003_pull_last_success"
down_revision = "0002_admin_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pull_cursors") as batch:
        batch.add_column(sa.Column("last_success_at", UTCDateTime(), nullable=True))
    # Until the next pull, the best figure there is: when the cursor last moved.
    op.execute("UPDATE pull_cursors SET last_success_at = updated_at")


def downgrade() -> None:
    with op.batch_alter_table("pull_cursors") as batch:
        batch.drop_column("last_success_at")
