"""Outage budget and superseded dead letters (docs/decisions/0009-outage-budget.md): the time each
delivery first failed (the retry window runs from it), an index to find the dead letters of an entity at a
destination, and the closing of dead letters already superseded by a delivered newer version.

Revision ID: 0004_outage_budget
Revises: 0003_pull_last_success
Create Date: 2025-12-15
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from core.store.schema import UTCDateTime

revision = "0004_outage_budget"
down_revision = "0003_pull_last_success"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("first_failed_at", UTCDateTime(), nullable=True))
    op.create_index("ix_dead_letters_entity_destination", "dead_letters", ["entity_id", "destination"])
    _close_superseded_dead_letters()


def downgrade() -> None:
    op.drop_index("ix_dead_letters_entity_destination", table_name="dead_letters")
    # A plain ALTER TABLE (SQLite has DROP COLUMN since 3.35): a batch copy of outbox would have to drop
    # the table that dead_letters refers to, which SQLite's foreign keys refuse.
    op.drop_column("outbox", "first_failed_at")


def _close_superseded_dead_letters() -> None:
    """Close every open dead letter whose entity has a newer version delivered to the same destination.

    The same rule as core.store.outbox.close_superseded_dead_letters, written out here so that this
    migration keeps doing what it did when that code changes.
    """
    outbox = sa.table(
        "outbox",
        sa.column("entity_id"),
        sa.column("destination"),
        sa.column("version"),
        sa.column("state"),
        sa.column("delivered_at", UTCDateTime()),
    )
    letters = sa.table(
        "dead_letters",
        sa.column("id"),
        sa.column("entity_id"),
        sa.column("destination"),
        sa.column("version"),
        sa.column("resolved_at", UTCDateTime()),
        sa.column("resolution"),
        sa.column("resolution_note"),
    )
    conn = op.get_bind()
    newest = (
        sa.select(
            outbox.c.entity_id,
            outbox.c.destination,
            sa.func.max(outbox.c.version).label("version"),
        )
        .where(
            outbox.c.state == "delivered",
            outbox.c.entity_id.in_(sa.select(letters.c.entity_id).where(letters.c.resolved_at.is_(None))),
        )
        .group_by(outbox.c.entity_id, outbox.c.destination)
        .subquery()
    )
    rows = conn.execute(
        sa.select(letters.c.id, newest.c.version, outbox.c.delivered_at)
        .select_from(
            letters.join(
                newest,
                sa.and_(newest.c.entity_id == letters.c.entity_id, newest.c.destination == letters.c.destination),
            ).join(
                outbox,
                sa.and_(
                    outbox.c.entity_id == newest.c.entity_id,
                    outbox.c.destination == newest.c.destination,
                    outbox.c.version == newest.c.version,
                ),
            )
        )
        .where(letters.c.resolved_at.is_(None), newest.c.version > letters.c.version)
    ).all()
    if not rows:
        return
    now = datetime.now(UTC)
    conn.execute(
        sa.update(letters)
        .where(letters.c.id == sa.bindparam("b_id"), letters.c.resolved_at.is_(None))
        .values(resolved_at=now, resolution="superseded", resolution_note=sa.bindparam("b_note")),
        [{"b_id": row.id, "b_note": _note(row.version, row.delivered_at)} for row in rows],
    )


def _note(version: int, delivered_at: datetime | None) -> str:
    at = f" at {delivered_at.isoformat()}" if delivered_at is not None else ""
    return f"superseded by version {version} delivered{at}"
