"""Record identity in SQL (core/record_identity.py): joining a record to the entity another system already
holds, merging by field authority, and keeping the match keys and the conflicts.

Everything takes the caller's connection and runs inside the ingest transaction; nothing commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select

from canonical_model.envelope import content_hash
from core.record_identity import IdentityRules
from core.store.bulk import insert_rows
from core.store.records import EntityOutcome, InboundMessage, IncomingEntity
from core.store.schema import entities, entity_conflicts, entity_versions, identity_keys, xrefs
from core.store.util import chunks, dumps, loads, one_of, unique

# Conflicts listed for one entity, newest first: an entity two systems disagree on daily stays readable.
MAX_CONFLICTS_SHOWN = 500


@dataclass(frozen=True)
class ConflictView:
    field: str
    system: str
    offered: Any
    kept_by: str
    kept: Any
    message_id: str | None
    at: datetime


class MatchKeys:
    """The match keys of the bodies one transaction stores, each worked out once: `resolve` needs those of
    the records no id knows, `store_keys` those of every changed record, mostly the same bodies."""

    def __init__(self, rules: IdentityRules) -> None:
        self.rules = rules
        # id(body) -> (the body, its keys): the body is held, so its id names no other object meanwhile.
        self._known: dict[int, tuple[Any, dict[str, str]]] = {}

    def of(self, entity_type: str, body: Any) -> dict[str, str]:
        hit = self._known.get(id(body))
        if hit is not None and hit[0] is body:
            return hit[1]
        keys = self.rules.keys(entity_type, body)
        self._known[id(body)] = (body, keys)
        return keys


def resolve(
    conn: Connection,
    rules: IdentityRules,
    message: InboundMessage,
    incoming: Sequence[IncomingEntity],
    now: datetime,
    message_id_of: Callable[[IncomingEntity], str] | None = None,
    keys: MatchKeys | None = None,
) -> list[IncomingEntity]:
    """Join records no id of this system knows to the one entity that shares a match key (by adding this
    system's cross-reference to it), then merge every record of an entity that other systems feed too.
    Returns the records to store, bodies merged and hashes recomputed, in the order of `incoming`.
    `message_id_of` names the message of a record when `incoming` holds several messages' records (of
    `message`'s system); a conflict is recorded against it. `keys`: shared with `store_keys`."""
    concerned = [e for e in incoming if rules.applies_to(e.entity_type)]
    if not concerned:
        return list(incoming)
    system = message.system
    held = _entity_of_xrefs(conn, system, concerned)
    unknown = [e for e in concerned if (e.entity_type, e.external_id) not in held]
    _join_by_keys(conn, keys or MatchKeys(rules), system, unknown, held)
    if not held:
        return list(incoming)
    sources = _other_sources(conn, system, unique(held.values()))
    if not sources:
        return list(incoming)
    current = _current_bodies(conn, list(sources))
    recorded = _latest_conflicts(conn, list(sources))
    out = []
    for ent in incoming:
        entity_id = held.get((ent.entity_type, ent.external_id))
        others = sources.get(entity_id or "", set())
        if entity_id is None or not others or entity_id not in current:
            out.append(ent)
            continue
        body, conflicts = rules.merge(ent.entity_type, system, current[entity_id], ent.payload, others)
        # A producer repeating the same refused value is one conflict, not one a push.
        conflicts = [
            c for c in conflicts
            if recorded.get((entity_id, c.field, c.system)) != (dumps(c.offered), dumps(c.kept))
        ]  # fmt: skip
        if conflicts:
            conn.execute(
                insert(entity_conflicts),
                [
                    {
                        "entity_id": entity_id,
                        "field": c.field,
                        "system": c.system,
                        "offered_json": dumps(c.offered),
                        "kept_by": c.kept_by,
                        "kept_json": dumps(c.kept),
                        "message_id": message.message_id if message_id_of is None else message_id_of(ent),
                        "at": now,
                    }
                    for c in conflicts
                ],
            )
        out.append(replace(ent, payload=body, content_hash=content_hash(body)))
    return out


def _latest_conflicts(conn: Connection, entity_ids: list[str]) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(entity, field, system) -> (offered, kept) of the newest conflict recorded for it."""
    out: dict[tuple[str, str, str], tuple[str, str]] = {}
    for chunk in chunks(entity_ids):
        rows = conn.execute(
            select(entity_conflicts.c.entity_id, entity_conflicts.c.field, entity_conflicts.c.system,
                   entity_conflicts.c.offered_json, entity_conflicts.c.kept_json)
            .where(entity_conflicts.c.entity_id.in_(chunk))
            .order_by(entity_conflicts.c.conflict_id)
        )  # fmt: skip
        for entity_id, field, system, offered, kept in rows:
            out[(entity_id, field, system)] = (offered, kept)
    return out


def _entity_of_xrefs(conn: Connection, system: str, incoming: Sequence[IncomingEntity]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    # By type, then a plain IN of ids: a row-value IN costs SQLAlchemy twice the bound parameters to build.
    for entity_type, external_ids in _grouped((e.entity_type, e.external_id) for e in incoming).items():
        for chunk in chunks(external_ids):
            rows = conn.execute(
                select(xrefs.c.external_id, xrefs.c.entity_id).where(
                    xrefs.c.system == system,
                    xrefs.c.entity_type == entity_type,
                    one_of(conn, xrefs.c.external_id, chunk),
                )
            )
            for external_id, entity_id in rows:
                found[(entity_type, external_id)] = entity_id
    return found


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(a, b) pairs as a -> its distinct b, in order."""
    out: dict[str, list[str]] = {}
    for a, b in unique(pairs):
        out.setdefault(a, []).append(b)
    return out


def _join_by_keys(
    conn: Connection,
    keys_of: MatchKeys,
    system: str,
    unknown: Sequence[IncomingEntity],
    held: dict[tuple[str, str], str],
) -> None:
    """A new record joins an entity when exactly one entity of its type has one of its keys and no record of
    this system yet (one system's two records are two records, whatever their keys say)."""
    wanted = {(e.entity_type, e.external_id): keys_of.of(e.entity_type, e.payload) for e in unknown}
    pairs = unique((name, value) for keys in wanted.values() for name, value in keys.items())
    if not pairs:
        return
    owners: dict[tuple[str, str], set[str]] = {}
    for name, values in _grouped(pairs).items():
        for chunk in chunks(values):
            for value, entity_id in conn.execute(
                select(identity_keys.c.value, identity_keys.c.entity_id).where(
                    identity_keys.c.key == name, one_of(conn, identity_keys.c.value, chunk)
                )
            ):
                owners.setdefault((name, value), set()).add(entity_id)
    taken = _has_xref_of(conn, system, unique(i for ids in owners.values() for i in ids))
    joins = []
    for (entity_type, external_id), keys in wanted.items():
        entity_id = _single_candidate(keys, owners, taken)
        if entity_id is None or entity_id in held.values():
            continue  # nothing to join, a guess, or another record of this batch already joined it
        held[(entity_type, external_id)] = entity_id
        joins.append({"entity_id": entity_id, "system": system, "entity_type": entity_type, "external_id": external_id})
    if joins:
        conn.execute(insert(xrefs), joins)


def _single_candidate(keys: dict[str, str], owners: dict[tuple[str, str], set[str]], taken: set[str]) -> str | None:
    """Keys in their declared order: the first that finds one entity decides; one that finds several stops
    the search, so a weaker key never settles what a stronger one found ambiguous."""
    for pair in keys.items():
        candidates = owners.get(pair, set()) - taken
        if len(candidates) == 1:
            return next(iter(candidates))
        if candidates:
            return None
    return None


def _has_xref_of(conn: Connection, system: str, entity_ids: list[str]) -> set[str]:
    out: set[str] = set()
    for chunk in chunks(entity_ids):
        out.update(
            conn.execute(
                select(xrefs.c.entity_id).where(xrefs.c.system == system, one_of(conn, xrefs.c.entity_id, chunk))
            ).scalars()
        )
    return out


def _other_sources(conn: Connection, system: str, entity_ids: list[str]) -> dict[str, set[str]]:
    """The other systems whose versions an entity holds (a destination's xref is not a source)."""
    out: dict[str, set[str]] = {}
    for chunk in chunks(entity_ids):
        for entity_id, source in conn.execute(
            select(entity_versions.c.entity_id, entity_versions.c.source_system)
            .where(one_of(conn, entity_versions.c.entity_id, chunk), entity_versions.c.source_system != system)
            .distinct()
        ):
            out.setdefault(entity_id, set()).add(source)
    return out


def _current_bodies(conn: Connection, entity_ids: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for chunk in chunks(entity_ids):
        stmt = (
            select(entity_versions.c.entity_id, entity_versions.c.payload)
            .select_from(
                entity_versions.join(
                    entities,
                    and_(
                        entities.c.entity_id == entity_versions.c.entity_id,
                        entities.c.current_version == entity_versions.c.version,
                    ),
                )
            )
            .where(one_of(conn, entity_versions.c.entity_id, chunk))
        )
        if conn.dialect.name == "postgresql":
            # Two processes merging into the same entity must each see the other's result.
            stmt = stmt.with_for_update(of=entities)
        for entity_id, payload in conn.execute(stmt):
            out[entity_id] = loads(payload)
    return out


def store_keys(
    conn: Connection,
    rules: IdentityRules,
    incoming: Sequence[IncomingEntity],
    outcomes: Sequence[EntityOutcome],
    keys: MatchKeys | None = None,
) -> None:
    """Replace the match keys of every changed entity by those of the version just stored."""
    bodies = {(e.entity_type, e.external_id): e.payload for e in incoming}
    keys_of = keys or MatchKeys(rules)
    changed = {
        out.entity_id: keys_of.of(out.entity_type, bodies[(out.entity_type, out.external_id)])
        for out in outcomes
        if out.changed and rules.applies_to(out.entity_type) and (out.entity_type, out.external_id) in bodies
    }
    if not changed:
        return
    # An entity whose newest version in this batch is its first was created by it and has no keys yet.
    newest: dict[str, int] = {}
    for out in outcomes:
        if out.entity_id in changed:
            newest[out.entity_id] = max(out.version, newest.get(out.entity_id, 0))
    for chunk in chunks([entity_id for entity_id in changed if newest[entity_id] > 1]):
        conn.execute(delete(identity_keys).where(one_of(conn, identity_keys.c.entity_id, chunk)))
    rows = [
        {"key": name, "value": value, "entity_id": entity_id}
        for entity_id, keys in changed.items()
        for name, value in keys.items()
    ]
    insert_rows(conn, identity_keys, rows)


def conflicts_of(conn: Connection, entity_id: str, limit: int = MAX_CONFLICTS_SHOWN) -> list[ConflictView]:
    rows = conn.execute(
        select(entity_conflicts)
        .where(entity_conflicts.c.entity_id == entity_id)
        .order_by(entity_conflicts.c.conflict_id.desc())
        .limit(limit)
    ).mappings()
    return [
        ConflictView(
            field=r["field"],
            system=r["system"],
            offered=loads(r["offered_json"]),
            kept_by=r["kept_by"],
            kept=loads(r["kept_json"]),
            message_id=r["message_id"],
            at=r["at"],
        )
        for r in rows
    ]
