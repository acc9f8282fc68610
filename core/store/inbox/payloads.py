"""A message's bytes as received, in `inbox_payloads` beside its row (migration 0012).

On SQLite a large payload is written in place: the row is inserted with a zero-filled blob of the right
length and the bytes are then written into it a piece at a time through SQLite's incremental blob I/O.
Bound as a parameter instead, SQLite copies the value twice in memory (the binding and the row record):
a refused 30 MB body cost the hub 60 MB more at its peak. The zero-filled blob costs no memory only
because the payload is its row's last column. PostgreSQL stores large values out of line and is given
the bytes as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.sql import Select

from core.store.schema import inbox_messages, inbox_payloads

WRITE_PIECE_BYTES = 1 << 20


def insert_payload(conn: Connection, message_id: str, payload: bytes) -> None:
    insert_payloads(conn, [(message_id, payload)])


def insert_payloads(conn: Connection, payloads: Sequence[tuple[str, bytes]]) -> None:
    """(message id, bytes) of several messages: in one statement, but for large ones on SQLite, each written
    in place."""
    in_place = conn.dialect.name == "sqlite"
    bound = [
        {"message_id": message_id, "payload": bytes(payload)}
        for message_id, payload in payloads
        if not in_place or len(payload) <= WRITE_PIECE_BYTES
    ]
    if bound:
        conn.execute(insert(inbox_payloads), bound)
    for message_id, payload in payloads:
        if in_place and len(payload) > WRITE_PIECE_BYTES:
            row = conn.execute(insert(inbox_payloads).values(message_id=message_id, payload=func.zeroblob(len(payload))))
            pieces = memoryview(payload)
            with conn.connection.driver_connection.blobopen("inbox_payloads", "payload", row.lastrowid) as blob:
                for start in range(0, len(payload), WRITE_PIECE_BYTES):
                    blob.write(pieces[start : start + WRITE_PIECE_BYTES])


def purge_payloads(conn: Connection, message_ids: list[str]) -> None:
    conn.execute(delete(inbox_payloads).where(inbox_payloads.c.message_id.in_(message_ids)))


def messages_with_payload() -> Select[tuple[object, ...]]:
    """inbox_messages with each one's `payload`: empty bytes once retention has purged it."""
    return select(inbox_messages, func.coalesce(inbox_payloads.c.payload, b"").label("payload")).select_from(
        inbox_messages.outerjoin(inbox_payloads, inbox_payloads.c.message_id == inbox_messages.c.message_id)
    )
