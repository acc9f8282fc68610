"""A large payload stored in chunks (docs/decisions/0013-chunked-ingest.md).

The message is kept first, with outcome 'storing'; each chunk of its records is then one transaction
(versions, deliveries, rejections, its answer, and the message's progress moved from chunk n to n + 1 only
if it is still at n); the last transaction sets the outcome and the answer. A crash between chunks leaves
the message 'storing' at chunk n: whoever completes it stores chunks n, n + 1, ... and never one twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, insert, select, update

from core.store.inbox.ingest import (
    Router,
    insert_message,
    insert_rejections,
    outcome_of,
    prepare_batch,
    rejected_row_count,
    write_versions,
)
from core.jsontext import dumps_in_pieces
from core.store.inbox.payloads import messages_with_payload
from core.store.records import EntityOutcome, InboundMessage, IncomingEntity, RowRejection
from core.store.schema import inbox_chunks, inbox_messages, inbox_rejections
from core.store.util import dumps, loads

STORING = "storing"


class ChunkTakenOver(Exception):
    """The message is no longer at the chunk this writer was about to store: another process completed it
    (or is completing it) after this one stalled. Nothing of the chunk was written."""

    def __init__(self, message_id: str, chunk: int) -> None:
        super().__init__(f"message {message_id} is no longer waiting for chunk {chunk}")
        self.message_id = message_id
        self.chunk = chunk


@dataclass(frozen=True)
class UnfinishedMessage:
    """A message left 'storing': its payload, how it is chunked, and how far it got."""

    message: InboundMessage
    chunk_records: int
    stored_chunks: int
    progress_at: datetime | None


@dataclass
class ChunkOutcome:
    entities: list[EntityOutcome]
    rejected: list[RowRejection]


def begin(conn: Connection, message: InboundMessage, chunk_records: int, now: datetime) -> None:
    """Keep the message, 'storing', at chunk 0; raises IdempotencyConflict for a reused key."""
    insert_message(conn, message, outcome=STORING, accepted=0, rejected=0, chunk_records=chunk_records, progress_at=now)


def store_chunk(
    conn: Connection,
    message: InboundMessage,
    chunk: int,
    incoming: Sequence[IncomingEntity],
    rejections: Sequence[RowRejection],
    warnings: Sequence[dict[str, Any]],
    route: Router,
    now: datetime,
) -> ChunkOutcome:
    """Chunk `chunk` of the message, all or nothing; ChunkTakenOver if the message is not at that chunk."""
    known, kept, rejections = prepare_batch(conn, message.system, incoming, rejections)
    # First, so that on PostgreSQL a second writer of the same message waits on this row and then finds
    # it moved on; on SQLite the transaction already holds the write lock.
    if not _move(
        conn,
        message.message_id,
        inbox_messages.c.stored_chunks == chunk,
        stored_chunks=chunk + 1,
        progress_at=now,
        accepted_count=inbox_messages.c.accepted_count + len(kept),
        rejected_count=inbox_messages.c.rejected_count + rejected_row_count(rejections),
    ):
        raise ChunkTakenOver(message.message_id, chunk)
    insert_rejections(conn, message.message_id, rejections)
    results = write_versions(conn, message, kept, known, route, now)
    answer = {"entities": [_entity_row(e) for e in results], "warnings": list(warnings)}
    conn.execute(insert(inbox_chunks), [{"message_id": message.message_id, "chunk": chunk, "answer_json": dumps(answer)}])
    return ChunkOutcome(results, rejections)


def finish(conn: Connection, message_id: str, chunks: int, response: Any | None, now: datetime) -> str:
    """Set the outcome of a message whose `chunks` chunks are all stored, and its answer; the chunks'
    own answers are dropped. Returns the outcome; ChunkTakenOver if another writer finished it first."""
    accepted, rejected = conn.execute(
        select(inbox_messages.c.accepted_count, inbox_messages.c.rejected_count).where(
            inbox_messages.c.message_id == message_id
        )
    ).one()
    outcome = outcome_of(accepted, rejected)
    if not _move(
        conn,
        message_id,
        inbox_messages.c.stored_chunks == chunks,
        outcome=outcome,
        progress_at=now,
        response_json=None if response is None else _answer_text(response),
    ):
        raise ChunkTakenOver(message_id, chunks)
    conn.execute(delete(inbox_chunks).where(inbox_chunks.c.message_id == message_id))
    return outcome


def unfinished(conn: Connection, progressed_before: datetime, limit: int) -> list[tuple[str, datetime | None]]:
    """Messages still 'storing' whose last chunk is older than `progressed_before`, oldest first."""
    rows = conn.execute(
        select(inbox_messages.c.message_id, inbox_messages.c.progress_at)
        .where(inbox_messages.c.outcome == STORING, inbox_messages.c.progress_at < progressed_before)
        .order_by(inbox_messages.c.progress_at)
        .limit(limit)
    )
    return [(row.message_id, row.progress_at) for row in rows]


def claim(conn: Connection, message_id: str, seen_progress_at: datetime | None, now: datetime) -> UnfinishedMessage | None:
    """Take over a stalled message: only if it has not progressed since it was seen, so that of several
    processes finding it, one completes it. None: someone else did or is doing it."""
    if not _move(conn, message_id, inbox_messages.c.progress_at == seen_progress_at, progress_at=now):
        return None
    row = conn.execute(messages_with_payload().where(inbox_messages.c.message_id == message_id)).one()
    message = InboundMessage(
        system=row.system,
        payload=row.payload,
        media_type=row.media_type,
        charset=row.charset,
        client_name=row.client_name,
        idempotency_key=row.idempotency_key,
        message_id=row.message_id,
        received_at=row.received_at,
        request_hash=row.request_hash,
        record_count=row.record_count,
    )
    return UnfinishedMessage(message, row.chunk_records, row.stored_chunks, now)


def stored_outcome(conn: Connection, message_id: str) -> tuple[list[EntityOutcome], list[RowRejection], list[dict[str, Any]]]:
    """What the stored chunks of a message became: entity outcomes, rejections and warnings, in order."""
    entities: list[EntityOutcome] = []
    warnings: list[dict[str, Any]] = []
    for (text,) in conn.execute(
        select(inbox_chunks.c.answer_json).where(inbox_chunks.c.message_id == message_id).order_by(inbox_chunks.c.chunk)
    ):
        answer = loads(text)
        entities.extend(
            EntityOutcome(row, entity_type, entity_id, version, changed, external_id, tuple(destinations))
            for row, entity_type, entity_id, version, changed, external_id, destinations in answer["entities"]
        )
        warnings.extend(answer["warnings"])
    rejections = [
        RowRejection(row.row, row.rule, row.reason, row.field, row.value, loads(row.native_record))
        for row in conn.execute(
            select(inbox_rejections).where(inbox_rejections.c.message_id == message_id).order_by(inbox_rejections.c.id)
        )
    ]
    return entities, rejections, warnings


def _move(conn: Connection, message_id: str, as_seen: ColumnElement[bool], **values: Any) -> bool:
    """Change a message only if it is still 'storing' and still as this writer saw it (`as_seen`): of
    several writers, one moves it; False for the others."""
    moved = conn.execute(
        update(inbox_messages)
        .where(inbox_messages.c.message_id == message_id, inbox_messages.c.outcome == STORING, as_seen)
        .values(**values)
    )
    return moved.rowcount == 1


def _answer_text(response: Any) -> str:
    # The answer of a large payload: encoded a slice at a time, with the store's own options.
    return dumps_in_pieces(response, ensure_ascii=False, separators=(",", ":"), default=str)


def _entity_row(e: EntityOutcome) -> list[Any]:
    return [e.row, e.entity_type, e.entity_id, e.version, e.changed, e.external_id, list(e.destinations)]
