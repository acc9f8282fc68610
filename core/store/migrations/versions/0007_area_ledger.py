"""The area ledger (core/ledger.py): one row per plan project and fiscal year with its amount at each stage,
so that area queries read indexed columns. Filled by `prasan projections rebuild` for existing data.

Revision ID: 0007_area_ledger
Revises: 0006_record_identity
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.store.schema import UTCDateTime

revision = "0007_area_ledger"
down_revision = "0006_record_identity"
branch_labels = None
depends_on = None

# Frozen here: a later change of core/ledger.py's amounts is a migration of its own.
AMOUNTS = ("planned", "budgeted", "requested", "approved", "procured", "contracted", "disbursed")


def upgrade() -> None:
    op.create_table(
        "ledger_projects",
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("org_code", sa.String(16), nullable=False),
        sa.Column("org_type", sa.String(40), nullable=True),
        sa.Column("province_code", sa.String(4), nullable=True),
        sa.Column("district_code", sa.String(8), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("programme", sa.String(200), nullable=True),
        sa.Column("stage", sa.String(16), nullable=False),
        # Whole satang: SQLite keeps a NUMERIC as a float and sums it as one.
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in AMOUNTS),
        sa.Column("flags", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.entity_id"], ondelete="CASCADE",
                                name="fk_ledger_projects_entity_id_entities"),
        sa.PrimaryKeyConstraint("entity_id", "fiscal_year", name="pk_ledger_projects"),
    )
    op.create_index("ix_ledger_projects_province_year", "ledger_projects", ["province_code", "fiscal_year"])
    op.create_index("ix_ledger_projects_district_year", "ledger_projects", ["district_code", "fiscal_year"])
    op.create_index("ix_ledger_projects_org_year", "ledger_projects", ["org_code", "fiscal_year"])
    op.create_index(
        "ix_ledger_projects_flagged", "ledger_projects", ["flags", "fiscal_year"],
        sqlite_where=sa.text("flags != 0"), postgresql_where=sa.text("flags != 0"),
    )


def downgrade() -> None:
    for name in ("ix_ledger_projects_flagged", "ix_ledger_projects_org_year", "ix_ledger_projects_district_year", "ix_ledger_projects_province_year"):
        op.drop_index(name, table_name="ledger_projects")
    op.drop_table("ledger_projects")
