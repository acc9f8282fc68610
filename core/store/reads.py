"""Reads for the admin API: entities with their versions, xrefs and deliveries, and inbox messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from core.store.records import (
    DeliveryView,
    EntityVersionView,
    EntityView,
    MessageView,
    StoredRejection,
)
from core.store.schema import entities, entity_versions, inbox_messages, inbox_rejections, outbox, xrefs
from core.store.util import dumps, loads


def get_entity(conn: Connection, entity_id: str) -> EntityView | None:
    row = conn.execute(
        select(entities, entity_versions.c.payload)
        .select_from(
            entities.join(
                entity_versions,
                (entity_versions.c.entity_id == entities.c.entity_id)
                & (entity_versions.c.version == entities.c.current_version),
            )
        )
        .where(entities.c.entity_id == entity_id)
    ).first()
    if row is None:
        return None
    refs = [
        {"system": system, "external_id": ext}
        for system, ext in conn.execute(
            select(xrefs.c.system, xrefs.c.external_id)
            .where(xrefs.c.entity_id == entity_id)
            .order_by(xrefs.c.system)
        )
    ]
    deliveries = [
        DeliveryView(
            destination=d.destination,
            version=d.version,
            state=d.state,
            attempts=d.attempts,
            last_error=d.last_error,
            delivery_key=d.delivery_key,
            delivered_at=d.delivered_at,
        )
        for d in conn.execute(
            select(outbox).where(outbox.c.entity_id == entity_id).order_by(outbox.c.destination, outbox.c.version)
        )
    ]
    return EntityView(
        entity_id=row.entity_id,
        entity_type=row.entity_type,
        version=row.current_version,
        content_hash=row.content_hash,
        org_code=row.org_code,
        fiscal_year=row.fiscal_year,
        created_at=row.created_at,
        updated_at=row.updated_at,
        payload=loads(row.payload),
        xrefs=refs,
        deliveries=deliveries,
    )


def list_entity_versions(conn: Connection, entity_id: str) -> list[EntityVersionView]:
    return [
        EntityVersionView(
            entity_id=r.entity_id,
            version=r.version,
            content_hash=r.content_hash,
            payload=loads(r.payload),
            message_id=r.message_id,
            source_system=r.source_system,
            mapping_version=r.mapping_version,
            created_at=r.created_at,
        )
        for r in conn.execute(
            select(entity_versions).where(entity_versions.c.entity_id == entity_id).order_by(entity_versions.c.version)
        )
    ]


def find_entity_id_by_xref(conn: Connection, system: str, entity_type: str, external_id: str) -> str | None:
    return conn.execute(
        select(xrefs.c.entity_id).where(
            xrefs.c.system == system, xrefs.c.entity_type == entity_type, xrefs.c.external_id == external_id
        )
    ).scalar_one_or_none()


def _message_view(conn: Connection, row: Any) -> MessageView:
    rejections = [
        StoredRejection(
            row=r.row,
            field=r.field,
            value=r.value,
            rule=r.rule,
            reason=r.reason,
            native_record=loads(r.native_record),
        )
        for r in conn.execute(
            select(inbox_rejections)
            .where(inbox_rejections.c.message_id == row.message_id)
            .order_by(inbox_rejections.c.id)
        )
    ]
    return MessageView(
        message_id=row.message_id,
        system=row.system,
        client_name=row.client_name,
        received_at=row.received_at,
        media_type=row.media_type,
        charset=row.charset,
        payload=bytes(row.payload),
        payload_sha256=row.payload_sha256,
        idempotency_key=row.idempotency_key,
        request_hash=row.request_hash,
        response=loads(row.response_json),
        record_count=row.record_count,
        accepted_count=row.accepted_count,
        rejected_count=row.rejected_count,
        outcome=row.outcome,
        rejections=rejections,
        payload_purged_at=row.payload_purged_at,
    )


def get_message(conn: Connection, message_id: str) -> MessageView | None:
    row = conn.execute(select(inbox_messages).where(inbox_messages.c.message_id == message_id)).first()
    return None if row is None else _message_view(conn, row)


def find_message_by_idempotency_key(
    conn: Connection, client_name: str | None, idempotency_key: str
) -> MessageView | None:
    row = conn.execute(
        select(inbox_messages).where(
            inbox_messages.c.client_name == client_name, inbox_messages.c.idempotency_key == idempotency_key
        )
    ).first()
    return None if row is None else _message_view(conn, row)


def set_response(conn: Connection, message_id: str, response: Any) -> bool:
    result = conn.execute(
        update(inbox_messages)
        .where(inbox_messages.c.message_id == message_id)
        .values(response_json=dumps(response))
    )
    return result.rowcount == 1
