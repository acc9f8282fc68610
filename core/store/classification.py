"""Classification nodes added at run time by the system that is the authority on a scheme (e-budgeting on
the national programme tree), kept as config overrides of kind "classification".

The overrides table fits: one row per added node, keyed by name `<fiscal year>:<scheme>:<code>`, a JSON
value (the node, where it came from, and its review), who and when. An addition is written only if it is
not there yet (two hub processes that meet the same new plan at once store it once, and audit it once);
a review replaces the value and is audited too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.store import audit
from core.store.records import ConfigOverride, InboundMessage, IncomingEntity
from core.store.schema import config_overrides
from core.store.util import dumps, loads

KIND = "classification"


def key(fiscal_year: int, scheme: str, code: str) -> str:
    return f"{fiscal_year}:{scheme}:{code}"


def additions_of(
    message: InboundMessage, entities: Sequence[IncomingEntity], at: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """The (name, value) of each node the entities add, the first entity naming it being its source."""
    found: dict[str, dict[str, Any]] = {}
    for entity in entities:
        for add in entity.classification_additions:
            if add.key in found:
                continue
            found[add.key] = {
                "scheme": add.scheme, "fiscal_year": add.fiscal_year, "level": add.level, "code": add.code,
                "name_th": add.name_th, "parent": add.parent, "added_at": at.isoformat(),
                "source": {"system": add.system, "message_id": message.message_id, "row": add.row,
                           "external_id": add.external_id, "native": add.native},
                "reviewed": None,
            }  # fmt: skip
    return list(found.items())


def add_missing(conn: Connection, additions: Sequence[tuple[str, dict[str, Any]]], actor: str, at: datetime) -> list[str]:
    """Insert the additions not stored yet, each with its audit entry; the names inserted.

    In name order, so that two transactions adding overlapping sets lock rows in the same order.
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    inserted: list[str] = []
    for name, value in sorted(additions, key=lambda item: item[0]):
        stmt = insert(config_overrides).values(
            kind=KIND, name=name, value_json=dumps(value), updated_at=at, updated_by=actor
        )
        stmt = stmt.on_conflict_do_nothing(index_elements=[config_overrides.c.kind, config_overrides.c.name])
        # RETURNING says whether the row went in on both dialects (psycopg's rowcount does not here).
        if conn.execute(stmt.returning(config_overrides.c.name)).first() is not None:
            audit.append(conn, at, actor, "classification.add", f"{KIND}:{name}", None, value)
            inserted.append(name)
    return inserted


def fingerprint(conn: Connection) -> tuple[int, datetime | None]:
    """How many additions there are and when the last changed: a refresh reloads only when this moves."""
    row = conn.execute(
        select(func.count(), func.max(config_overrides.c.updated_at)).where(config_overrides.c.kind == KIND)
    ).one()
    return int(row[0]), row[1]


def list_additions(conn: Connection, fiscal_year: int | None = None) -> list[ConfigOverride]:
    stmt = select(config_overrides).where(config_overrides.c.kind == KIND)
    if fiscal_year is not None:
        stmt = stmt.where(config_overrides.c.name.startswith(f"{fiscal_year}:", autoescape=True))
    return [
        ConfigOverride(r.kind, r.name, loads(r.value_json), r.updated_at, r.updated_by)
        for r in conn.execute(stmt.order_by(config_overrides.c.name))
    ]


def get_addition(conn: Connection, name: str) -> ConfigOverride | None:
    r = conn.execute(
        select(config_overrides).where(config_overrides.c.kind == KIND, config_overrides.c.name == name)
    ).one_or_none()
    return None if r is None else ConfigOverride(r.kind, r.name, loads(r.value_json), r.updated_at, r.updated_by)


def review(conn: Connection, name: str, actor: str, note: str | None, at: datetime) -> tuple[ConfigOverride | None, bool]:
    """Mark an addition reviewed: (the addition, whether this call reviewed it). Reviewed once: a second
    review leaves the first reviewer's record alone."""
    current = get_addition(conn, name)
    if current is None or not isinstance(current.value, dict):
        return None, False
    if current.value.get("reviewed"):
        return current, False
    value = {**current.value, "reviewed": {"by": actor, "at": at.isoformat(), "note": note}}
    conn.execute(
        config_overrides.update()
        .where(config_overrides.c.kind == KIND, config_overrides.c.name == name)
        .values(value_json=dumps(value), updated_at=at, updated_by=actor)
    )
    audit.append(conn, at, actor, "classification.review", f"{KIND}:{name}", {"reviewed": None}, value["reviewed"])
    return ConfigOverride(KIND, name, value, at, actor), True
