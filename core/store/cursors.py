"""Pull cursors: where the scheduler left off reading each (system, entity type)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from core.store.schema import pull_cursors


def get_cursor(conn: Connection, system: str, entity_type: str) -> str | None:
    return conn.execute(
        select(pull_cursors.c.cursor).where(
            pull_cursors.c.system == system, pull_cursors.c.entity_type == entity_type
        )
    ).scalar_one_or_none()


def set_cursor(conn: Connection, system: str, entity_type: str, cursor: str | None, now: datetime) -> None:
    values = {"system": system, "entity_type": entity_type, "cursor": cursor, "updated_at": now}
    # Both engines speak INSERT ... ON CONFLICT; only the constructs differ by dialect in SQLAlchemy.
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(pull_cursors).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[pull_cursors.c.system, pull_cursors.c.entity_type],
        set_={"cursor": stmt.excluded.cursor, "updated_at": stmt.excluded.updated_at},
    )
    conn.execute(stmt)
