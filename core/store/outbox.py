"""The outbox: claiming due deliveries, recording their results, dead letters and backlog figures.

Ordering rule: per (destination, entity) only the lowest version that is still open (pending, in
flight or held) may be claimed, so a destination never sees version 3 before version 2. Delivered and
dead rows are terminal and no longer hold later versions back.

Pausing: `paused` is the set of (route, destination) pairs the caller's route table has paused. Their
rows are never claimed, a retry or replay of one goes to 'held' rather than 'pending', and
`reconcile_holds` (run by every hub process each time it refreshes its route table) moves rows
between 'pending' and 'held' to match, whatever state a process with an older table left them in.

Outage budget (docs/decisions/0009-outage-budget.md): a retryable failure is dead-lettered only once
the row's max_attempts are used and its first failure (`first_failed_at`) is older than the retry
window the worker passes with the Retry. Delivering a version closes the open dead letters of older
versions of that entity at that destination ("superseded"), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    false,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.sql import Select

from core import crashpoints
from core.store.records import (
    ClaimedDelivery,
    CompletionSummary,
    Dead,
    DeadLetter,
    Acknowledged,
    DeliveryResult,
    DestinationStats,
    GiveBack,
    ResolveResult,
    Retry,
)
from core.store.schema import dead_letters, entity_versions, outbox, xrefs
from core.store.bulk import insert_rows
from core.store.util import among, chunks, from_row, loads, update_each

OPEN_STATES = ("pending", "in_flight")
# States in which a version holds later versions of its entity back at its destination.
HOLDING_STATES = frozenset({"pending", "in_flight", "held"})

# States are written into the SQL as constants, not bound parameters: a partial index
# (WHERE state = 'pending') is only usable when the planner can see the value, and neither SQLite
# nor a generic PostgreSQL plan can see through a parameter.
PENDING = literal_column("'pending'")
IN_FLIGHT = literal_column("'in_flight'")
HELD = literal_column("'held'")

# (route name, destination) pairs whose deliveries are held: a whole paused route contributes one pair
# per destination on it.
Paused = frozenset[tuple[str, str]]
NOTHING_PAUSED: Paused = frozenset()

# What a delivery is and how much of its budget is used: read when it is claimed and when its result comes.
_DELIVERY_COLUMNS = (
    outbox.c.id,
    outbox.c.delivery_key,
    outbox.c.destination,
    outbox.c.route,
    outbox.c.entity_id,
    outbox.c.entity_type,
    outbox.c.version,
    outbox.c.attempts,
    outbox.c.max_attempts,
    outbox.c.first_failed_at,
)


def _by_destination(paused: Paused) -> dict[str, list[str]]:
    routes: dict[str, list[str]] = {}
    for route, destination in sorted(paused):
        routes.setdefault(destination, []).append(route)
    return routes


def _is_paused(paused: Paused) -> ColumnElement[bool]:
    """SQL for "this outbox row's (route, destination) is paused" (false for a row without a route)."""
    if not paused:
        return false()
    return or_(
        *(
            and_(outbox.c.destination == destination, outbox.c.route.is_not(None), outbox.c.route.in_(routes))
            for destination, routes in _by_destination(paused).items()
        )
    )


def _due(
    now: datetime, limit: int, *, expired: bool, lock: bool, paused: Paused, destination: str | None,
    after: tuple[Any, int] | None,
) -> Select[Any]:
    """Due rows in time order, from the partial index of their state, `after` a (time, id) already read.

    The check for an earlier open version is not part of this statement: as a correlated subquery its
    plan depended on the planner's statistics (with those of a nearly empty outbox, PostgreSQL scanned
    every pending row per candidate). `_behind_earlier` makes it a lookup by (entity_id, destination)."""
    if expired:
        due = and_(outbox.c.state == IN_FLIGHT, outbox.c.claim_expires_at <= now)
        at = outbox.c.claim_expires_at
    else:
        due = and_(outbox.c.state == PENDING, outbox.c.next_attempt_at <= now)
        at = outbox.c.next_attempt_at
    stmt = select(outbox.c.id, outbox.c.entity_id, outbox.c.destination, outbox.c.version, at.label("due_at")).where(due)
    if destination is not None:
        stmt = stmt.where(outbox.c.destination == destination)
    if paused:
        # A row of a paused route that is pending (a retry, a replay, a row queued by a process whose
        # route table was older) or whose lease expired is not sent; reconcile_holds will hold it.
        stmt = stmt.where(~_is_paused(paused))
    if after is not None:
        stmt = stmt.where(or_(at > after[0], and_(at == after[0], outbox.c.id > after[1])))
    stmt = stmt.order_by(at, outbox.c.id).limit(limit)
    if lock:
        # Several hub processes claim from one PostgreSQL: rows another claimer holds are skipped
        # rather than waited for, and never handed out twice.
        stmt = stmt.with_for_update(skip_locked=True, of=outbox)
    return stmt


def _behind_earlier(conn: Connection, candidates: Sequence[Any]) -> set[int]:
    """The candidates that an earlier version of their entity, still open at their destination, holds back
    (a held earlier version, its route paused, holds back later ones reached by another route too).
    A first version has none: a claim of new records (a resync, a day's plans) reads nothing here."""
    later = [c for c in candidates if c.version > 1]
    wanted = {(c.entity_id, c.destination) for c in later}
    lowest: dict[tuple[str, str], int] = {}
    for chunk in chunks(sorted({c.entity_id for c in later})):
        # By entity alone; destination and state are judged here. A condition on either let PostgreSQL,
        # without statistics, read every row of the destination through (destination, state) instead
        # of these entities' few rows through (entity_id, destination, version).
        query = select(outbox.c.entity_id, outbox.c.destination, outbox.c.version, outbox.c.state).where(
            among(conn, outbox.c.entity_id, chunk)
        )
        for entity_id, at, version, state in conn.execute(query).all():
            key = (entity_id, at)
            if state in HOLDING_STATES and key in wanted and version < lowest.get(key, version + 1):
                lowest[key] = version
    return {c.id for c in later if lowest.get((c.entity_id, c.destination), c.version) < c.version}


def _claimable_ids(
    conn: Connection, now: datetime, limit: int, *, expired: bool, lock: bool, paused: Paused, destination: str | None
) -> list[int]:
    """Up to `limit` ids of due rows that no earlier open version holds back, oldest first."""
    ids: list[int] = []
    after: tuple[Any, int] | None = None
    while len(ids) < limit:
        # Always a whole claim's worth: when earlier versions hold many rows back, the next round starts
        # after them instead of creeping forward a few rows at a time.
        rows = conn.execute(
            _due(now, limit, expired=expired, lock=lock, paused=paused, destination=destination, after=after)
        ).all()
        blocked = _behind_earlier(conn, rows) if rows else set()
        ids += [r.id for r in rows if r.id not in blocked][: limit - len(ids)]
        if len(rows) < limit:
            break
        after = (rows[-1].due_at, rows[-1].id)
    return ids


def claim_due(
    conn: Connection,
    worker_id: str,
    limit: int,
    now: datetime,
    lease_seconds: float,
    paused: Paused = NOTHING_PAUSED,
    destination: str | None = None,
) -> list[ClaimedDelivery]:
    only = {"lock": conn.dialect.name == "postgresql", "paused": paused, "destination": destination}
    # Expired leases first: they belong to a worker that crashed and are the oldest work there is.
    ids = _claimable_ids(conn, now, limit, expired=True, **only)
    if len(ids) < limit:
        ids += _claimable_ids(conn, now, limit - len(ids), expired=False, **only)
    if not ids:
        return []
    expires = now + timedelta(seconds=lease_seconds)
    rows: list[Any] = []
    for chunk in chunks(ids):
        conn.execute(
            update(outbox)
            .where(among(conn, outbox.c.id, chunk))
            .values(
                state="in_flight",
                attempts=outbox.c.attempts + 1,
                claimed_by=worker_id,
                claim_expires_at=expires,
            )
        )
        rows += conn.execute(
            select(*_DELIVERY_COLUMNS, outbox.c.received_at, entity_versions.c.payload)
            .select_from(
                outbox.join(
                    entity_versions,
                    and_(
                        entity_versions.c.entity_id == outbox.c.entity_id,
                        entity_versions.c.version == outbox.c.version,
                    ),
                )
            )
            .where(among(conn, outbox.c.id, chunk))
        ).all()
    entity_ids = list({r.entity_id for r in rows})
    refs: dict[str, dict[str, str]] = {}
    for chunk in chunks(entity_ids):
        for entity_id, system, external_id in conn.execute(
            select(xrefs.c.entity_id, xrefs.c.system, xrefs.c.external_id).where(among(conn, xrefs.c.entity_id, chunk))
        ).all():
            refs.setdefault(entity_id, {})[system] = external_id
    order = {outbox_id: i for i, outbox_id in enumerate(ids)}
    rows.sort(key=lambda r: order[r.id])
    # The select's columns unpacked by position (a thousand rows a claim, where reading each column by name
    # cost more than decoding its payload); the record built by name, so that its field order is free.
    return [
        ClaimedDelivery(
            outbox_id=outbox_id, delivery_key=delivery_key, destination=destination, route=route, entity_id=entity_id,
            entity_type=entity_type, version=version, attempts=attempts, max_attempts=max_attempts,
            received_at=received_at, payload=loads(payload), xrefs=dict(refs.get(entity_id, {})),
            first_failed_at=_aware(first_failed_at),
        )
        for (outbox_id, delivery_key, destination, route, entity_id, entity_type, version, attempts, max_attempts,
             first_failed_at, received_at, payload) in rows
    ]  # fmt: skip


def take_back(conn: Connection, owner: str, now: datetime) -> int:
    """End the leases of rows in flight under claims of `owner` (claimer names `owner` or `owner/...`),
    so that the next claim takes them as expired; returns how many. For a process that restarted under
    its old name (core/process_identity.py): those claims were its own and their writer is dead. The attempt
    they counted stays counted, as when a lease runs out, so a row that kills its writer every time is
    still dead-lettered once its budget is spent."""
    mine = or_(outbox.c.claimed_by == owner, outbox.c.claimed_by.startswith(f"{owner}/", autoescape=True))
    result = conn.execute(
        update(outbox)
        .where(outbox.c.state == IN_FLIGHT, mine, outbox.c.claim_expires_at > now)
        .values(claim_expires_at=now)
    )
    return int(result.rowcount or 0)


def complete(
    conn: Connection, results: Sequence[DeliveryResult], now: datetime, paused: Paused = NOTHING_PAUSED
) -> CompletionSummary:
    ids = [r.outbox_id for r in results]
    current: dict[int, Any] = {}
    for chunk in chunks(ids):
        for row in conn.execute(
            select(*_DELIVERY_COLUMNS, outbox.c.state).where(among(conn, outbox.c.id, chunk))
        ).all():
            current[row.id] = row

    delivered: list[dict[str, Any]] = []
    retried: list[dict[str, Any]] = []
    dead: list[tuple[Any, str]] = []
    xref_wanted: dict[tuple[str, str], tuple[int, str, str]] = {}
    newest_delivered: dict[tuple[str, str], tuple[int, datetime]] = {}
    ignored: list[int] = []
    for result in results:
        row = current.get(result.outbox_id)
        if isinstance(result, Acknowledged):
            # A late acknowledgement still counts: the destination has the data whatever the lease
            # says (even if its route was paused meanwhile). Only a row already delivered (or
            # dead-lettered) is left alone.
            if row is None or row.state not in (*OPEN_STATES, "held"):
                ignored.append(result.outbox_id)
                continue
            delivered.append({"b_key": row.id, "delivered_at": result.at or now})
            newest_delivered[(row.entity_id, row.destination)] = max(
                (row.version, result.at or now), newest_delivered.get((row.entity_id, row.destination), (0, now))
            )
            if result.external_id is not None:
                xref_wanted[(row.entity_id, row.destination)] = (row.id, row.entity_type, result.external_id)
        elif row is None or row.state != "in_flight" or (
            result.attempt is not None and result.attempt != row.attempts
        ):
            # The lease expired and another worker owns the row now; its result will decide.
            ignored.append(result.outbox_id)
        elif isinstance(result, Retry):
            give_back = isinstance(result, GiveBack)
            first_failed = _aware(row.first_failed_at)
            if not give_back and budget_spent(
                row.attempts, row.max_attempts, first_failed, now, result.retry_window_s
            ):
                dead.append((row, f"exhausted after {row.attempts} attempts: {result.error}"))
            else:
                retried.append(
                    {
                        "b_key": row.id,
                        "next_attempt_at": result.next_attempt_at,
                        "last_error": result.error,
                        # A paused route's retry waits for the resume instead of being sent.
                        "state": "held" if (row.route, row.destination) in paused else "pending",
                        # A delivery given back unsent does not use up one of its attempts, nor does it
                        # start the outage budget.
                        "attempts": row.attempts - 1 if give_back else row.attempts,
                        "first_failed_at": first_failed if give_back else (first_failed or now),
                    }
                )
        elif isinstance(result, Dead):
            dead.append((row, result.reason))
        else:  # pragma: no cover - guarded by the type checker
            raise TypeError(f"unknown delivery result {result!r}")

    if delivered:
        update_each(
            conn,
            outbox.c.id,
            delivered,
            state="delivered",
            claimed_by=None,
            claim_expires_at=None,
            last_error=None,
        )
    if retried:
        update_each(conn, outbox.c.id, retried, claimed_by=None, claim_expires_at=None)
    if dead:
        _bury(conn, dead, now)
    # A first version supersedes nothing: most deliveries of a resync need no look at the dead letters.
    if superseding := {key: newest for key, newest in newest_delivered.items() if newest[0] > 1}:
        _close_superseded(conn, superseding, now)
    conflicts = _upsert_destination_xrefs(conn, xref_wanted) if xref_wanted else []
    return CompletionSummary(
        delivered=len(delivered),
        retried=len(retried),
        dead=len(dead),
        ignored=tuple(ignored),
        xref_conflicts=tuple(conflicts),
    )


def budget_spent(
    attempts: int, max_attempts: int, first_failed_at: datetime | None, now: datetime, retry_window_s: float | None
) -> bool:
    """Whether a delivery that failed again with a retryable error has used up its budget.

    Both parts must be spent: the route's `max_attempts` and, when a window is given, the time since
    its first retryable failure (`delivery.retry_window_s`; None or 0: attempts alone decide). The
    delivery worker applies the same rule (core.delivery.exhausted).
    """
    if attempts < max_attempts:
        return False
    if not retry_window_s:
        return True
    if first_failed_at is None:  # this is its first failure: the window starts now
        return False
    return (now - first_failed_at).total_seconds() >= retry_window_s


def _bury(conn: Connection, dead: Sequence[tuple[Any, str]], now: datetime) -> None:
    update_each(
        conn,
        outbox.c.id,
        [{"b_key": row.id, "last_error": reason} for row, reason in dead],
        state="dead",
        claimed_by=None,
        claim_expires_at=None,
    )
    conn.execute(
        insert(dead_letters),
        [
            {
                "outbox_id": row.id,
                "delivery_key": row.delivery_key,
                "destination": row.destination,
                "entity_id": row.entity_id,
                "entity_type": row.entity_type,
                "version": row.version,
                "reason": reason,
                "attempts": row.attempts,
                "created_at": now,
            }
            for row, reason in dead
        ],
    )
    crashpoints.reached("dead_letter")


def _upsert_destination_xrefs(
    conn: Connection, wanted: dict[tuple[str, str], tuple[int, str, str]]
) -> list[int]:
    """Remember the id each destination gave our entity; returns outbox ids whose id clashed."""
    # Plain IN-lists on indexed columns: row-value IN over pairs compiles slowly and SQLite does not
    # always use the index for it.
    entity_ids = list({entity_id for entity_id, _ in wanted})
    existing: dict[tuple[str, str], str] = {}
    for chunk in chunks(entity_ids):
        for entity_id, system, external_id in conn.execute(
            select(xrefs.c.entity_id, xrefs.c.system, xrefs.c.external_id).where(among(conn, xrefs.c.entity_id, chunk))
        ).all():
            existing[(entity_id, system)] = external_id
    # An external id already tied to another canonical entity at that system would violate the
    # unique key and abort the whole batch; it is reported instead, and the delivery still counts.
    by_kind: dict[tuple[str, str], list[str]] = {}
    for (_eid, system), (_oid, etype, ext) in wanted.items():
        by_kind.setdefault((system, etype), []).append(ext)
    claimed: dict[tuple[str, str, str], str] = {}
    for (system, etype), external_ids in by_kind.items():
        for chunk in chunks(external_ids):
            for entity_id, ext in conn.execute(
                select(xrefs.c.entity_id, xrefs.c.external_id).where(
                    xrefs.c.system == system, xrefs.c.entity_type == etype, among(conn, xrefs.c.external_id, chunk)
                )
            ).all():
                claimed[(system, etype, ext)] = entity_id

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    conflicts: list[int] = []
    for (entity_id, system), (outbox_id, etype, ext) in wanted.items():
        owner = claimed.get((system, etype, ext))
        if owner is not None and owner != entity_id:
            conflicts.append(outbox_id)
            continue
        claimed[(system, etype, ext)] = entity_id  # two results of one batch may name the same id
        if (entity_id, system) not in existing:
            inserts.append({"entity_id": entity_id, "system": system, "entity_type": etype, "external_id": ext})
        elif existing[(entity_id, system)] != ext:
            updates.append({"b_entity_id": entity_id, "b_system": system, "b_ext": ext})
    if updates:
        conn.execute(
            update(xrefs)
            .where(xrefs.c.entity_id == bindparam("b_entity_id"), xrefs.c.system == bindparam("b_system"))
            .values(external_id=bindparam("b_ext")),
            updates,
        )
    insert_rows(conn, xrefs, inserts)
    if conflicts:
        update_each(
            conn,
            outbox.c.id,
            [{"b_key": i} for i in conflicts],
            last_error="delivered, but the destination's id already belongs to another entity",
        )
    return conflicts


def superseded_note(version: int, delivered_at: datetime | None) -> str:
    at = f" at {_aware(delivered_at).isoformat()}" if delivered_at is not None else ""
    return f"superseded by version {version} delivered{at}"


def _close_superseded(conn: Connection, newest: dict[tuple[str, str], tuple[int, datetime]], now: datetime) -> int:
    """Close the open dead letters of older versions than the ones just delivered (same entity, same
    destination): the destination has a newer state, so replaying them would only roll it back."""
    entity_ids = list({entity_id for entity_id, _ in newest})
    closing: list[dict[str, Any]] = []
    for chunk in chunks(entity_ids):
        for letter_id, entity_id, destination, version in conn.execute(
            select(dead_letters.c.id, dead_letters.c.entity_id, dead_letters.c.destination, dead_letters.c.version)
            .where(dead_letters.c.entity_id.in_(chunk), dead_letters.c.resolved_at.is_(None))
        ):
            found = newest.get((entity_id, destination))
            if found is not None and found[0] > version:
                closing.append({"b_key": letter_id, "resolution_note": superseded_note(*found)})
    return _resolve_superseded(conn, closing, now)


def _resolve_superseded(conn: Connection, closing: list[dict[str, Any]], now: datetime) -> int:
    if not closing:
        return 0
    still_open = dead_letters.c.resolved_at.is_(None)
    update_each(conn, dead_letters.c.id, closing, still_open, resolved_at=now, resolution="superseded")
    return len(closing)


def close_superseded_dead_letters(conn: Connection, now: datetime, destination: str | None = None) -> int:
    """Close every open dead letter (of `destination`, or of all) whose entity has a newer version
    delivered to the same destination, noting which version and when; returns how many were closed.

    `complete` does this as each newer version is delivered; this sweep is for dead letters that were
    left open before that (migration 0004 runs it once) and is safe to run at any time.
    """
    newest = (
        select(outbox.c.entity_id, outbox.c.destination, func.max(outbox.c.version).label("version"))
        .where(
            outbox.c.state == "delivered",
            # only entities with an open dead letter: the outbox itself may hold millions of rows
            outbox.c.entity_id.in_(select(dead_letters.c.entity_id).where(dead_letters.c.resolved_at.is_(None))),
        )
        .group_by(outbox.c.entity_id, outbox.c.destination)
        .subquery()
    )
    delivered = outbox.alias("delivered")
    stmt = (
        select(dead_letters.c.id, newest.c.version, delivered.c.delivered_at)
        .select_from(
            dead_letters.join(
                newest,
                and_(newest.c.entity_id == dead_letters.c.entity_id, newest.c.destination == dead_letters.c.destination),
            ).join(
                delivered,
                and_(
                    delivered.c.entity_id == newest.c.entity_id,
                    delivered.c.destination == newest.c.destination,
                    delivered.c.version == newest.c.version,
                ),
            )
        )
        .where(dead_letters.c.resolved_at.is_(None), newest.c.version > dead_letters.c.version)
    )
    if destination is not None:
        stmt = stmt.where(dead_letters.c.destination == destination)
    closing = [
        {"b_key": letter_id, "resolution_note": superseded_note(version, delivered_at)}
        for letter_id, version, delivered_at in conn.execute(stmt)
    ]
    return _resolve_superseded(conn, closing, now)


# --- dead letters ---------------------------------------------------------------------------------


def _dead_letter(row: Any) -> DeadLetter:
    return from_row(DeadLetter, row)


def get_dead_letter(conn: Connection, dead_letter_id: int) -> DeadLetter | None:
    row = conn.execute(select(dead_letters).where(dead_letters.c.id == dead_letter_id)).first()
    return None if row is None else _dead_letter(row)


def replay_dead_letter(
    conn: Connection,
    dead_letter_id: int,
    now: datetime,
    note: str | None,
    force: bool,
    paused: Paused = NOTHING_PAUSED,
) -> ResolveResult:
    letter = conn.execute(
        select(dead_letters).where(dead_letters.c.id == dead_letter_id).with_for_update()
        if conn.dialect.name == "postgresql"
        else select(dead_letters).where(dead_letters.c.id == dead_letter_id)
    ).first()
    if letter is None:
        return ResolveResult(dead_letter_id, False, "no such dead letter")
    if letter.resolved_at is not None:
        return ResolveResult(
            dead_letter_id, False, f"already resolved ({letter.resolution})", letter.delivery_key
        )
    if not force:
        # Sending an old version after a newer one has arrived would roll the destination back; so
        # would sending it while a newer one is queued, in flight or held, which may then land first.
        newer = {
            state: version
            for state, version in conn.execute(
                select(outbox.c.state, func.max(outbox.c.version))
                .where(
                    outbox.c.entity_id == letter.entity_id,
                    outbox.c.destination == letter.destination,
                    outbox.c.version > letter.version,
                    outbox.c.state.in_(["delivered", "pending", "in_flight", "held"]),
                )
                .group_by(outbox.c.state)
            )
        }
        if "delivered" in newer:
            return ResolveResult(
                dead_letter_id,
                False,
                f"superseded: version {newer['delivered']} was already delivered to {letter.destination}",
                letter.delivery_key,
            )
        if newer:
            state, version = max(newer.items(), key=lambda item: item[1])
            waiting = {"pending": "queued", "in_flight": "being sent", "held": "held (paused route)"}[state]
            return ResolveResult(
                dead_letter_id,
                False,
                f"superseded: version {version} is {waiting} for {letter.destination} and would be overtaken "
                "by this replay; replay after it settles, or force",
                letter.delivery_key,
            )
    route = conn.execute(select(outbox.c.route).where(outbox.c.id == letter.outbox_id)).scalar_one_or_none()
    conn.execute(
        update(outbox)
        .where(outbox.c.id == letter.outbox_id)
        .values(
            state="held" if (route, letter.destination) in paused else "pending",
            attempts=0,
            next_attempt_at=now,
            claimed_by=None,
            claim_expires_at=None,
            delivered_at=None,
            first_failed_at=None,  # a replay gets a whole new outage budget
        )
    )
    crashpoints.reached("replay")
    conn.execute(
        update(dead_letters)
        .where(dead_letters.c.id == dead_letter_id)
        .values(resolved_at=now, resolution="replayed", resolution_note=note)
    )
    return ResolveResult(dead_letter_id, True, "replayed", letter.delivery_key)


def discard_dead_letter(conn: Connection, dead_letter_id: int, note: str | None, now: datetime) -> ResolveResult:
    letter = conn.execute(select(dead_letters).where(dead_letters.c.id == dead_letter_id)).first()
    if letter is None:
        return ResolveResult(dead_letter_id, False, "no such dead letter")
    if letter.resolved_at is not None:
        return ResolveResult(
            dead_letter_id, False, f"already resolved ({letter.resolution})", letter.delivery_key
        )
    conn.execute(
        update(dead_letters)
        .where(dead_letters.c.id == dead_letter_id, dead_letters.c.resolved_at.is_(None))
        .values(resolved_at=now, resolution="discarded", resolution_note=note)
    )
    return ResolveResult(dead_letter_id, True, "discarded", letter.delivery_key)


# --- pausing ---------------------------------------------------------------------------------------


def release_held_destination(conn: Connection, destination: str, now: datetime) -> int:
    """Make the deliveries a destination handed back for its configuration due now (its configuration
    changed); returns how many. They used no attempt while held, and use none now."""
    result = conn.execute(
        update(outbox)
        .where(
            outbox.c.destination == destination,
            outbox.c.state == PENDING,
            outbox.c.last_error.like("destination held:%"),
            outbox.c.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )
    return int(result.rowcount or 0)


def reconcile_holds(
    conn: Connection, paused: Paused, destinations: Sequence[str], now: datetime
) -> tuple[int, int]:
    """Make the outbox match the pause state: returns (rows held, rows released).

    Pending rows of a paused (route, destination) and rows whose lease expired there become 'held';
    held rows of any other pair (resumed, removed from its route, or queued as held by a process whose
    route table was older) become 'pending' again, due when they were due before. Rows in flight
    under a live lease finish their attempt. `destinations` are the systems to look at (every
    statement filters on destination and state, which the (destination, state) index serves).
    """
    by_destination = _by_destination(paused)
    held = released = 0
    for destination in sorted(set(destinations) | set(by_destination)):
        routes = by_destination.get(destination)
        if routes:
            at_destination = and_(
                outbox.c.destination == destination, outbox.c.route.is_not(None), outbox.c.route.in_(routes)
            )
            held += conn.execute(
                update(outbox).where(at_destination, outbox.c.state == PENDING).values(state="held")
            ).rowcount
            held += conn.execute(
                update(outbox)
                .where(at_destination, outbox.c.state == IN_FLIGHT, outbox.c.claim_expires_at <= now)
                .values(state="held", claimed_by=None, claim_expires_at=None)
            ).rowcount
        release = update(outbox).where(outbox.c.destination == destination, outbox.c.state == HELD)
        if routes:
            release = release.where(or_(outbox.c.route.is_(None), outbox.c.route.not_in(routes)))
        released += conn.execute(release.values(state="pending")).rowcount
    return held, released


# --- figures for gauges ---------------------------------------------------------------------------


def outbox_stats(conn: Connection) -> list[DestinationStats]:
    """Per destination: counts by state and the age of the oldest pending row, all from SQL."""
    pending_oldest = {
        dest: (received, created)
        for dest, received, created in conn.execute(
            select(outbox.c.destination, func.min(outbox.c.received_at), func.min(outbox.c.created_at))
            .where(outbox.c.state == PENDING)
            .group_by(outbox.c.destination)
        )
    }
    counts: dict[str, dict[str, int]] = {}
    for dest, state, count in conn.execute(
        select(outbox.c.destination, outbox.c.state, func.count()).group_by(outbox.c.destination, outbox.c.state)
    ):
        counts.setdefault(dest, {})[state] = count
    stats = []
    for dest in sorted(counts):
        c = counts[dest]
        received, created = pending_oldest.get(dest, (None, None))
        stats.append(
            DestinationStats(
                destination=dest,
                pending=c.get("pending", 0),
                in_flight=c.get("in_flight", 0),
                delivered=c.get("delivered", 0),
                dead=c.get("dead", 0),
                oldest_pending_received_at=_aware(received),
                oldest_pending_created_at=_aware(created),
                held=c.get("held", 0),
            )
        )
    return stats


def _aware(value: Any) -> datetime | None:
    # Guards against a driver returning text or naive values for an aggregate.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def delivery_latencies(conn: Connection, destination: str | None) -> list[float]:
    query = select(outbox.c.received_at, outbox.c.delivered_at).where(
        outbox.c.state == "delivered", outbox.c.received_at.is_not(None), outbox.c.delivered_at.is_not(None)
    )
    if destination is not None:
        query = query.where(outbox.c.destination == destination)
    return [
        (_aware(delivered) - _aware(received)).total_seconds()
        for received, delivered in conn.execute(query)
    ]
