"""Turning one inbound batch into inbox rows, entity versions, xrefs and outbox rows, in bulk.

Everything here runs inside the caller's single transaction; nothing commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from canonical_model.envelope import body_text
from core.store.bulk import insert_rows
from core.store.cursors import set_cursor
from core.store.records import (
    CursorUpdate,
    Destination,
    EntityOutcome,
    InboundMessage,
    IncomingEntity,
    IngestOutcome,
    Outcome,
    RowRejection,
)
from core.store.inbox.payloads import insert_payload, insert_payloads
from core.store.schema import entities, entity_versions, inbox_messages, inbox_rejections, outbox, xrefs
from core.store.util import chunks, dumps, new_entity_id, one_of, unique, update_each

Router = Callable[[str, IncomingEntity], Sequence[Destination]]


class IdempotencyConflict(Exception):
    """A message with this client's idempotency key is already in the inbox."""

    def __init__(self, client_name: str | None, idempotency_key: str, message_id: str) -> None:
        super().__init__(f"idempotency key {idempotency_key!r} of {client_name!r} already used by {message_id}")
        self.client_name = client_name
        self.idempotency_key = idempotency_key
        self.message_id = message_id


@dataclass
class _Known:
    entity_id: str
    version: int
    content_hash: str
    is_new: bool
    changed: bool = False
    org_code: str | None = None
    fiscal_year: int | None = None


def rejected_row_count(rejections: Sequence[RowRejection]) -> int:
    """Rows refused, not reasons: one row can break several rules."""
    rows = {r.row for r in rejections if r.row is not None}
    return len(rows) + (1 if any(r.row is None for r in rejections) else 0)


def outcome_of(accepted: int, rejected: int) -> Outcome:
    if rejected == 0:
        return "accepted"
    return "rejected" if accepted == 0 else "partial"


def insert_message(conn: Connection, message: InboundMessage, **counts: Any) -> None:
    """The message's row (`counts` as `message_row` takes them) and its payload."""
    refuse_reused_key(conn, message)
    conn.execute(insert(inbox_messages), [message_row(message, **counts)])
    insert_payload(conn, message.message_id, message.payload)


def refuse_reused_key(conn: Connection, message: InboundMessage) -> None:
    if message.idempotency_key is not None:
        # Checked here as well as by the unique constraint so the caller gets a clear error naming
        # the earlier message instead of a bare IntegrityError.
        earlier = conn.execute(
            select(inbox_messages.c.message_id).where(
                inbox_messages.c.client_name == message.client_name,
                inbox_messages.c.idempotency_key == message.idempotency_key,
            )
        ).scalar_one_or_none()
        if earlier is not None:
            raise IdempotencyConflict(message.client_name, message.idempotency_key, earlier)


def message_row(
    message: InboundMessage,
    *,
    outcome: Outcome,
    accepted: int,
    rejected: int,
    chunk_records: int | None = None,
    progress_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "system": message.system,
        "client_name": message.client_name,
        "received_at": message.received_at,
        "media_type": message.media_type,
        "charset": message.charset,
        "payload_sha256": message.payload_sha256,
        "idempotency_key": message.idempotency_key,
        "request_hash": message.request_hash,
        "response_json": None,
        "record_count": message.record_count if message.record_count is not None else accepted + rejected,
        "accepted_count": accepted,
        "rejected_count": rejected,
        "outcome": outcome,
        "chunk_records": chunk_records,
        "stored_chunks": None if chunk_records is None else 0,
        "progress_at": progress_at,
    }


def insert_rejections(conn: Connection, message_id: str, rejections: Sequence[RowRejection]) -> None:
    if rejections:
        conn.execute(insert(inbox_rejections), rejection_rows(message_id, rejections))


def rejection_rows(message_id: str, rejections: Sequence[RowRejection]) -> list[dict[str, Any]]:
    return [
        {
            "message_id": message_id,
            "row": r.row,
            "field": r.field,
            "value": _as_text(r.value),
            "rule": r.rule,
            "reason": r.reason,
            "native_record": None if r.native_record is None else dumps(r.native_record),
        }
        for r in rejections
    ]


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)


def _lookup_known(
    conn: Connection, system: str, incoming: Sequence[IncomingEntity]
) -> dict[tuple[str, str], _Known]:
    """Current state of every entity this batch mentions, found through the source system's xrefs."""
    by_type: dict[str, list[str]] = {}
    for ent in incoming:
        by_type.setdefault(ent.entity_type, []).append(ent.external_id)
    known: dict[tuple[str, str], _Known] = {}
    lock = conn.dialect.name == "postgresql"
    for entity_type, external_ids in by_type.items():
        for chunk in chunks(unique(external_ids)):
            stmt = (
                select(
                    xrefs.c.external_id,
                    entities.c.entity_id,
                    entities.c.current_version,
                    entities.c.content_hash,
                    entities.c.org_code,
                )
                .select_from(xrefs.join(entities, entities.c.entity_id == xrefs.c.entity_id))
                .where(
                    xrefs.c.system == system,
                    xrefs.c.entity_type == entity_type,
                    one_of(conn, xrefs.c.external_id, chunk),
                )
            )
            if lock:
                # Two hub processes changing the same entity must not both compute version n+1;
                # the row lock makes the second wait and then read the first one's result.
                stmt = stmt.order_by(entities.c.entity_id).with_for_update(of=entities)
            for ext_id, entity_id, version, content_hash, org_code in conn.execute(stmt):
                known[(entity_type, ext_id)] = _Known(entity_id, version, content_hash, is_new=False, org_code=org_code)
    return known


def ingest_batch(
    conn: Connection,
    message: InboundMessage,
    incoming: Sequence[IncomingEntity],
    rejections: Sequence[RowRejection],
    route: Router,
    cursor: CursorUpdate | None,
    now: datetime,
    respond: Callable[[IngestOutcome], Any] | None = None,
) -> IngestOutcome:
    known, incoming, rejections = prepare_batch(conn, message.system, incoming, rejections)
    rejected = rejected_row_count(rejections)
    outcome = outcome_of(len(incoming), rejected)
    insert_message(conn, message, outcome=outcome, accepted=len(incoming), rejected=rejected)
    insert_rejections(conn, message.message_id, rejections)
    results = write_versions(conn, message, incoming, known, route, now)
    if cursor is not None:
        set_cursor(conn, cursor.system, cursor.entity_type, cursor.cursor, now)
    result = IngestOutcome(message.message_id, outcome, results, list(rejections))
    if respond is not None:
        # In the same transaction: an idempotent repeat can never find the message without its answer.
        conn.execute(
            update(inbox_messages)
            .where(inbox_messages.c.message_id == message.message_id)
            .values(response_json=dumps(respond(result)))
        )
    return result


@dataclass
class Batch:
    """One message's records as `ingest_batch` takes them, for `ingest_batches`."""

    message: InboundMessage
    incoming: Sequence[IncomingEntity]
    rejections: Sequence[RowRejection]
    respond: Callable[[IngestOutcome], Any] | None = None


def ingest_batches(conn: Connection, batches: Sequence[Batch], route: Router, now: datetime) -> list[IngestOutcome]:
    """Several messages of one system, no two of which carry the same record, stored as `ingest_batch`
    would store each in turn (the same rows, outcomes and answers), with each table written once for all."""
    known = _lookup_known(conn, batches[0].message.system, [e for b in batches for e in b.incoming])
    message_rows: list[dict[str, Any]] = []
    refused_rows: list[dict[str, Any]] = []
    judged: list[tuple[list[IncomingEntity], list[RowRejection], Outcome]] = []
    for b in batches:
        kept, owner_rejections = _refuse_owner_changes(b.incoming, known)
        rejections = [*b.rejections, *owner_rejections]
        rejected = rejected_row_count(rejections)
        outcome = outcome_of(len(kept), rejected)
        refuse_reused_key(conn, b.message)
        message_rows.append(message_row(b.message, outcome=outcome, accepted=len(kept), rejected=rejected))
        refused_rows += rejection_rows(b.message.message_id, rejections)
        judged.append((kept, rejections, outcome))
    conn.execute(insert(inbox_messages), message_rows)
    insert_payloads(conn, [(b.message.message_id, b.message.payload) for b in batches])
    if refused_rows:
        conn.execute(insert(inbox_rejections), refused_rows)
    stored = write_versions_of(conn, [(b.message, kept) for b, (kept, _, _) in zip(batches, judged, strict=True)], known, route, now)
    outcomes = []
    for b, (_, rejections, outcome), entities in zip(batches, judged, stored, strict=True):
        result = IngestOutcome(b.message.message_id, outcome, entities, rejections)
        if b.respond is not None:
            conn.execute(
                update(inbox_messages)
                .where(inbox_messages.c.message_id == b.message.message_id)
                .values(response_json=dumps(b.respond(result)))
            )
        outcomes.append(result)
    return outcomes


def prepare_batch(
    conn: Connection, system: str, incoming: Sequence[IncomingEntity], rejections: Sequence[RowRejection]
) -> tuple[dict[tuple[str, str], _Known], list[IncomingEntity], list[RowRejection]]:
    """The current state of the entities a batch mentions, the entities it may change, and its rejections
    with those of records that would move an entity to another owner."""
    known = _lookup_known(conn, system, incoming)
    kept, owner_rejections = _refuse_owner_changes(incoming, known)
    return known, kept, [*rejections, *owner_rejections]


def write_versions(
    conn: Connection,
    message: InboundMessage,
    incoming: Sequence[IncomingEntity],
    known: dict[tuple[str, str], _Known],
    route: Router,
    now: datetime,
) -> list[EntityOutcome]:
    """New versions of what changed, their entities and xrefs, and one outbox row per destination."""
    return write_versions_of(conn, [(message, incoming)], known, route, now)[0]


def write_versions_of(
    conn: Connection,
    batches: Sequence[tuple[InboundMessage, Sequence[IncomingEntity]]],
    known: dict[tuple[str, str], _Known],
    route: Router,
    now: datetime,
) -> list[list[EntityOutcome]]:
    """`write_versions` for the records of several messages of one system in one go: each table written
    once; the outcomes of each message's records."""
    new_xrefs: list[dict[str, Any]] = []
    version_rows: list[dict[str, Any]] = []
    outbox_rows: list[dict[str, Any]] = []
    per_message: list[list[EntityOutcome]] = []
    for message, incoming in batches:
        per_message.append(_version_rows(message, incoming, known, route, now, new_xrefs, version_rows, outbox_rows))
    _write_rows(conn, known, now, new_xrefs, version_rows, outbox_rows)
    return per_message


def _version_rows(
    message: InboundMessage,
    incoming: Sequence[IncomingEntity],
    known: dict[tuple[str, str], _Known],
    route: Router,
    now: datetime,
    new_xrefs: list[dict[str, Any]],
    version_rows: list[dict[str, Any]],
    outbox_rows: list[dict[str, Any]],
) -> list[EntityOutcome]:
    results: list[EntityOutcome] = []
    # Rows are handled in payload order so that a batch carrying the same record twice records both
    # versions, and the later row becomes the current one.
    for ent in incoming:
        key = (ent.entity_type, ent.external_id)
        state = known.get(key)
        if state is None:
            state = _Known(new_entity_id(), 0, "", is_new=True)
            known[key] = state
            new_xrefs.append(
                {
                    "entity_id": state.entity_id,
                    "system": message.system,
                    "entity_type": ent.entity_type,
                    "external_id": ent.external_id,
                }
            )
        elif state.content_hash == ent.content_hash:
            results.append(
                EntityOutcome(ent.row, ent.entity_type, state.entity_id, state.version, False, ent.external_id)
            )
            continue

        state.version += 1
        state.content_hash = ent.content_hash
        state.changed = True
        state.org_code = ent.org_code
        state.fiscal_year = ent.fiscal_year
        version_rows.append(
            {
                "entity_id": state.entity_id,
                "version": state.version,
                "content_hash": ent.content_hash,
                "payload": body_text(ent.payload),
                "message_id": message.message_id,
                "source_system": message.system,
                "mapping_version": ent.mapping_version,
                "created_at": now,
            }
        )
        destinations = unique(route(message.system, ent))
        seen: set[str] = set()
        for dest in destinations:
            if dest.system in seen:
                continue
            seen.add(dest.system)
            outbox_rows.append(
                {
                    "delivery_key": f"{dest.system}:{state.entity_id}:{state.version}",
                    "destination": dest.system,
                    "route": dest.route_name,
                    "entity_id": state.entity_id,
                    "entity_type": ent.entity_type,
                    "version": state.version,
                    "state": "held" if dest.held else "pending",
                    "attempts": 0,
                    "max_attempts": dest.max_attempts,
                    "next_attempt_at": now,
                    "received_at": message.received_at,
                    "created_at": now,
                }
            )
        results.append(
            EntityOutcome(
                ent.row,
                ent.entity_type,
                state.entity_id,
                state.version,
                True,
                ent.external_id,
                tuple(sorted(seen)),
            )
        )
    return results


def _write_rows(
    conn: Connection,
    known: dict[tuple[str, str], _Known],
    now: datetime,
    new_xrefs: list[dict[str, Any]],
    version_rows: list[dict[str, Any]],
    outbox_rows: list[dict[str, Any]],
) -> None:
    entity_types = {st.entity_id: et for (et, _), st in known.items()}
    new_entities = [
        {
            "entity_id": st.entity_id,
            "entity_type": entity_types[st.entity_id],
            "org_code": st.org_code,
            "fiscal_year": st.fiscal_year,
            "current_version": st.version,
            "content_hash": st.content_hash,
            "created_at": now,
            "updated_at": now,
        }
        for st in known.values()
        if st.is_new
    ]
    changed_entities = [
        {
            "b_key": st.entity_id,
            "current_version": st.version,
            "content_hash": st.content_hash,
            "org_code": st.org_code,
            "fiscal_year": st.fiscal_year,
        }
        for st in known.values()
        if st.changed and not st.is_new
    ]
    insert_rows(conn, entities, new_entities)
    insert_rows(conn, xrefs, new_xrefs)
    if changed_entities:
        update_each(conn, entities.c.entity_id, changed_entities, updated_at=now)
    insert_rows(conn, entity_versions, version_rows)
    insert_rows(conn, outbox, outbox_rows)


# Deliveries queued in one go past which PostgreSQL's statistics of the outbox are refreshed before the rows
# are committed, and each tenfold after (a chunked payload reports its running total).
ANALYZE_AFTER_ROWS = 2_000


def refresh_statistics(conn: Connection, queued_before: int, queued_now: int) -> None:
    """On PostgreSQL, ANALYZE the outbox when a payload has queued `ANALYZE_AFTER_ROWS` deliveries, or ten
    times as many as at the last refresh. With statistics of a nearly empty outbox, the claim query's
    check for an earlier open version was once planned as a scan of every pending row per candidate (50,000
    rows made each claim run for minutes); the claim no longer depends on statistics (core/store/outbox.py),
    but the other lookups of outbox rows by entity still do. Run inside the transaction, so the new
    statistics are committed with the rows they describe and no reader sees the rows without them."""
    if conn.dialect.name != "postgresql" or queued_now < ANALYZE_AFTER_ROWS:
        return
    mark = ANALYZE_AFTER_ROWS
    while mark * 10 <= queued_now:
        mark *= 10
    if queued_before < mark:
        conn.exec_driver_sql("ANALYZE outbox")


def _refuse_owner_changes(
    incoming: Sequence[IncomingEntity], known: dict[tuple[str, str], _Known]
) -> tuple[list[IncomingEntity], list[RowRejection]]:
    """A record whose id already belongs to another organisation's entity is refused: an entity
    never changes owner through a source update, or one organisation could overwrite another's
    data by reusing its ids."""
    kept: list[IncomingEntity] = []
    refused: list[RowRejection] = []
    for ent in incoming:
        state = known.get((ent.entity_type, ent.external_id))
        if state is not None and state.org_code and ent.org_code and state.org_code != ent.org_code:
            refused.append(
                RowRejection(
                    row=ent.row,
                    rule="entity.owner_changed",
                    reason=(
                        f"this record's id {ent.external_id!r} already belongs to organisation "
                        f"{state.org_code}; an entity cannot move to another organisation"
                    ),
                    field="org_code",
                    value=ent.org_code,
                )
            )
            continue
        kept.append(ent)
    return kept, refused


def record_failed(conn: Connection, message: InboundMessage, rejection: RowRejection) -> None:
    insert_message(conn, message, outcome="failed", accepted=0, rejected=0)
    insert_rejections(conn, message.message_id, [rejection])


def record_refused(conn: Connection, message: InboundMessage, rejections: Sequence[RowRejection]) -> None:
    """Keep a request that was turned away as a whole: no entity, version or delivery comes of it."""
    insert_message(conn, message, outcome="refused", accepted=0, rejected=rejected_row_count(rejections))
    insert_rejections(conn, message.message_id, rejections)
