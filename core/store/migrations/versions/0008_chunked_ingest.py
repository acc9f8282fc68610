"""Large payloads stored in chunks (docs/decisions/0013-chunked-ingest.md): how far a message's records
are stored (`stored_chunks`, of `chunk_records` records each) and when it last progressed, and the
answer of each stored chunk, so that a message left half stored by a crash is completed, not repeated.

Revision ID: 0008_chunked_ingest
Revises: 0007_area_ledger
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.store.schema import UTCDateTime

revision = "0008_chunked_ingest"
down_revision = "0007_area_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inbox_messages", sa.Column("chunk_records", sa.Integer(), nullable=True))
    op.add_column("inbox_messages", sa.Column("stored_chunks", sa.Integer(), nullable=True))
    op.add_column("inbox_messages", sa.Column("progress_at", UTCDateTime(), nullable=True))
    op.create_index("ix_inbox_messages_outcome_progress_at", "inbox_messages", ["outcome", "progress_at"])
    op.create_table(
        "inbox_chunks",
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("answer_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["inbox_messages.message_id"], ondelete="CASCADE",
                                name="fk_inbox_chunks_message_id_inbox_messages"),
        sa.PrimaryKeyConstraint("message_id", "chunk", name="pk_inbox_chunks"),
    )


def downgrade() -> None:
    op.drop_table("inbox_chunks")
    op.drop_index("ix_inbox_messages_outcome_progress_at", table_name="inbox_messages")
    op.drop_column("inbox_messages", "progress_at")
    op.drop_column("inbox_messages", "stored_chunks")
    op.drop_column("inbox_messages", "chunk_records")
