"""Initial store schema: inbox, entities and versions, xrefs, outbox, dead letters, cursors, clients.

Revision ID: 0001_initial
Revises:
Create Date: 2025-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.store.schema import UTCDateTime

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_messages",
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("client_name", sa.String(128), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("media_type", sa.String(255), nullable=True),
        sa.Column("charset", sa.String(64), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("response_json", sa.Text(), nullable=True),
        sa.Column("record_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("accepted_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rejected_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_inbox_messages"),
        sa.UniqueConstraint("client_name", "idempotency_key", name="uq_inbox_messages_client_idempotency"),
    )
    op.create_index("ix_inbox_messages_system_received_at", "inbox_messages", ["system", "received_at"])

    op.create_table(
        "inbox_rejections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(255), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("native_record", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["inbox_messages.message_id"],
            name="fk_inbox_rejections_message_id_inbox_messages", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_rejections"),
    )
    op.create_index("ix_inbox_rejections_message_id", "inbox_rejections", ["message_id"])

    op.create_table(
        "entities",
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("org_code", sa.String(64), nullable=True),
        sa.Column("fiscal_year", sa.Integer(), nullable=True),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", name="pk_entities"),
    )
    op.create_index("ix_entities_type_org_year", "entities", ["entity_type", "org_code", "fiscal_year"])

    op.create_table(
        "entity_versions",
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(32), nullable=True),
        sa.Column("source_system", sa.String(64), nullable=False),
        sa.Column("mapping_version", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.entity_id"],
            name="fk_entity_versions_entity_id_entities", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entity_id", "version", name="pk_entity_versions"),
    )
    op.create_index("ix_entity_versions_message_id", "entity_versions", ["message_id"])

    op.create_table(
        "xrefs",
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.entity_id"], name="fk_xrefs_entity_id_entities", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entity_id", "system", name="pk_xrefs"),
        sa.UniqueConstraint("system", "entity_type", "external_id", name="uq_xrefs_system_type_external"),
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_key", sa.String(255), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("route", sa.String(128), nullable=True),
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("claim_expires_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.entity_id"], name="fk_outbox_entity_id_entities"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("delivery_key", name="uq_outbox_delivery_key"),
    )
    op.create_index(
        "ix_outbox_pending_due", "outbox", ["next_attempt_at"],
        sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_outbox_in_flight_expiry", "outbox", ["claim_expires_at"],
        sqlite_where=sa.text("state = 'in_flight'"), postgresql_where=sa.text("state = 'in_flight'"),
    )
    op.create_index(
        "ix_outbox_entity_destination_version", "outbox", ["entity_id", "destination", "version"]
    )
    op.create_index("ix_outbox_destination_state", "outbox", ["destination", "state"])

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("delivery_key", sa.String(255), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolution", sa.String(16), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name="fk_dead_letters_outbox_id_outbox"),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
    )
    op.create_index("ix_dead_letters_outbox_id", "dead_letters", ["outbox_id"])
    op.create_index("ix_dead_letters_destination_resolved", "dead_letters", ["destination", "resolved_at"])

    op.create_table(
        "pull_cursors",
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("system", "entity_type", name="pk_pull_cursors"),
    )

    op.create_table(
        "api_clients",
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("system", sa.String(64), nullable=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("allowed_orgs", sa.Text(), nullable=True),
        sa.Column("allowed_provinces", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("client_id", name="pk_api_clients"),
        sa.UniqueConstraint("name", name="uq_api_clients_name"),
        sa.UniqueConstraint("key_hash", name="uq_api_clients_key_hash"),
    )


def downgrade() -> None:
    for table in ("api_clients", "pull_cursors", "dead_letters", "outbox", "xrefs", "entity_versions",
                  "entities", "inbox_rejections", "inbox_messages"):
        op.drop_table(table)
