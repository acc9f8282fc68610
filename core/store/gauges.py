"""Figures for the gauges that describe the database, read at scrape time.

They come from SQL rather than from counters in one process, so that every hub process sharing the
database reports the same, correct numbers (Prometheus then takes `max by (destination)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collections.abc import Sequence

from sqlalchemy import Connection, func, insert, or_, select, text, update

from core.store.links import unlinked_counts
from core.store.schema import dead_letters, inbox_messages, ledger_pending, outbox, pull_cursors

# The client name under which the scheduler's pulls are kept in the inbox (core/scheduler.py).
PULL_CLIENT = "scheduler"


@dataclass(frozen=True)
class GaugeSnapshot:
    """Open outbox rows by destination and state (pending, in_flight, held; delivered and dead rows are
    not counted), oldest pending row, unresolved dead letters, last pulls, projects waiting for the ledger."""

    rows_by_state: dict[str, dict[str, int]] = field(default_factory=dict)
    oldest_pending_created_at: dict[str, datetime] = field(default_factory=dict)
    unresolved_dead_letters: dict[str, int] = field(default_factory=dict)
    last_pulled_at: dict[tuple[str, str], datetime] = field(default_factory=dict)  # last *successful* pull
    unlinked: dict[tuple[str, str], int] = field(default_factory=dict)  # by (system, entity type)
    last_received_at: dict[str, datetime] = field(default_factory=dict)  # newest payload pushed, by system
    ledger_waiting: int = 0  # new plan projects waiting for their first filing to enter the ledger (decision 0017)
    ledger_oldest_waiting_at: datetime | None = None


def snapshot(conn: Connection, push_systems: Sequence[str] = ()) -> GaugeSnapshot:
    # One query per open state, its filter written as the predicate of that state's partial index
    # (core/store/schema.py), word for word and without bound parameters, so that both SQLite and
    # PostgreSQL read only those rows: ten million delivered rows or resolved dead letters cost nothing.
    rows: dict[str, dict[str, int]] = {}
    oldest: dict[str, datetime] = {}
    for destination, count, created in conn.execute(
        select(outbox.c.destination, func.count(), func.min(outbox.c.created_at))
        .where(text("state = 'pending'"))
        .group_by(outbox.c.destination)
    ):
        rows.setdefault(destination, {})["pending"] = int(count)
        if created is not None:
            oldest[destination] = _aware(created)
    for state in ("in_flight", "held"):
        for destination, count in conn.execute(
            select(outbox.c.destination, func.count()).where(text(f"state = '{state}'")).group_by(outbox.c.destination)
        ):
            rows.setdefault(destination, {})[state] = int(count)
    dead = {
        destination: int(count)
        for destination, count in conn.execute(
            select(dead_letters.c.destination, func.count())
            .where(text("resolved_at IS NULL"))
            .group_by(dead_letters.c.destination)
        )
    }
    pulled = {
        (system, entity_type): _aware(at)
        for system, entity_type, at in conn.execute(
            select(pull_cursors.c.system, pull_cursors.c.entity_type, pull_cursors.c.last_success_at).where(
                pull_cursors.c.last_success_at.is_not(None)
            )
        )
    }
    received = {system: at for system in push_systems if (at := last_pushed(conn, system)) is not None}
    waiting, oldest_waiting = conn.execute(select(func.count(), func.min(ledger_pending.c.marked_at))).one()
    return GaugeSnapshot(
        rows, oldest, dead, pulled, unlinked_counts(conn), received, int(waiting),
        None if oldest_waiting is None else _aware(oldest_waiting),
    )  # fmt: skip


def last_pushed(conn: Connection, system: str) -> datetime | None:
    """When `system` last pushed a payload (pulls, stored as the scheduler's messages, do not count).
    Newest first down ix_inbox_messages_system_received_at: the first pushed message ends the walk."""
    at = conn.execute(
        select(inbox_messages.c.received_at)
        .where(
            inbox_messages.c.system == system,
            or_(inbox_messages.c.client_name.is_(None), inbox_messages.c.client_name != PULL_CLIENT),
        )
        .order_by(inbox_messages.c.received_at.desc())
        .limit(1)
    ).scalar()
    return None if at is None else _aware(at)


def mark_pulled(conn: Connection, system: str, entity_type: str, now: datetime) -> None:
    """Record a successful pull without touching the cursor (a pull that found nothing keeps it)."""
    changed = conn.execute(
        update(pull_cursors)
        .where(pull_cursors.c.system == system, pull_cursors.c.entity_type == entity_type)
        .values(updated_at=now, last_success_at=now)
    ).rowcount
    if not changed:
        conn.execute(
            insert(pull_cursors).values(
                system=system, entity_type=entity_type, cursor=None, updated_at=now, last_success_at=now
            )
        )


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
