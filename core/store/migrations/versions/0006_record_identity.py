"""Records of different systems that are the same record (core/record_identity.py): the match keys kept with
each entity, and the values a system offered for a field another system is authoritative for.

Revision ID: 0006_record_identity
Revises: 0005_links
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.store.schema import UTCDateTime

revision = "0006_record_identity"
down_revision = "0005_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_keys",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.entity_id"], ondelete="CASCADE",
                                name="fk_identity_keys_entity_id_entities"),
        sa.PrimaryKeyConstraint("key", "value", "entity_id", name="pk_identity_keys"),
    )
    op.create_index("ix_identity_keys_entity_id", "identity_keys", ["entity_id"])
    op.create_table(
        "entity_conflicts",
        sa.Column("conflict_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("offered_json", sa.Text(), nullable=True),
        sa.Column("kept_by", sa.String(64), nullable=False),
        sa.Column("kept_json", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(32), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.entity_id"], ondelete="CASCADE",
                                name="fk_entity_conflicts_entity_id_entities"),
        sa.PrimaryKeyConstraint("conflict_id", name="pk_entity_conflicts"),
    )
    op.create_index("ix_entity_conflicts_entity_id", "entity_conflicts", ["entity_id"])


def downgrade() -> None:
    op.drop_index("ix_entity_conflicts_entity_id", table_name="entity_conflicts")
    op.drop_table("entity_conflicts")
    op.drop_index("ix_identity_keys_entity_id", table_name="identity_keys")
    op.drop_table("identity_keys")
