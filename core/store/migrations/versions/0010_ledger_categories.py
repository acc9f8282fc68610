"""The area ledger by งบ: the budgeted, requested and approved amounts of each plan project and fiscal year
split by local งบ and national งบรายจ่าย LV1 (core/expense_categories.py). Filled by `prasan projections
rebuild` for existing data, as ledger_projects was by 0007.

Revision ID: 0010_ledger_categories
Revises: 0009_retention_and_gauge_indexes
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_ledger_categories"
down_revision = "0009_retention_and_gauge_indexes"
branch_labels = None
depends_on = None

# Frozen here: a later change of core/ledger.py's classified amounts is a migration of its own.
AMOUNTS = ("budgeted", "requested", "approved")
INDEXES = {"province_year": "province_code", "district_year": "district_code", "org_year": "org_code"}


def upgrade() -> None:
    op.create_table(
        "ledger_categories",
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("local_category", sa.String(80), nullable=False),
        sa.Column("national_category", sa.String(80), nullable=False),
        sa.Column("org_code", sa.String(16), nullable=False),
        sa.Column("org_type", sa.String(40), nullable=True),
        sa.Column("province_code", sa.String(4), nullable=True),
        sa.Column("district_code", sa.String(8), nullable=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("flags", sa.Integer(), server_default=sa.text("0"), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in AMOUNTS),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.entity_id"], ondelete="CASCADE",
                                name="fk_ledger_categories_entity_id_entities"),
        sa.PrimaryKeyConstraint("entity_id", "fiscal_year", "local_category", "national_category", name="pk_ledger_categories"),
    )
    for name, column in INDEXES.items():
        op.create_index(f"ix_ledger_categories_{name}", "ledger_categories", [column, "fiscal_year"])


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(f"ix_ledger_categories_{name}", table_name="ledger_categories")
    op.drop_table("ledger_categories")
