"""Links between records of different systems, in SQL: the rules of core/linking.py run against the
database, manual links and unlinks (audited), the unlinked list, and the chain below a plan project.

Everything takes the caller's connection and runs inside its transaction; nothing commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, tuple_, update

from core import linking
from core.linking import LinkRule, Subject
from core.store import audit as _audit
from core.store.bulk import insert_rows
from core.store.query import Listing
from core.store.records import EntityOutcome, IncomingEntity
from core.store.schema import (
    entities,
    entity_links,
    entity_versions,
    link_keys,
    link_wanted,
    outbox,
    unlinked_records,
    xrefs,
)
from core.store.util import chunks, dumps, loads, one_of, unique

# Candidates fetched per key: enough to tell one from several and to name a few, never a whole table.
_CANDIDATES_READ = linking.CANDIDATES_SHOWN + 1
# Records waiting for a key that one batch wakes: they are run again in the same transaction; a key
# awaited by more than this (a mass of records citing one project) is woken over several batches.
MAX_WOKEN = 5000
# The chain below one project: deep enough for plan -> procurement -> contract -> disbursement, and
# bounded in size so that a wrongly linked mass cannot make one request read the whole database.
CHAIN_DEPTH = 4
CHAIN_MAX_NODES = 2000


@dataclass(frozen=True)
class LinkView:
    from_id: str
    to_id: str
    from_type: str
    to_type: str
    rule: str
    evidence: dict[str, Any] | None
    made_by: str
    note: str | None
    at: datetime


@dataclass(frozen=True)
class UnlinkedView:
    entity_id: str
    entity_type: str
    system: str
    org_code: str | None
    fiscal_year: int | None
    reason: str
    detail: str
    evaluated_at: datetime


# --- running the rules -------------------------------------------------------------------------------


def on_ingested(
    conn: Connection,
    system: str,
    incoming: Sequence[IncomingEntity],
    outcomes: Sequence[EntityOutcome],
    now: datetime,
) -> None:
    """Link what one ingest batch changed, in its transaction: refresh the keys of the changed records,
    run the rules of those that can be linked, then again the rules of records waiting for a new key."""
    bodies = {(e.entity_type, e.external_id): e.payload for e in incoming}
    changed: dict[str, Subject] = {}
    for out in outcomes:
        if not out.changed:
            continue  # an identical repeat changes no code, so no link either
        payload = bodies.get((out.entity_type, out.external_id))
        if payload is not None:
            changed[out.entity_id] = Subject(out.entity_id, out.entity_type, payload, {system: out.external_id})
    if not changed:
        return
    # Records this batch created: nothing is stored about them yet (keys, links, unlinked rows) to replace.
    created = {out.entity_id for out in outcomes if out.changed and out.version == 1}
    subjects = _with_xrefs(conn, list(changed.values()), created)
    link_changed(conn, subjects, {s.entity_id: system for s in subjects}, now, created)


def link_changed(
    conn: Connection, subjects: Sequence[Subject], systems: dict[str, str], now: datetime, created: Set[str] = frozenset()
) -> None:
    """Refresh the keys of changed targets, judge the changed records that can be linked, then judge
    again the records that were waiting for one of the refreshed keys. `created`: records the caller's
    transaction created, with nothing stored about them to read or delete first."""
    new_keys = refresh_keys(conn, [s for s in subjects if s.entity_type in linking.TARGET_TYPES], created)
    evaluate(conn, [s for s in subjects if s.entity_type in linking.LINKED_TYPES], systems, now, created)
    woken = _waiting_for(conn, new_keys, exclude={s.entity_id for s in subjects})
    if woken:
        waiting, waiting_systems = load_subjects(conn, woken)
        evaluate(conn, waiting, waiting_systems, now)


def refresh_keys(
    conn: Connection, subjects: Sequence[Subject], created: Set[str] = frozenset()
) -> list[tuple[str, str]]:
    """Replace the stored keys of these records by those of their current version; returns the keys."""
    if not subjects:
        return []
    for chunk in chunks([s.entity_id for s in subjects if s.entity_id not in created]):
        conn.execute(delete(link_keys).where(one_of(conn, link_keys.c.entity_id, chunk)))
    rows = [
        {"key": name, "value": value, "entity_id": s.entity_id}
        for s in subjects
        for name, value in linking.target_keys(s).items()
    ]
    insert_rows(conn, link_keys, rows)
    return unique((r["key"], r["value"]) for r in rows)


def _waiting_for(conn: Connection, keys: Sequence[tuple[str, str]], exclude: set[str]) -> list[str]:
    found: list[str] = []
    for chunk in chunks(list(keys)):
        found += conn.execute(
            select(link_wanted.c.entity_id)
            .where(tuple_(link_wanted.c.key, link_wanted.c.value).in_(chunk))
            .order_by(link_wanted.c.entity_id)
            .limit(MAX_WOKEN)
        ).scalars().all()
    return [entity_id for entity_id in unique(found) if entity_id not in exclude][:MAX_WOKEN]


def _with_xrefs(conn: Connection, subjects: list[Subject], created: Set[str] = frozenset()) -> list[Subject]:
    """Add each record's ids at the other systems (a record delivered somewhere has one there too). A
    record the caller's transaction created has no id but the one it came with, already in its xrefs."""
    refs: dict[str, dict[str, str]] = {}
    for chunk in chunks([s.entity_id for s in subjects if s.entity_id not in created]):
        for entity_id, system, external_id in conn.execute(
            select(xrefs.c.entity_id, xrefs.c.system, xrefs.c.external_id).where(one_of(conn, xrefs.c.entity_id, chunk))
        ):
            refs.setdefault(entity_id, {})[system] = external_id
    return [
        Subject(s.entity_id, s.entity_type, s.payload, {**refs[s.entity_id], **s.xrefs}) if s.entity_id in refs else s
        for s in subjects
    ]


def load_subjects(conn: Connection, ids: Sequence[str]) -> tuple[list[Subject], dict[str, str]]:
    """Current bodies of stored records, and the system each current version came from."""
    subjects: list[Subject] = []
    systems: dict[str, str] = {}
    for chunk in chunks(list(ids)):
        for row in conn.execute(
            select(entities.c.entity_id, entities.c.entity_type, entity_versions.c.payload, entity_versions.c.source_system)
            .select_from(
                entities.join(
                    entity_versions,
                    (entity_versions.c.entity_id == entities.c.entity_id)
                    & (entity_versions.c.version == entities.c.current_version),
                )
            )
            .where(one_of(conn, entities.c.entity_id, chunk))
        ):
            subjects.append(Subject(row.entity_id, row.entity_type, loads(row.payload)))
            systems[row.entity_id] = row.source_system
    return _with_xrefs(conn, subjects), systems


class _Candidates:
    """The store's answer to "which records match this rule's values", read once per rule and batch."""

    def __init__(self, conn: Connection, subjects: Sequence[Subject]) -> None:
        self.found: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        wanted: dict[str, set[tuple[str, ...]]] = {}
        for subject in subjects:
            for rule in linking.rules_for(subject.entity_type):
                values = linking.values_of(subject, rule.source)
                if values is not None:
                    wanted.setdefault(rule.name, set()).add(values)
        for name, value_set in wanted.items():
            rule = linking.RULES_BY_NAME[name]
            for chunk in chunks(sorted(value_set)):
                for values, ids in self._read(conn, rule, chunk).items():
                    self.found[(name, values)] = ids

    @staticmethod
    def _read(conn: Connection, rule: LinkRule, chunk: Sequence[tuple[str, ...]]) -> dict[tuple[str, ...], list[str]]:
        out: dict[tuple[str, ...], list[str]] = {}
        if rule.target == linking.ID:
            stmt = select(entities.c.entity_id, entities.c.entity_id).where(
                entities.c.entity_id.in_([v[0] for v in chunk]), entities.c.entity_type == rule.to_type
            )
            by_text = {v[0]: v for v in chunk}
        else:
            by_text = {linking.key_text(v): v for v in chunk}
            stmt = select(link_keys.c.value, link_keys.c.entity_id).where(
                link_keys.c.key == rule.target, link_keys.c.value.in_(list(by_text))
            ).order_by(link_keys.c.value, link_keys.c.entity_id)
        for text, entity_id in conn.execute(stmt):
            ids = out.setdefault(by_text[text], [])
            if len(ids) < _CANDIDATES_READ:
                ids.append(entity_id)
        return out

    def __call__(self, rule: LinkRule, values: tuple[str, ...]) -> list[str]:
        return self.found.get((rule.name, values), [])


def evaluate(
    conn: Connection, subjects: Sequence[Subject], systems: dict[str, str], now: datetime, created: Set[str] = frozenset()
) -> None:
    """Run the rules of these records and store the outcome: the links the rules make (a link an
    operator removed is not made again), or the record as unlinked with why and what it waits for."""
    if not subjects:
        return
    candidates = _Candidates(conn, subjects)
    ids = [s.entity_id for s in subjects if s.entity_id not in created]
    existing: dict[str, list[Any]] = {}
    for chunk in chunks(ids):
        for row in conn.execute(select(entity_links).where(one_of(conn, entity_links.c.from_id, chunk))):
            existing.setdefault(row.from_id, []).append(row)
        conn.execute(delete(link_wanted).where(one_of(conn, link_wanted.c.entity_id, chunk)))
        conn.execute(delete(unlinked_records).where(one_of(conn, unlinked_records.c.entity_id, chunk)))
    new_links: list[dict[str, Any]] = []
    wanted_rows: list[dict[str, Any]] = []
    unlinked_rows: list[dict[str, Any]] = []
    for subject in subjects:
        decision = linking.decide(subject, candidates)
        rows = existing.get(subject.entity_id, [])
        removed = {r.to_id for r in rows if r.removed_at is not None}
        kept_by_rule = {r.to_id for r in rows if r.removed_at is None and r.made_by.startswith("rule:")}
        by_operator = {r.to_id for r in rows if r.removed_at is None and not r.made_by.startswith("rule:")}
        desired = {to_id: (rule, ev) for rule, to_id, ev in decision.links if to_id not in removed}
        stale = kept_by_rule - set(desired)
        if stale:
            conn.execute(
                delete(entity_links).where(entity_links.c.from_id == subject.entity_id, entity_links.c.to_id.in_(stale))
            )
        for to_id, (rule, ev) in desired.items():
            if to_id not in kept_by_rule and to_id not in by_operator:
                new_links.append(_link_row(subject.entity_id, to_id, rule.from_type, rule.to_type, rule.name, ev,
                                           f"rule:{rule.name}", None, now))
        if desired or by_operator:
            continue
        reason = linking.REMOVED if decision.links and removed else decision.reason
        detail = decision.detail() if reason != linking.REMOVED else "an operator removed the link the rules made"
        unlinked_rows.append(_unlinked_row(subject, systems.get(subject.entity_id, ""), reason, detail, now))
        wanted_rows += [
            {"entity_id": subject.entity_id, "key": key, "value": value}
            for key, value in unique(linking.wanted_keys(decision))
        ]
    insert_rows(conn, entity_links, new_links)
    insert_rows(conn, unlinked_records, unlinked_rows)
    insert_rows(conn, link_wanted, wanted_rows)


def _link_row(
    from_id: str, to_id: str, from_type: str, to_type: str, rule: str, evidence: Any, made_by: str, note: str | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "from_id": from_id, "to_id": to_id, "from_type": from_type, "to_type": to_type, "rule": rule,
        "evidence_json": None if evidence is None else dumps(evidence), "made_by": made_by[:200], "note": note,
        "at": now, "removed_at": None, "removed_by": None,
    }


def _unlinked_row(subject: Subject, system: str, reason: str, detail: str, now: datetime) -> dict[str, Any]:
    year = subject.payload.get("fiscal_year")
    return {
        "entity_id": subject.entity_id,
        "entity_type": subject.entity_type,
        "system": system,
        "org_code": subject.payload.get("org_code"),
        "fiscal_year": year if isinstance(year, int) else None,
        "reason": reason,
        "detail": detail[:4000],
        "evaluated_at": now,
    }


def relink_page(conn: Connection, now: datetime, after: str | None = None, limit: int = 1000) -> str | None:
    """Run the rules over one page of stored records (those stored before links existed, or after a
    change of the rules): keys of targets refreshed, records that can be linked judged again. Returns
    the id to pass as `after` for the next page, or None at the end."""
    linkable = select(entities.c.entity_id).where(
        entities.c.entity_type.in_(sorted(linking.LINKED_TYPES | linking.TARGET_TYPES))
    )
    page = Listing(linkable).page((entities.c.entity_id,), limit, after=None if after is None else (after,))
    ids = [row.entity_id for row in page.fetch(conn)]
    if not ids:
        return None
    subjects, systems = load_subjects(conn, ids)
    link_changed(conn, subjects, systems, now)
    return ids[-1]


# --- operators ---------------------------------------------------------------------------------------


class LinkRefused(ValueError):
    """A manual link that cannot be made (a record missing, or a record linked to itself)."""


def _types(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    return dict(conn.execute(select(entities.c.entity_id, entities.c.entity_type).where(entities.c.entity_id.in_(list(ids)))).all())


def _view(row: Any) -> LinkView:
    return LinkView(row.from_id, row.to_id, row.from_type, row.to_type, row.rule, loads(row.evidence_json),
                    row.made_by, row.note, row.at)


def _active(conn: Connection, from_id: str, to_id: str) -> Any:
    return conn.execute(
        select(entity_links).where(
            entity_links.c.from_id == from_id, entity_links.c.to_id == to_id, entity_links.c.removed_at.is_(None)
        )
    ).first()


def link(conn: Connection, from_id: str, to_id: str, actor: str, note: str | None, now: datetime) -> LinkView:
    """An operator's link, audited in the same transaction; it replaces a removed one between the same two."""
    if from_id == to_id:
        raise LinkRefused("a record cannot be linked to itself")
    types = _types(conn, (from_id, to_id))
    for entity_id in (from_id, to_id):
        if entity_id not in types:
            raise LinkRefused(f"no entity with id {entity_id!r}")
    before = _active(conn, from_id, to_id)
    made_by = f"operator:{actor}"
    row = _link_row(from_id, to_id, types[from_id], types[to_id], "operator", None, made_by, note, now)
    conn.execute(delete(entity_links).where(entity_links.c.from_id == from_id, entity_links.c.to_id == to_id))
    conn.execute(insert(entity_links).values(**row))
    conn.execute(delete(unlinked_records).where(unlinked_records.c.entity_id == from_id))
    conn.execute(delete(link_wanted).where(link_wanted.c.entity_id == from_id))
    _audit.append(
        conn, now, actor, "link.create", f"link:{from_id}->{to_id}",
        None if before is None else _audit_form(_view(before)), _audit_form(_view(_active(conn, from_id, to_id))), note,
    )
    return _view(_active(conn, from_id, to_id))


def unlink(conn: Connection, from_id: str, to_id: str, actor: str, note: str | None, now: datetime) -> LinkView | None:
    """Remove a link (None when there is none), audited; it stays as a tombstone so no rule makes it again.
    A record left with no link is listed as unlinked, removed by an operator."""
    before = _active(conn, from_id, to_id)
    if before is None:
        return None
    conn.execute(
        update(entity_links)
        .where(entity_links.c.from_id == from_id, entity_links.c.to_id == to_id)
        .values(removed_at=now, removed_by=f"operator:{actor}"[:200], note=note)
    )
    still = conn.execute(
        select(func.count()).select_from(entity_links).where(
            entity_links.c.from_id == from_id, entity_links.c.removed_at.is_(None)
        )
    ).scalar_one()
    if not still:
        subjects, systems = load_subjects(conn, [from_id])
        if subjects:
            conn.execute(delete(unlinked_records).where(unlinked_records.c.entity_id == from_id))
            detail = f"an operator removed the link to {to_id}" + (f": {note}" if note else "")
            conn.execute(insert(unlinked_records).values(
                **_unlinked_row(subjects[0], systems.get(from_id, ""), linking.REMOVED, detail, now)
            ))
    _audit.append(conn, now, actor, "link.remove", f"link:{from_id}->{to_id}", _audit_form(_view(before)), None, note)
    return _view(before)


def _audit_form(view: LinkView) -> dict[str, Any]:
    return {"from": view.from_id, "to": view.to_id, "rule": view.rule, "made_by": view.made_by,
            "evidence": view.evidence}


# --- reads -------------------------------------------------------------------------------------------


def list_unlinked(
    conn: Connection, system: str | None, entity_type: str | None, org_code: str | None, limit: int, offset: int
) -> list[UnlinkedView]:
    listing = (
        Listing(select(unlinked_records))
        .equal(unlinked_records.c.system, system)
        .equal(unlinked_records.c.entity_type, entity_type)
        .equal(unlinked_records.c.org_code, org_code)
        .page((unlinked_records.c.entity_id,), limit, offset)
    )
    return [
        UnlinkedView(r.entity_id, r.entity_type, r.system, r.org_code, r.fiscal_year, r.reason, r.detail, r.evaluated_at)
        for r in listing.fetch(conn)
    ]


def unlinked_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Unlinked records by (system, entity type): the prasan_unlinked_records gauge."""
    return {
        (system, entity_type): int(count)
        for system, entity_type, count in conn.execute(
            select(unlinked_records.c.system, unlinked_records.c.entity_type, func.count())
            .group_by(unlinked_records.c.system, unlinked_records.c.entity_type)
        )
    }


def links_of(conn: Connection, entity_id: str) -> list[LinkView]:
    """Active links from and to one record."""
    rows = conn.execute(
        select(entity_links)
        .where(
            or_(entity_links.c.from_id == entity_id, entity_links.c.to_id == entity_id),
            entity_links.c.removed_at.is_(None),
        )
        .order_by(entity_links.c.from_id, entity_links.c.to_id)
        .limit(CHAIN_MAX_NODES)
    )
    return [_view(r) for r in rows]


@dataclass(frozen=True)
class ChainNode:
    entity_id: str
    entity_type: str
    version: int
    org_code: str | None
    fiscal_year: int | None
    payload: dict[str, Any]
    xrefs: list[dict[str, str]]
    deliveries: list[dict[str, Any]]
    links: list[LinkView]  # its links to records nearer the root


@dataclass(frozen=True)
class Chain:
    root: ChainNode
    members: list[ChainNode]
    truncated: bool


def chain(conn: Connection, root_id: str) -> Chain | None:
    """The root and every record linked to it, directly or through another (a contract through its
    procurement), breadth first, at most CHAIN_DEPTH links away and CHAIN_MAX_NODES records."""
    return chains(conn, [root_id]).get(root_id)


def chains(conn: Connection, root_ids: Sequence[str]) -> dict[str, Chain]:
    """`chain` of many roots at once, in a few queries a level whatever their number (the area ledger
    projects every project an ingest batch touched). Roots that do not exist are left out."""
    roots = list(_types(conn, unique(root_ids)))
    seen = {root: {root} for root in roots}
    links_to: dict[tuple[str, str], list[LinkView]] = {}
    truncated = {root: False for root in roots}
    frontier = {root: {root} for root in roots}  # node -> the roots whose frontier it is on
    for _ in range(CHAIN_DEPTH):
        if not frontier:
            break
        next_frontier: dict[str, set[str]] = {}
        for chunk in chunks(sorted(frontier)):
            rows = conn.execute(
                select(entity_links)
                .where(entity_links.c.to_id.in_(chunk), entity_links.c.removed_at.is_(None))
                .order_by(entity_links.c.from_id, entity_links.c.to_id)
                .limit(CHAIN_MAX_NODES * len(chunk) + 1)
            ).all()
            for row in rows:
                view = _view(row)
                for root in sorted(frontier[row.to_id]):
                    members = seen[root]
                    if row.from_id in members and root not in next_frontier.get(row.from_id, ()):
                        if row.from_id != root:
                            links_to.setdefault((root, row.from_id), []).append(view)
                        continue
                    if row.from_id not in members and len(members) >= CHAIN_MAX_NODES:
                        truncated[root] = True
                        continue
                    if row.from_id not in members:
                        members.add(row.from_id)
                        next_frontier.setdefault(row.from_id, set()).add(root)
                    links_to.setdefault((root, row.from_id), []).append(view)
        frontier = next_frontier
    nodes = _nodes(conn, unique(i for members in seen.values() for i in sorted(members)))
    found = {}
    for root in roots:
        members = [
            ChainNode(**{**nodes[i].__dict__, "links": links_to.get((root, i), [])})
            for i in sorted(seen[root] - {root})
            if i in nodes
        ]
        found[root] = Chain(nodes[root], members, truncated[root])
    return found


def _nodes(conn: Connection, ids: list[str]) -> dict[str, ChainNode]:
    out: dict[str, ChainNode] = {}
    refs: dict[str, list[dict[str, str]]] = {}
    sent: dict[str, list[dict[str, Any]]] = {}
    for chunk in chunks(ids):
        for entity_id, system, external_id in conn.execute(
            select(xrefs.c.entity_id, xrefs.c.system, xrefs.c.external_id)
            .where(xrefs.c.entity_id.in_(chunk))
            .order_by(xrefs.c.entity_id, xrefs.c.system)
        ):
            refs.setdefault(entity_id, []).append({"system": system, "external_id": external_id})
        for d in conn.execute(
            select(outbox).where(outbox.c.entity_id.in_(chunk)).order_by(outbox.c.entity_id, outbox.c.destination, outbox.c.version)
        ):
            sent.setdefault(d.entity_id, []).append({
                "destination": d.destination, "version": d.version, "state": d.state, "attempts": d.attempts,
                "last_error": d.last_error, "delivery_key": d.delivery_key, "delivered_at": d.delivered_at,
            })
        for row in conn.execute(
            select(entities, entity_versions.c.payload)
            .select_from(
                entities.join(
                    entity_versions,
                    and_(entity_versions.c.entity_id == entities.c.entity_id,
                         entity_versions.c.version == entities.c.current_version),
                )
            )
            .where(entities.c.entity_id.in_(chunk))
        ):
            out[row.entity_id] = ChainNode(
                row.entity_id, row.entity_type, row.current_version, row.org_code, row.fiscal_year,
                loads(row.payload), refs.get(row.entity_id, []), sent.get(row.entity_id, []), [],
            )
    return out
