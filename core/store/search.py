"""Filtered listings for operators: the inbox, entities, a figure's trace, dead letters, cursors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from core.store.outbox import _dead_letter
from core.store.query import Listing
from core.store.records import CursorView, DeadLetter, EntitySummary, MessageSummary
from core.store.schema import dead_letters, entities, entity_versions, inbox_messages, outbox, pull_cursors, xrefs
from core.store.util import loads


def list_messages(
    conn: Connection,
    *,
    system: str | None = None,
    org_code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    outcome: str | None = None,
    client_name: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[MessageSummary]:
    stmt = select(
        inbox_messages.c.message_id,
        inbox_messages.c.system,
        inbox_messages.c.client_name,
        inbox_messages.c.received_at,
        inbox_messages.c.media_type,
        inbox_messages.c.record_count,
        inbox_messages.c.accepted_count,
        inbox_messages.c.rejected_count,
        inbox_messages.c.outcome,
    )
    # A message concerns an organisation when it produced a version of one of its entities.
    of_org = None if org_code is None else inbox_messages.c.message_id.in_(
        select(entity_versions.c.message_id)
        .select_from(entity_versions.join(entities, entities.c.entity_id == entity_versions.c.entity_id))
        .where(entities.c.org_code == org_code)
    )
    listing = (
        Listing(stmt)
        .equal(inbox_messages.c.system, system)
        .equal(inbox_messages.c.outcome, outcome)
        .equal(inbox_messages.c.client_name, client_name)
        .range(inbox_messages.c.received_at, since, until)
        .where(of_org)
        .page((inbox_messages.c.received_at.desc(), inbox_messages.c.message_id), limit, offset)
    )
    return [MessageSummary(**row._mapping) for row in listing.fetch(conn)]


def versions_from_message(conn: Connection, message_id: str) -> list[dict[str, Any]]:
    """What a message became: each entity version it created, with the entity's type and owner."""
    return [
        {
            "entity_id": r.entity_id,
            "version": r.version,
            "entity_type": r.entity_type,
            "org_code": r.org_code,
            "mapping_version": r.mapping_version,
        }
        for r in conn.execute(
            select(
                entity_versions.c.entity_id,
                entity_versions.c.version,
                entity_versions.c.mapping_version,
                entities.c.entity_type,
                entities.c.org_code,
            )
            .select_from(entity_versions.join(entities, entities.c.entity_id == entity_versions.c.entity_id))
            .where(entity_versions.c.message_id == message_id)
            .order_by(entity_versions.c.entity_id, entity_versions.c.version)
        )
    ]


def search_entities(
    conn: Connection,
    *,
    entity_type: str | None = None,
    org_code: str | None = None,
    fiscal_year: int | None = None,
    external_id: str | None = None,
    system: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[EntitySummary]:
    stmt = select(
        entities.c.entity_id,
        entities.c.entity_type,
        entities.c.org_code,
        entities.c.fiscal_year,
        entities.c.current_version,
        entities.c.updated_at,
    )
    referenced = None
    if external_id is not None or system is not None:
        refs = Listing(select(xrefs.c.entity_id)).equal(xrefs.c.external_id, external_id).equal(xrefs.c.system, system)
        referenced = entities.c.entity_id.in_(refs.stmt)
    listing = (
        Listing(stmt)
        .equal(entities.c.entity_type, entity_type)
        .equal(entities.c.org_code, org_code)
        .equal(entities.c.fiscal_year, fiscal_year)
        .where(referenced)
        .page((entities.c.entity_id,), limit, offset)
    )
    return [
        EntitySummary(r.entity_id, r.entity_type, r.org_code, r.fiscal_year, r.current_version, r.updated_at)
        for r in listing.fetch(conn)
    ]


def trace_entity(conn: Connection, entity_id: str) -> list[dict[str, Any]]:
    """Per version: the message it came from (with its client and time), the mapping version, and
    every delivery of that version."""
    versions = conn.execute(
        select(
            entity_versions.c.version,
            entity_versions.c.payload,
            entity_versions.c.message_id,
            entity_versions.c.source_system,
            entity_versions.c.mapping_version,
            entity_versions.c.created_at,
            inbox_messages.c.client_name,
            inbox_messages.c.received_at,
        )
        .select_from(
            entity_versions.outerjoin(inbox_messages, inbox_messages.c.message_id == entity_versions.c.message_id)
        )
        .where(entity_versions.c.entity_id == entity_id)
        .order_by(entity_versions.c.version)
    ).all()
    deliveries: dict[int, list[dict[str, Any]]] = {}
    for d in conn.execute(
        select(outbox).where(outbox.c.entity_id == entity_id).order_by(outbox.c.version, outbox.c.destination)
    ):
        deliveries.setdefault(d.version, []).append(
            {
                "destination": d.destination,
                "route": d.route,
                "state": d.state,
                "attempts": d.attempts,
                "delivery_key": d.delivery_key,
                "delivered_at": d.delivered_at,
                "last_error": d.last_error,
            }
        )
    return [
        {
            "version": v.version,
            "payload": loads(v.payload),
            "message_id": v.message_id,
            "source_system": v.source_system,
            "client_name": v.client_name,
            "received_at": v.received_at,
            "mapping_version": v.mapping_version,
            "created_at": v.created_at,
            "deliveries": deliveries.get(v.version, []),
        }
        for v in versions
    ]


def find_dead_letters(
    conn: Connection,
    *,
    destination: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    reason_contains: str | None = None,
    include_resolved: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[DeadLetter]:
    listing = (
        Listing(select(dead_letters))
        .equal(dead_letters.c.destination, destination)
        .equal(dead_letters.c.entity_type, entity_type)
        .equal(dead_letters.c.entity_id, entity_id)
        .range(dead_letters.c.created_at, since, until)
        .contains(dead_letters.c.reason, reason_contains)
        .where(None if include_resolved else dead_letters.c.resolved_at.is_(None))
        .page((dead_letters.c.id,), limit, offset)
    )
    return [_dead_letter(r) for r in listing.fetch(conn)]


def list_cursors(conn: Connection) -> list[CursorView]:
    return [
        CursorView(r.system, r.entity_type, r.cursor, r.updated_at)
        for r in conn.execute(select(pull_cursors).order_by(pull_cursors.c.system, pull_cursors.c.entity_type))
    ]


def get_cursor_view(conn: Connection, system: str, entity_type: str) -> CursorView | None:
    r = conn.execute(
        select(pull_cursors).where(pull_cursors.c.system == system, pull_cursors.c.entity_type == entity_type)
    ).first()
    return None if r is None else CursorView(r.system, r.entity_type, r.cursor, r.updated_at)
