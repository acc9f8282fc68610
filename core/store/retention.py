"""Retention: what the hub forgets once it is old, and what it never forgets.

At national size (ten million records a year) two things grow without bound: outbox rows that were
delivered, and the raw payloads of the inbox. Both are purged by age, in batches (each batch its own
short transaction, so deliveries and ingest go on meanwhile), by `purge`, which the scheduler leader
runs every `retention.interval_s` and `prasan retention run` runs by hand.

The rule, and why:

- A **delivered outbox row** older than `retention.outbox_delivered_days` is deleted, unless
  - a dead letter refers to it (the history of a replay; the foreign key wants it too), or
  - another row of the same entity and destination is still open (pending, in flight, held), or the
    entity has an unresolved dead letter for that destination: replaying a dead letter, and claiming
    in version order, ask "was a newer version already delivered?", and the answer must stay yes.
  Pending, in-flight, held and dead rows are never purged, whatever their age.
- An **inbox payload** (the bytes as received) older than `retention.inbox_payload_days` is dropped;
  the message row stays, with its checksum, counts, outcome, rejections (each with its native record)
  and the answer given under its Idempotency-Key, so a retry is still answered as the first time and
  every entity version still names the message it came from. The payload is kept, whatever its age,
  while it is the source of the version of a record now in force: the evidence of every figure in force
  stays; only superseded evidence goes.
- Entities and their versions, cross-references, dead letters, the audit log and cursors are never purged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from collections.abc import Callable

from sqlalchemy import Connection, Select, and_, delete, exists, select, text, update

from core.store.database import Database
from core.store.inbox.payloads import purge_payloads
from core.store.schema import OPEN_STATES, dead_letters, entities, entity_versions, inbox_messages, outbox

# Rows per transaction: small enough that a batch holds its locks for well under a second.
DEFAULT_BATCH = 5_000


@dataclass(frozen=True)
class PurgeResult:
    outbox_rows: int = 0
    inbox_payloads: int = 0


def _purgeable_outbox(cutoff: datetime, limit: int) -> Select[tuple[int]]:
    other = outbox.alias("other")
    return (
        select(outbox.c.id)
        .where(
            text("outbox.state = 'delivered'"),  # the predicate of ix_outbox_delivered_at
            outbox.c.delivered_at < cutoff,
            ~exists().where(dead_letters.c.outbox_id == outbox.c.id),
            ~exists().where(
                other.c.entity_id == outbox.c.entity_id,
                other.c.destination == outbox.c.destination,
                other.c.state.in_(OPEN_STATES),
            ),
            ~exists().where(
                dead_letters.c.entity_id == outbox.c.entity_id,
                dead_letters.c.destination == outbox.c.destination,
                dead_letters.c.resolved_at.is_(None),
            ),
        )
        .order_by(outbox.c.delivered_at)
        .limit(limit)
    )


def _purgeable_payloads(cutoff: datetime, limit: int) -> Select[tuple[str]]:
    return (
        select(inbox_messages.c.message_id)
        .where(
            text("inbox_messages.payload_purged_at IS NULL"),  # ix_inbox_messages_payload_kept_received
            inbox_messages.c.received_at < cutoff,
            ~exists(
                select(entity_versions.c.entity_id)
                .join(
                    entities,
                    and_(
                        entities.c.entity_id == entity_versions.c.entity_id,
                        entities.c.current_version == entity_versions.c.version,
                    ),
                )
                .where(entity_versions.c.message_id == inbox_messages.c.message_id)
            ),
        )
        .order_by(inbox_messages.c.received_at)
        .limit(limit)
    )


def purge_outbox_batch(conn: Connection, cutoff: datetime, limit: int) -> int:
    ids = list(conn.execute(_purgeable_outbox(cutoff, limit)).scalars())
    if ids:
        conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))
    return len(ids)


def purge_payload_batch(conn: Connection, cutoff: datetime, limit: int, now: datetime) -> int:
    ids = list(conn.execute(_purgeable_payloads(cutoff, limit)).scalars())
    if ids:
        purge_payloads(conn, ids)
        conn.execute(update(inbox_messages).where(inbox_messages.c.message_id.in_(ids)).values(payload_purged_at=now))
    return len(ids)


def purge(
    db: Database,
    now: datetime,
    *,
    outbox_delivered_days: float | None,
    inbox_payload_days: float | None,
    batch: int = DEFAULT_BATCH,
    max_batches: int | None = None,
) -> PurgeResult:
    """Purge by the rule above, batch by batch until nothing old is left (or `max_batches` each);
    None for an age keeps that kind for ever."""
    outbox_rows = payloads = 0
    if outbox_delivered_days is not None:
        cutoff = now - timedelta(days=outbox_delivered_days)
        outbox_rows = _drain(db, lambda conn: purge_outbox_batch(conn, cutoff, batch), batch, max_batches)
    if inbox_payload_days is not None:
        cutoff = now - timedelta(days=inbox_payload_days)
        payloads = _drain(db, lambda conn: purge_payload_batch(conn, cutoff, batch, now), batch, max_batches)
    return PurgeResult(outbox_rows, payloads)


def _drain(db: Database, step: Callable[[Connection], int], batch: int, max_batches: int | None) -> int:
    total = 0
    done = 0
    while max_batches is None or done < max_batches:
        purged = db.write(step)
        total += purged
        done += 1
        if purged < batch:
            break
    return total
