"""The audit log: who changed what, when, and the state before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from core.store.query import Listing
from core.store.records import AuditEntry
from core.store.schema import audit_log
from core.store.util import dumps, from_row, loads


def append(
    conn: Connection,
    at: datetime,
    actor: str,
    action: str,
    target: str | None,
    before: Any = None,
    after: Any = None,
    detail: str | None = None,
) -> int:
    result = conn.execute(
        insert(audit_log).values(
            at=at,
            actor=actor,
            action=action,
            target=target,
            before_json=None if before is None else dumps(before),
            after_json=None if after is None else dumps(after),
            detail=detail,
        )
    )
    return int(result.inserted_primary_key[0])


def list_entries(
    conn: Connection,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    limit: int,
    offset: int,
) -> list[AuditEntry]:
    listing = (
        Listing(select(audit_log))
        .equal(audit_log.c.actor, actor)
        .equal(audit_log.c.action, action)
        .range(audit_log.c.at, since, None)
        .page((audit_log.c.id.desc(),), limit, offset)
    )
    return [
        from_row(AuditEntry, r, before=loads(r.before_json), after=loads(r.after_json))
        for r in listing.fetch(conn)
    ]
