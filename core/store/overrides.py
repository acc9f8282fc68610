"""Configuration changed at run time (routes, system URLs), kept over the baseline files in config/."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from core.store.records import ConfigOverride
from core.store.schema import config_overrides
from core.store.util import dumps, loads


def put(conn: Connection, kind: str, name: str, value: Any, actor: str, now: datetime) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(config_overrides).values(
        kind=kind, name=name, value_json=dumps(value), updated_at=now, updated_by=actor
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[config_overrides.c.kind, config_overrides.c.name],
            set_={
                "value_json": stmt.excluded.value_json,
                "updated_at": stmt.excluded.updated_at,
                "updated_by": stmt.excluded.updated_by,
            },
        )
    )


def remove(conn: Connection, kind: str, name: str) -> bool:
    result = conn.execute(
        delete(config_overrides).where(config_overrides.c.kind == kind, config_overrides.c.name == name)
    )
    return result.rowcount == 1


def list_kind(conn: Connection, kind: str) -> list[ConfigOverride]:
    return [
        ConfigOverride(r.kind, r.name, loads(r.value_json), r.updated_at, r.updated_by)
        for r in conn.execute(
            select(config_overrides).where(config_overrides.c.kind == kind).order_by(config_overrides.c.name)
        )
    ]
