"""Links between records of different systems (core/linking.py): the links with their rule and evidence,
the codes records can be found by, and the records still unlinked with the reason and what they look for.

Revision ID: 0005_links
Revises: 0004_outage_budget
Create Date: 2026-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.store.schema import UTCDateTime

revision = "0005_links"
down_revision = "0004_outage_budget"
branch_labels = None
depends_on = None



def upgrade() -> None:
    op.create_table(
        "entity_links",
        sa.Column("from_id", sa.String(32), nullable=False),
        sa.Column("to_id", sa.String(32), nullable=False),
        sa.Column("from_type", sa.String(64), nullable=False),
        sa.Column("to_type", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("evidence_json", sa.Text(), nullable=True),
        sa.Column("made_by", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.Column("removed_by", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["from_id"], ["entities.entity_id"], ondelete="CASCADE",
                                name="fk_entity_links_from_id_entities"),
        sa.ForeignKeyConstraint(["to_id"], ["entities.entity_id"], ondelete="CASCADE",
                                name="fk_entity_links_to_id_entities"),
        sa.PrimaryKeyConstraint("from_id", "to_id", name="pk_entity_links"),
    )
    op.create_index("ix_entity_links_to_id", "entity_links", ["to_id"])
    op.create_table(
        "link_keys",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.entity_id"], ondelete="CASCADE",
                                name="fk_link_keys_entity_id_entities"),
        sa.PrimaryKeyConstraint("key", "value", "entity_id", name="pk_link_keys"),
    )
    op.create_index("ix_link_keys_entity_id", "link_keys", ["entity_id"])
    op.create_table(
        "unlinked_records",
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("org_code", sa.String(64), nullable=True),
        sa.Column("fiscal_year", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("evaluated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.entity_id"], ondelete="CASCADE",
                                name="fk_unlinked_records_entity_id_entities"),
        sa.PrimaryKeyConstraint("entity_id", name="pk_unlinked_records"),
    )
    op.create_index("ix_unlinked_records_system_type", "unlinked_records", ["system", "entity_type"])
    op.create_table(
        "link_wanted",
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.entity_id"], ondelete="CASCADE",
                                name="fk_link_wanted_entity_id_entities"),
        sa.PrimaryKeyConstraint("entity_id", "key", "value", name="pk_link_wanted"),
    )
    op.create_index("ix_link_wanted_key_value", "link_wanted", ["key", "value"])
    # Records stored before this revision are linked by store.links.relink (a page at a time),
    # not here: the rules are code that changes, and a migration must keep doing what it did.


def downgrade() -> None:
    op.drop_index("ix_link_wanted_key_value", table_name="link_wanted")
    op.drop_table("link_wanted")
    op.drop_index("ix_unlinked_records_system_type", table_name="unlinked_records")
    op.drop_table("unlinked_records")
    op.drop_index("ix_link_keys_entity_id", table_name="link_keys")
    op.drop_table("link_keys")
    op.drop_index("ix_entity_links_to_id", table_name="entity_links")
    op.drop_table("entity_links")
