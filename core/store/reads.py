"""Reads for the admin API: entities with their versions, xrefs and deliveries, and inbox messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from core.store.records import (
    DeliveryView,
    EarlierMessage,
    EntityVersionView,
    EntityView,
    MessageView,
    StoredRejection,
)
from core.store.inbox.payloads import messages_with_payload
from core.store.schema import entities, entity_versions, inbox_messages, inbox_rejections, outbox, xrefs
from core.store.util import dumps, from_row, loads


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
        from_row(DeliveryView, d)
        for d in conn.execute(
            select(outbox).where(outbox.c.entity_id == entity_id).order_by(outbox.c.destination, outbox.c.version)
        )
    ]
    return from_row(
        EntityView,
        row,
        version=row.current_version,
        payload=loads(row.payload),
        xrefs=refs,
        deliveries=deliveries,
    )


def list_entity_versions(conn: Connection, entity_id: str) -> list[EntityVersionView]:
    return [
        from_row(EntityVersionView, r, payload=loads(r.payload))
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
        from_row(StoredRejection, r, native_record=loads(r.native_record))
        for r in conn.execute(
            select(inbox_rejections)
            .where(inbox_rejections.c.message_id == row.message_id)
            .order_by(inbox_rejections.c.id)
        )
    ]
    return from_row(
        MessageView, row, payload=bytes(row.payload), response=loads(row.response_json), rejections=rejections
    )


def get_message(conn: Connection, message_id: str) -> MessageView | None:
    row = conn.execute(messages_with_payload().where(inbox_messages.c.message_id == message_id)).first()
    return None if row is None else _message_view(conn, row)


def find_message_by_idempotency_key(
    conn: Connection, client_name: str | None, idempotency_key: str
) -> EarlierMessage | None:
    row = conn.execute(
        select(
            inbox_messages.c.message_id, inbox_messages.c.payload_sha256, inbox_messages.c.request_hash,
            inbox_messages.c.response_json,
        ).where(inbox_messages.c.client_name == client_name, inbox_messages.c.idempotency_key == idempotency_key)
    ).first()
    return None if row is None else from_row(EarlierMessage, row, response=loads(row.response_json))


def set_response(conn: Connection, message_id: str, response: Any) -> bool:
    result = conn.execute(
        update(inbox_messages)
        .where(inbox_messages.c.message_id == message_id)
        .values(response_json=dumps(response))
    )
    return result.rowcount == 1
