"""The area ledger in SQL: which plan projects a change touches, their rows (core/ledger.py) rewritten in the
same transaction, and the area queries that read them.

Everything takes the caller's connection and runs inside its transaction; nothing commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Connection, and_, case, delete, distinct, func, select, type_coerce

from core import expense_categories, ledger, reconciliation
from core.reconciliation import ReconciliationRules
from core.store.bulk import insert_rows
from core.store.links import CHAIN_DEPTH, Chain, ChainNode, chains
from core.store.query import Listing
from core.store.records import EntityOutcome, IncomingEntity
from core.store.schema import (
    UTCDateTime,
    entities,
    entity_links,
    entity_versions,
    ledger_categories,
    ledger_pending,
    ledger_projects,
    outbox,
    unlinked_records,
)
from core.store.util import among, chunks, loads, one_of, unique

log = structlog.get_logger("prasan.ledger")
OrgLookup = Callable[[str], Mapping[str, Any] | None]
PLAN = "plan_project"
# Records whose change can move a project's figures: the project itself and what links to it.
LEDGER_TYPES = frozenset({PLAN, "budget_line", "budget_request", "procurement", "contract", "disbursement"})
# Systems whose delivery of a plan project is a stage of it (core/ledger.py).
STAGE_SYSTEMS = (ledger.BUDGETED_BY_DELIVERY, ledger.REQUESTED_BY_DELIVERY)
# Area levels and the column each is read by.
LEVELS = {"province": "province_code", "district": "district_code", "organisation": "org_code"}
# What totals can be grouped by: an area level, the organisation type, or the local classification.
GROUPS = {**LEVELS, "org_type": "org_type", "programme": "programme"}
# What the totals by งบ (ledger_categories) can be grouped by: the local งบ or the national งบรายจ่าย LV1.
CATEGORY_GROUPS = {"local_expense_category": "local_category", "national_expense_category": "national_category"}


def member(node: ChainNode, sources: Mapping[str, str] | None = None) -> ledger.Member:
    return ledger.Member(
        node.entity_id, node.entity_type, node.payload, {x["system"]: x["external_id"] for x in node.xrefs},
        node.deliveries, tuple(link.to_id for link in node.links), (sources or {}).get(node.entity_id),
    )


# No project-year of any Thai organisation comes near ten trillion baht (the whole national budget is
# about 3.5 trillion); an amount past it is left out of the ledger rather than overflow its sums.
LEDGER_MAX_BAHT = Decimal(10) ** 13


class ImplausibleAmount(ValueError):
    pass


def to_satang(amount: Decimal) -> int:
    """Baht to whole satang, for the ledger's integer columns (exact sums on SQLite and PostgreSQL alike)."""
    if not amount:
        return 0  # most of a project's amounts (every stage it has not reached): spared the arithmetic
    if abs(amount) >= LEDGER_MAX_BAHT:
        raise ImplausibleAmount(f"{amount} baht is past the ledger's bound of {LEDGER_MAX_BAHT:,} baht")
    return int((amount * 100).to_integral_value())


def from_satang(value: Any) -> Decimal:
    return (Decimal(int(value or 0)) / 100).quantize(ledger.ZERO)


def roots_of(conn: Connection, entity_ids: Iterable[str]) -> list[str]:
    """The plan projects these records are, or belong to (up to CHAIN_DEPTH links away)."""
    frontier = unique(entity_ids)
    roots: list[str] = []
    seen = set(frontier)
    types = _types(conn, frontier)
    roots += [i for i in frontier if types.get(i) == PLAN]
    frontier = [i for i in frontier if types.get(i) != PLAN]
    for _ in range(CHAIN_DEPTH):
        if not frontier:
            break
        found: list[str] = []
        for chunk in chunks(frontier):
            for to_id, to_type in conn.execute(
                select(entity_links.c.to_id, entity_links.c.to_type).where(
                    one_of(conn, entity_links.c.from_id, chunk), entity_links.c.removed_at.is_(None)
                )
            ):
                if to_id in seen:
                    continue
                seen.add(to_id)
                (roots if to_type == PLAN else found).append(to_id)
        frontier = found
    return unique(roots)


def _types(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in chunks(list(ids)):
        query = select(entities.c.entity_id, entities.c.entity_type).where(one_of(conn, entities.c.entity_id, chunk))
        out.update(conn.execute(query).all())
    return out


def project(
    conn: Connection,
    root_ids: Sequence[str],
    areas: OrgLookup,
    now: datetime,
    rules: ReconciliationRules | None = None,
    categorise: ledger.Categorise | None = None,
    in_hand: Mapping[str, ChainNode] | None = None,
    sent: Mapping[str, list[dict[str, Any]]] | None = None,
    current: Mapping[str, ChainNode] | None = None,
) -> int:
    """Rewrite the ledger rows of these plan projects, and their split by งบ (with `categorise`), from their
    chains; returns the ledger rows written.

    `in_hand`: plan projects the caller has just created, as nodes built from the bodies it holds (see
    `new_plans`); those nothing links to yet are projected from them without reading anything back.
    `sent`: the deliveries the ledger counts of every root, as the caller has just read them (see
    `delivered_plan_projects`), not read again for the roots nothing links to.
    `current`: stored plan projects as nodes of their current version, built from a body the caller holds
    (see `delivered_plan_projects`); those nothing links to are projected from them instead of read back
    (their rows are rewritten all the same)."""
    roots = unique(root_ids)
    if not roots:
        return 0
    linked = _linked(conn, roots)
    fresh = [r for r in roots if r not in linked and in_hand and r in in_hand]
    stored = [r for r in roots if r not in fresh]  # a new entity has no ledger rows to delete
    for chunk in chunks(stored):
        conn.execute(delete(ledger_projects).where(among(conn, ledger_projects.c.entity_id, chunk)))
        conn.execute(delete(ledger_categories).where(among(conn, ledger_categories.c.entity_id, chunk)))
    judge = rules or ReconciliationRules()
    found = [Chain(in_hand[r], [], False) for r in fresh] if in_hand else []
    lone = [r for r in stored if r not in linked]
    found += [Chain(current[r], [], False) for r in lone if current and r in current]
    found += _lone_plans(conn, [r for r in lone if not (current and r in current)], sent).values()
    for chunk in chunks([r for r in stored if r in linked]):
        found += chains(conn, chunk).values()
    rows: list[dict[str, Any]] = []
    split: list[dict[str, Any]] = []
    for chain_ in found:
        if chain_.root.entity_type == PLAN:
            project_rows, category_rows = _rows(chain_, areas, now, judge, categorise)
            rows += project_rows
            split += category_rows
    insert_rows(conn, ledger_projects, rows)
    insert_rows(conn, ledger_categories, split)
    return len(rows)


def _linked(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Which of these records something links to (their chain is more than themselves)."""
    out: set[str] = set()
    for chunk in chunks(list(ids)):
        out.update(
            conn.execute(
                select(entity_links.c.to_id).where(among(conn, entity_links.c.to_id, chunk), entity_links.c.removed_at.is_(None))
            ).scalars().all()
        )
    return out


def _lone_plans(
    conn: Connection, ids: Sequence[str], known: Mapping[str, list[dict[str, Any]]] | None = None
) -> dict[str, Chain]:
    """The chains of plan projects nothing links to: their current body and the deliveries the ledger counts
    (core/ledger.py reads only delivered rows to the systems whose delivery is a stage), in two reads
    instead of the whole chain's five (`chains` also reads every cross-reference and outbox row); in one
    when the caller has read the deliveries (`known`)."""
    found: dict[str, Chain] = {}
    for chunk in chunks(list(ids)):
        sent = known if known is not None else _stage_deliveries(conn, chunk)
        for row in conn.execute(
            select(entities.c.entity_id, entities.c.entity_type, entities.c.current_version, entities.c.org_code,
                   entities.c.fiscal_year, entity_versions.c.payload)
            .select_from(entities.join(entity_versions, and_(entity_versions.c.entity_id == entities.c.entity_id,
                                                             entity_versions.c.version == entities.c.current_version)))
            .where(one_of(conn, entities.c.entity_id, chunk), entities.c.entity_type == PLAN)
        ):  # fmt: skip
            node = ChainNode(row.entity_id, row.entity_type, row.current_version, row.org_code, row.fiscal_year,
                             loads(row.payload), [], sent.get(row.entity_id, []), [])  # fmt: skip
            found[row.entity_id] = Chain(node, [], False)
    return found


def new_plans(system: str, incoming: Sequence[IncomingEntity], outcomes: Sequence[EntityOutcome]) -> dict[str, ChainNode]:
    """The plan projects an ingest batch created (version 1 and no later version in the same batch), as chain
    roots built from the bodies in hand: a new entity has no delivery and no other system's id yet."""
    bodies = {(e.entity_type, e.external_id): e for e in incoming}
    later = {o.entity_id for o in outcomes if o.changed and o.version > 1}
    nodes: dict[str, ChainNode] = {}
    for out in outcomes:
        if not out.changed or out.version != 1 or out.entity_type != PLAN or out.entity_id in later:
            continue
        ent = bodies.get((out.entity_type, out.external_id))
        if ent is not None:
            xref = [{"system": system, "external_id": out.external_id}]
            nodes[out.entity_id] = ChainNode(out.entity_id, PLAN, 1, ent.org_code, ent.fiscal_year, ent.payload, xref, [], [])
    return nodes


def sent_to_stage_systems(plans: Mapping[str, ChainNode], outcomes: Sequence[EntityOutcome]) -> set[str]:
    """Of the plan projects a batch created (`new_plans`), those it also queued for e-LAAS or e-budgeting."""
    return {o.entity_id for o in outcomes if o.entity_id in plans and any(d in STAGE_SYSTEMS for d in o.destinations)}


def wait_for_delivery(conn: Connection, entity_ids: Sequence[str], now: datetime) -> None:
    """Leave these new plan projects' ledger rows to their first delivery to a stage system (decision 0017)."""
    insert_rows(conn, ledger_pending, [{"entity_id": entity_id, "marked_at": now} for entity_id in entity_ids])


def stop_waiting(conn: Connection, entity_ids: Sequence[str]) -> None:
    """These projects are being projected: first, so that on PostgreSQL a catch-up holding one of them is
    waited for instead of writing the same ledger rows at the same time."""
    for chunk in chunks(list(entity_ids)):
        conn.execute(delete(ledger_pending).where(one_of(conn, ledger_pending.c.entity_id, chunk)))


def still_waiting(conn: Connection, marked_before: datetime, limit: int) -> list[str]:
    """Up to `limit` projects marked before `marked_before`, oldest first; on PostgreSQL locked, skipping
    those another transaction holds (a delivery projecting them now)."""
    query = (
        select(ledger_pending.c.entity_id)
        .where(ledger_pending.c.marked_at < marked_before)
        .order_by(ledger_pending.c.marked_at, ledger_pending.c.entity_id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(conn.execute(query).scalars())


def _rows(
    found: Chain, areas: OrgLookup, now: datetime, rules: ReconciliationRules, categorise: ledger.Categorise | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    root = found.root
    plan = member(root)
    org_code = root.org_code or ""
    area = areas(org_code) or {}
    title = str(plan.payload.get("title") or "")
    programme = (plan.payload.get("links") or {}).get("local_programme")
    years = ledger.project_years(plan, [member(m) for m in found.members], categorise)
    try:
        satang = [_satang(year.amounts) for year in years]
        split = [{category: _satang(amounts) for category, amounts in year.by_category.items()} for year in years]
    except ImplausibleAmount as exc:
        log.warning("ledger_amount_implausible", entity_id=root.entity_id, reason=str(exc))
        return [], []
    where = {"org_code": org_code, "org_type": area.get("org_type"), "province_code": area.get("province_code"),
             "district_code": area.get("district_code")}  # fmt: skip
    programme = str(programme)[:200] if programme else None
    project_rows, category_rows = [], []
    for year, amounts, by_category in zip(years, satang, split, strict=True):
        common = {"entity_id": root.entity_id, "fiscal_year": year.fiscal_year, **where, "stage": year.stage,
                  "flags": rules.flags_of(year)}  # fmt: skip
        project_rows.append({**common, "title": title, "programme": programme, **amounts, "updated_at": now})
        for (local, national), category_amounts in by_category.items():
            category_rows.append({**common, "local_category": local, "national_category": national, **category_amounts})
    return project_rows, category_rows


def _satang(amounts: Mapping[str, Decimal]) -> dict[str, int]:
    # Most amounts of a project are zero (every stage it has not reached): not even a call for those.
    return {name: to_satang(amount) if amount else 0 for name, amount in amounts.items()}


def _stage_deliveries(conn: Connection, entity_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Per record, its delivered rows to the systems whose delivery is a stage of a plan project."""
    sent: dict[str, list[dict[str, Any]]] = {}
    # By entity alone, filtered here (see delivered_plan_projects).
    for entity_id, destination, version, state, delivered_at in conn.execute(
        select(outbox.c.entity_id, outbox.c.destination, outbox.c.version, outbox.c.state, outbox.c.delivered_at)
        .where(one_of(conn, outbox.c.entity_id, entity_ids))
    ):
        if state == "delivered" and destination in STAGE_SYSTEMS:
            sent.setdefault(entity_id, []).append(
                {"destination": destination, "version": version, "state": state, "delivered_at": delivered_at}
            )
    return sent


def delivered_plan_projects(
    conn: Connection, outbox_ids: Sequence[int], bodies: Mapping[int, dict[str, Any]] | None = None
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, ChainNode]]:
    """Plan projects whose first delivery to a system that makes it a stage (e-LAAS, e-budgeting) just
    succeeded, each with its delivered rows to those systems (read anyway: `project` takes them as `sent`);
    and of those, the ones whose delivered body (`bodies`, by outbox id, as the worker claimed it) is still
    their current version, as chain roots built from it (`project` takes them as `current`). A later version
    delivered there changes no figure (core/ledger.py asks only whether the project was delivered there), so
    its rows are left as they are."""
    just: dict[tuple[str, str], set[int]] = {}
    held: dict[str, tuple[int, str | None, int | None, dict[str, Any]]] = {}
    # Every outbox row of those entities, by id, in the same statement: to tell a first delivery from a later
    # one and to count the deliveries (an entity delivered to two stage systems in one batch comes twice).
    theirs: dict[int, tuple[str, str, int, str, datetime | None]] = {}
    delivered = outbox.alias("delivered")
    for chunk in chunks(list(outbox_ids)):
        # `one_of`, not `among`: SQLite cannot size a json_each list and would read every row of the
        # stage systems through (destination, state) instead of these rows by id.
        # The other rows by entity alone, judged here: a condition on their state or destination could lead a
        # planner to the index of every delivered row instead of the handful of rows of these entities.
        for (outbox_id, destination, version, current_version, org_code, fiscal_year,
             other_id, entity_id, other_destination, other_version, state, delivered_at) in conn.execute(
            select(delivered.c.id, delivered.c.destination, delivered.c.version, entities.c.current_version,
                   entities.c.org_code, entities.c.fiscal_year, outbox.c.id, outbox.c.entity_id, outbox.c.destination,
                   outbox.c.version, outbox.c.state, outbox.c.delivered_at)
            .select_from(delivered.join(entities, entities.c.entity_id == delivered.c.entity_id)
                         .join(outbox, outbox.c.entity_id == delivered.c.entity_id))
            .where(one_of(conn, delivered.c.id, chunk), delivered.c.entity_type == PLAN,
                   delivered.c.destination.in_(STAGE_SYSTEMS))
        ).all():  # fmt: skip
            just.setdefault((entity_id, destination), set()).add(outbox_id)
            body = bodies.get(outbox_id) if bodies else None
            # A body of an older version than the current one is not what the ledger counts: that one is read.
            if body is not None and version == current_version:
                held[entity_id] = (version, org_code, fiscal_year, body)
            theirs[other_id] = (entity_id, other_destination, other_version, state, delivered_at)
    before: set[tuple[str, str]] = set()
    sent: dict[str, list[dict[str, Any]]] = {}
    for outbox_id, (entity_id, destination, version, state, delivered_at) in theirs.items():
        if state != "delivered":
            continue
        if outbox_id not in just.get((entity_id, destination), ()):
            before.add((entity_id, destination))
        if destination in STAGE_SYSTEMS:
            sent.setdefault(entity_id, []).append(
                {"destination": destination, "version": version, "state": state, "delivered_at": delivered_at}
            )
    firsts = unique(entity_id for entity_id, destination in just if (entity_id, destination) not in before)
    current: dict[str, ChainNode] = {}
    for entity_id in firsts:
        if entity_id in held:
            version, org_code, fiscal_year, body = held[entity_id]
            current[entity_id] = ChainNode(entity_id, PLAN, version, org_code, fiscal_year, body, [], sent.get(entity_id, []), [])
    return {entity_id: sent.get(entity_id, []) for entity_id in firsts}, current


def rebuild_page(
    conn: Connection, areas: OrgLookup, rules: ReconciliationRules, now: datetime, after: str | None, page_size: int,
    categorise: ledger.Categorise | None = None,
) -> tuple[str, int] | None:
    """Project one page of plan projects (by id); returns the last id and how many, None when there were none."""
    plans = Listing(select(entities.c.entity_id).where(entities.c.entity_type == PLAN)).page(
        (entities.c.entity_id,), page_size, after=None if after is None else (after,)
    )
    ids = [row.entity_id for row in plans.fetch(conn)]
    if not ids:
        return None
    project(conn, ids, areas, now, rules, categorise)
    return ids[-1], len(ids)


# --- reading -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerProject:
    entity_id: str
    fiscal_year: int
    org_code: str
    title: str
    stage: str
    amounts: dict[str, Decimal]
    updated_at: datetime


# Project-years newest year first, then the largest plan (entity_id makes the order total).
_NEWEST_LARGEST_FIRST = (ledger_projects.c.fiscal_year.desc(), ledger_projects.c.planned.desc(), ledger_projects.c.entity_id)


def _project_view(row: Any) -> LedgerProject:
    return LedgerProject(
        row.entity_id, row.fiscal_year, row.org_code, row.title, row.stage,
        {name: from_satang(getattr(row, name)) for name in ledger.AMOUNTS}, row.updated_at,
    )  # fmt: skip


def organisation_projects(
    conn: Connection, org_code: str, fiscal_year: int | None, limit: int, offset: int
) -> list[LedgerProject]:
    listing = (
        Listing(select(ledger_projects).where(ledger_projects.c.org_code == org_code))
        .equal(ledger_projects.c.fiscal_year, fiscal_year)
        .page(_NEWEST_LARGEST_FIRST, limit, offset)
    )
    return [_project_view(row) for row in listing.fetch(conn)]


# (limit, offset) of a list of totals: by organisation or programme, a country holds tens of thousands.
Page = tuple[int, int]


@dataclass(frozen=True)
class AreaTotal:
    code: str | None
    fiscal_year: int
    projects: int
    amounts: dict[str, Decimal]
    stages: dict[str, int]
    flagged: int  # project-years a reconciliation rule flags (the date rule: its condition)
    # Totals by งบ only: why the group has no code (expense_categories.UNMAPPED or NOT_CLASSIFIED).
    without_code: str | None = None


def area_totals(
    conn: Connection, level: str, code: str | None, fiscal_year: int | None, group_by: str, org_type: str | None = None,
    page: Page | None = None,
) -> list[AreaTotal]:
    """Totals by stage amount, and projects by stage, of the area `level`=`code` (None: the whole country),
    one row per `group_by` area (a level name) and fiscal year; the (limit, offset) `page` of them."""
    group = ledger_projects.c[GROUPS[group_by]]
    columns = [group, ledger_projects.c.fiscal_year, func.count().label("projects")]
    columns += [func.sum(ledger_projects.c[name]).label(name) for name in ledger.AMOUNTS]
    columns += [func.sum(case((ledger_projects.c.stage == stage, 1), else_=0)).label(f"n_{stage}") for stage in ledger.STAGES]
    columns += [func.sum(case((ledger_projects.c.flags != 0, 1), else_=0)).label("flagged")]
    query = _of_area(select(*columns), ledger_projects, level, code, fiscal_year, org_type)
    query = query.group_by(group, ledger_projects.c.fiscal_year).order_by(ledger_projects.c.fiscal_year.desc(), group)
    return [_area_total(row, ledger.AMOUNTS) for row in conn.execute(_paged(query, page))]



def _paged(query: Any, page: Page | None) -> Any:
    return query if page is None else query.limit(page[0]).offset(page[1])


def _of_area(query: Any, table: Any, level: str, code: str | None, fiscal_year: int | None, org_type: str | None) -> Any:
    if code is not None:
        query = query.where(table.c[LEVELS[level]] == code)
    if fiscal_year is not None:
        query = query.where(table.c.fiscal_year == fiscal_year)
    if org_type is not None:
        query = query.where(table.c.org_type == org_type)
    return query


def _area_total(row: Any, amounts: Sequence[str], without_code: str | None = None) -> AreaTotal:
    return AreaTotal(
        row[0] or None, row.fiscal_year, int(row.projects),
        {name: from_satang(row._mapping[name]) for name in amounts},
        {stage: int(row._mapping[f"n_{stage}"] or 0) for stage in ledger.STAGES},
        int(row.flagged or 0), without_code,
    )  # fmt: skip


def category_totals(
    conn: Connection, level: str, code: str | None, fiscal_year: int | None, group_by: str, org_type: str | None = None,
    page: Page | None = None,
) -> list[AreaTotal]:
    """The budgeted, requested and approved totals of the area `level`=`code` (None: the whole country) by
    local งบ or national งบรายจ่าย LV1 (`group_by`) and fiscal year, with the projects, stages and flags counted
    once per project-year in a group; a group without a code says why (unmapped, unclassified)."""
    t = ledger_categories
    group = t.c[CATEGORY_GROUPS[group_by]]
    why = case((group != "", None), (t.c.local_category != "", expense_categories.UNMAPPED),
               else_=expense_categories.NOT_CLASSIFIED)  # fmt: skip
    # A project-year is a row per (local, national) pair, so a group of one scheme may hold it twice: within a
    # group (of one fiscal year) its projects are its distinct plan projects.
    project = t.c.entity_id
    columns = [group, why.label("without_code"), t.c.fiscal_year, func.count(distinct(project)).label("projects")]
    columns += [func.sum(t.c[name]).label(name) for name in ledger.CLASSIFIED_AMOUNTS]
    columns += [func.count(distinct(case((t.c.stage == stage, project)))).label(f"n_{stage}") for stage in ledger.STAGES]
    columns += [func.count(distinct(case((t.c.flags != 0, project)))).label("flagged")]
    query = _of_area(select(*columns), t, level, code, fiscal_year, org_type)
    # By the label: PostgreSQL takes the CASE written twice, with its parameters bound twice, as two expressions.
    query = query.group_by(group, "without_code", t.c.fiscal_year).order_by(t.c.fiscal_year.desc(), group, "without_code")
    return [_area_total(row, ledger.CLASSIFIED_AMOUNTS, row.without_code) for row in conn.execute(_paged(query, page))]


def first_versions(conn: Connection, entity_ids: Sequence[str]) -> dict[str, tuple[str, datetime]]:
    """Per record, the system its first version came from and when the hub stored it."""
    out: dict[str, tuple[str, datetime]] = {}
    for chunk in chunks(list(entity_ids)):
        for entity_id, source, at in conn.execute(
            select(entity_versions.c.entity_id, entity_versions.c.source_system, entity_versions.c.created_at).where(
                entity_versions.c.entity_id.in_(chunk), entity_versions.c.version == 1
            )
        ):
            out[entity_id] = (source, at)
    return out


def as_of(conn: Connection, entity_ids: Sequence[str]) -> dict[str, datetime]:
    """The latest time the hub stored a version from each system, over these records."""
    out: dict[str, datetime] = {}
    for chunk in chunks(list(entity_ids)):
        for system, at in conn.execute(
            select(entity_versions.c.source_system, type_coerce(func.max(entity_versions.c.created_at), UTCDateTime()))
            .where(entity_versions.c.entity_id.in_(chunk))
            .group_by(entity_versions.c.source_system)
        ):
            if at is not None and (system not in out or at > out[system]):
                out[system] = at
    return out



# --- reconciliation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flagged:
    rule: str
    entity_id: str
    entity_type: str
    org_code: str | None
    fiscal_year: int | None
    title: str
    amounts: dict[str, Decimal]


def _in_area(table: Any, level: str | None, code: str | None, org_codes: Sequence[str] | None) -> Any:
    """The rows of an area (None: no narrowing)."""
    if org_codes is not None:
        return table.c.org_code.in_(list(org_codes))
    if level is not None and code is not None:
        return table.c[LEVELS[level]] == code
    return None


def flagged(
    conn: Connection, *, level: str | None, code: str | None, fiscal_year: int | None, rule: str | None,
    started_through: int, limit: int, offset: int, area_orgs: Sequence[str] | None = None,
) -> list[Flagged]:
    """Flagged project-years of an area (newest year first, then largest plan), then the local budget lines
    no project owns (`area_orgs`: the organisations of the area, None: everywhere); `rule` narrows to one."""
    out: list[Flagged] = []
    wanted = reconciliation.RULES.get(rule) if rule else None
    if wanted is None or wanted.bit:
        projects = (
            Listing(select(ledger_projects).where(ledger_projects.c.flags != 0))
            .where(None if wanted is None else ledger_projects.c.flags.op("&")(wanted.bit) != 0)
            .where(_in_area(ledger_projects, level, code, None))
            .equal(ledger_projects.c.fiscal_year, fiscal_year)
            .page(_NEWEST_LARGEST_FIRST, offset + limit)
        )
        for row in projects.fetch(conn):
            view = _project_view(row)
            for name in reconciliation.names(row.flags, row.fiscal_year, started_through):
                if rule is None or name == rule:
                    out.append(Flagged(name, row.entity_id, PLAN, row.org_code, row.fiscal_year, row.title, view.amounts))
    if wanted is None or wanted is reconciliation.BUDGET_LINE_WITHOUT_PROJECT:
        local_lines = select(unlinked_records).where(
            unlinked_records.c.entity_type == "budget_line", func.length(unlinked_records.c.org_code) == 7
        )
        lines = (
            Listing(local_lines)
            .where(_in_area(unlinked_records, None, None, area_orgs))
            .equal(unlinked_records.c.fiscal_year, fiscal_year)
            .page((unlinked_records.c.entity_id,), offset + limit)
        )
        for row in lines.fetch(conn):
            out.append(Flagged(reconciliation.BUDGET_LINE_WITHOUT_PROJECT.name, row.entity_id, "budget_line", row.org_code,
                               row.fiscal_year, row.detail[:200], {}))  # fmt: skip
    return out[offset : offset + limit]


def flag_counts(conn: Connection, started_through: int) -> dict[str, int]:
    """Records each rule flags, over the flagged rows only (a partial index holds them)."""
    counts = {name: 0 for name in reconciliation.RULES}
    for bits, year, n in conn.execute(
        select(ledger_projects.c.flags, ledger_projects.c.fiscal_year, func.count())
        .where(ledger_projects.c.flags != 0)
        .group_by(ledger_projects.c.flags, ledger_projects.c.fiscal_year)
    ):
        for name in reconciliation.names(bits, year, started_through):
            counts[name] += int(n)
    counts[reconciliation.BUDGET_LINE_WITHOUT_PROJECT.name] = int(
        conn.execute(
            select(func.count()).select_from(unlinked_records).where(
                unlinked_records.c.entity_type == "budget_line", func.length(unlinked_records.c.org_code) == 7
            )
        ).scalar_one()
    )
    return counts
