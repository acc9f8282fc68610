"""`ledger_pending`: plan projects whose ledger rows wait for their first delivery to e-LAAS or e-budgeting
(decision 0017). Empty at upgrade: every existing project already has its rows.

Revision ID: 0013_ledger_pending
Revises: 0012_inbox_payloads
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.store.schema import UTCDateTime

revision = "0013_ledger_pending"
down_revision = "0012_inbox_payloads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_pending",
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.Column("marked_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.entity_id"], ondelete="CASCADE",
                                name="fk_ledger_pending_entity_id_entities"),
        sa.PrimaryKeyConstraint("entity_id", name="pk_ledger_pending"),
    )  # fmt: skip
    op.create_index("ix_ledger_pending_marked_at", "ledger_pending", ["marked_at"])


def downgrade() -> None:
    op.drop_index("ix_ledger_pending_marked_at", table_name="ledger_pending")
    op.drop_table("ledger_pending")
