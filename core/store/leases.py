"""Named leases over the database: one holder at a time, taken over when the holder stops renewing.

A lease is a row of `config_overrides` (kind "lease"): `updated_by` names the holder and `updated_at` is
when it last renewed. Taking or renewing is one statement (insert, or update only when the row is ours
or stale), so two processes racing for it cannot both win, on SQLite or PostgreSQL alike; a holder that
died simply stops renewing, and the lease is free `ttl` later.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from core.store.schema import config_overrides
from core.store.util import dumps

KIND = "lease"


def hold(conn: Connection, name: str, owner: str, ttl_s: float, now: datetime) -> str:
    """Take or renew lease `name` for `owner`; returns whoever holds it afterwards."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(config_overrides).values(
        kind=KIND, name=name, value_json=dumps({"ttl_s": ttl_s}), updated_at=now, updated_by=owner
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[config_overrides.c.kind, config_overrides.c.name],
            set_={"value_json": stmt.excluded.value_json, "updated_at": stmt.excluded.updated_at,
                  "updated_by": stmt.excluded.updated_by},
            where=or_(
                config_overrides.c.updated_by == owner,
                config_overrides.c.updated_at < now - timedelta(seconds=ttl_s),
            ),
        )
    )
    return str(
        conn.execute(
            select(config_overrides.c.updated_by).where(config_overrides.c.kind == KIND, config_overrides.c.name == name)
        ).scalar_one()
    )


def release(conn: Connection, name: str, owner: str) -> bool:
    """Give the lease up at once (a clean shutdown), if `owner` holds it."""
    result = conn.execute(
        delete(config_overrides).where(
            config_overrides.c.kind == KIND, config_overrides.c.name == name, config_overrides.c.updated_by == owner
        )
    )
    return result.rowcount == 1
