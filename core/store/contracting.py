"""Contracting processes in SQL: the e-GP procurements of an organisation, or one by its e-GP number, each
with its contracts and the plan project it is linked to (with that plan's chain), as core/ocds.py reads
them.

Everything takes the caller's connection and runs inside its transaction; nothing commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, select

from core.ocds import Process
from core.store.ledger import member
from core.store.links import chains
from core.store.query import Listing
from core.store.schema import entities, entity_links, xrefs
from core.store.util import chunks

PROCUREMENT = "procurement"
EGP = "egp"


def procurement_ids(conn: Connection, org_code: str, fiscal_year: int | None, limit: int, offset: int) -> list[str]:
    """An organisation's procurements that have an e-GP project number (only those have an ocid), by that
    number."""
    numbered = entities.join(xrefs, and_(xrefs.c.entity_id == entities.c.entity_id, xrefs.c.system == EGP))
    of_org = select(entities.c.entity_id).select_from(numbered).where(
        entities.c.entity_type == PROCUREMENT, entities.c.org_code == org_code
    )
    listing = (
        Listing(of_org)
        .equal(entities.c.fiscal_year, fiscal_year)
        .page((xrefs.c.external_id, entities.c.entity_id), limit, offset)
    )
    return [row.entity_id for row in listing.fetch(conn)]


def procurement_id(conn: Connection, egp_project_number: str) -> str | None:
    return conn.execute(
        select(xrefs.c.entity_id).where(
            xrefs.c.system == EGP, xrefs.c.entity_type == PROCUREMENT, xrefs.c.external_id == egp_project_number
        )
    ).scalar()


def _plans_of(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """The plan project each procurement is linked to (the first by id if an operator linked several)."""
    out: dict[str, str] = {}
    for chunk in chunks(list(ids)):
        for from_id, to_id in conn.execute(
            select(entity_links.c.from_id, entity_links.c.to_id)
            .where(entity_links.c.from_id.in_(chunk), entity_links.c.to_type == "plan_project", entity_links.c.removed_at.is_(None))
            .order_by(entity_links.c.from_id, entity_links.c.to_id)
        ):
            out.setdefault(from_id, to_id)
    return out


def _changed(conn: Connection, ids: Sequence[str]) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for chunk in chunks(list(ids)):
        out.update(conn.execute(select(entities.c.entity_id, entities.c.updated_at).where(entities.c.entity_id.in_(chunk))).all())
    return out


def processes(conn: Connection, ids: Sequence[str]) -> list[Process]:
    """The processes of these procurements, in the order given (the buyer is the caller's to add)."""
    found = chains(conn, ids)
    plan_ids = _plans_of(conn, list(found))
    plans = chains(conn, sorted(set(plan_ids.values())))
    every = [i for c in (*found.values(), *plans.values()) for i in (c.root.entity_id, *(m.entity_id for m in c.members))]
    changed = _changed(conn, sorted(set(every)))
    out = []
    for wanted in ids:
        if wanted not in found:
            continue
        own = found[wanted]
        contracts = [n for n in own.members if n.entity_type == "contract"]
        plan = plans.get(plan_ids.get(wanted, ""))
        records = [own.root, *contracts, *((plan.root, *plan.members) if plan else ())]
        out.append(
            Process(
                procurement=member(own.root),
                contracts=[member(n) for n in contracts],
                buyer=None,
                changed_at=max(changed[n.entity_id] for n in records if n.entity_id in changed),
                plan=member(plan.root) if plan else None,
                plan_members=[member(n) for n in plan.members] if plan else (),
            )
        )
    return out
