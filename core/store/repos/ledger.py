"""The ledger repository: the area read model (core/ledger.py), kept in step with entities, links and
deliveries inside their own transactions, rebuilt on demand, and read by area."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from core import ledger as _rules
from core.expense_categories import ExpenseCategories
from core.reconciliation import ReconciliationRules
from core.store import ledger as _ledger
from core.store.database import Database
from core.store.links import Chain, ChainNode, chain
from core.store.records import Acknowledged, EntityOutcome, IncomingEntity, utcnow


log = structlog.get_logger("prasan.ledger")


class LedgerRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Where an organisation is (province, district, type): the hub sets the master data's lookup.
        self.areas: _ledger.OrgLookup = lambda code: None
        # The reconciliation rules each projected row is judged by (config/reconciliation.yaml).
        self.rules = ReconciliationRules()
        # Which งบ a budget line or request is in: the hub sets the reference data's code lists and crosswalk.
        # Without them every amount is counted as unclassified.
        self.categories = ExpenseCategories()

    # --- kept in step, inside the writer's transaction ----------------------------------------------
    def on_ingested(
        self, conn: Connection, system: str, incoming: Sequence[IncomingEntity], outcomes: Sequence[EntityOutcome], now: datetime
    ) -> None:
        changed = [o.entity_id for o in outcomes if o.changed and o.entity_type in _ledger.LEDGER_TYPES]
        if changed:
            new = _ledger.new_plans(system, incoming, outcomes)
            # Their first delivery to e-LAAS or e-budgeting moves their stage and writes their rows then.
            waiting = _ledger.sent_to_stage_systems(new, outcomes)
            if waiting:
                _ledger.wait_for_delivery(conn, sorted(waiting), now)
                new = {entity_id: node for entity_id, node in new.items() if entity_id not in waiting}
            others = [i for i in changed if i not in new and i not in waiting]
            if new or others:
                roots = lambda: [*new, *_ledger.roots_of(conn, others)]  # noqa: E731
                self._project(conn, roots, now, new)

    def on_linked(self, conn: Connection, entity_ids: Sequence[str], now: datetime) -> None:
        """An operator linked or unlinked records: their projects' figures move."""
        self._project(conn, lambda: _ledger.roots_of(conn, entity_ids), now)

    def on_completed(self, conn: Connection, results: Sequence[Any], now: datetime) -> None:
        delivered = [r for r in results if isinstance(r, Acknowledged)]
        if delivered:
            bodies = {r.outbox_id: r.body for r in delivered if r.body is not None}
            sent: dict[str, list[dict[str, Any]]] = {}
            current: dict[str, ChainNode] = {}

            def firsts() -> list[str]:
                found, held = _ledger.delivered_plan_projects(conn, [r.outbox_id for r in delivered], bodies)
                sent.update(found)
                current.update(held)
                _ledger.stop_waiting(conn, list(sent))
                return list(sent)

            self._project(conn, firsts, now, sent=sent, current=current)

    def _project(
        self, conn: Connection, roots: Callable[[], list[str]], now: datetime,
        in_hand: Mapping[str, ChainNode] | None = None, sent: Mapping[str, list[dict[str, Any]]] | None = None,
        current: Mapping[str, ChainNode] | None = None,
    ) -> None:
        """Re-project inside the writer's transaction, under a savepoint: a fault in turning a chain into
        figures (a record no rule foresaw) must not refuse the ingest or the delivery results it rides on.
        The rows of those projects stay as they were, the fault is logged, and `prasan projections rebuild`
        redoes them once fixed. Database errors are the writer's to retry and go up unchanged."""
        savepoint = conn.begin_nested()
        try:
            _ledger.project(conn, roots(), self.areas, now, self.rules, self.categories, in_hand, sent, current)
        except DBAPIError:
            savepoint.rollback()
            raise
        except Exception:
            savepoint.rollback()
            log.exception("ledger_projection_failed")
        else:
            savepoint.commit()

    def catch_up(self, waited_s: float, *, page_size: int = 500) -> int:
        """Project the new plan projects that have waited `waited_s` or more for their first delivery to
        e-LAAS or e-budgeting (refused, held, or not yet made), a page per transaction; returns how many."""
        marked_before = utcnow() - timedelta(seconds=waited_s)

        def page(conn: Connection) -> int:
            ids = _ledger.still_waiting(conn, marked_before, page_size)
            if ids:
                self._project(conn, lambda: ids, utcnow())
                _ledger.stop_waiting(conn, ids)
            return len(ids)

        done = 0
        while (projected := self.db.write(page, retry=True)) > 0:
            done += projected
            if projected < page_size:
                break
        return done

    def rebuild(self, *, page_size: int = 500) -> int:
        """Project every plan project again, a page per transaction; returns the projects read."""
        after: str | None = None
        done = 0
        while True:
            page = self.db.write(lambda conn: _ledger.rebuild_page(conn, self.areas, self.rules, utcnow(), after, page_size, self.categories), retry=True)
            if page is None:
                return done
            after, read = page
            done += read

    # --- reading ------------------------------------------------------------------------------------
    def organisation_projects(
        self, org_code: str, fiscal_year: int | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[_ledger.LedgerProject]:
        return self.db.read(lambda conn: _ledger.organisation_projects(conn, org_code, fiscal_year, limit, offset))

    def area_totals(
        self, level: str, code: str | None, fiscal_year: int | None, group_by: str, org_type: str | None = None,
        page: _ledger.Page | None = None,
    ) -> list[_ledger.AreaTotal]:
        totals = _ledger.category_totals if group_by in _ledger.CATEGORY_GROUPS else _ledger.area_totals
        return self.db.read(lambda conn: totals(conn, level, code, fiscal_year, group_by, org_type, page))

    def flagged(self, **filters: Any) -> list[_ledger.Flagged]:
        started = self.rules.started_years(utcnow().date())
        return self.db.read(lambda conn: _ledger.flagged(conn, started_through=started, **filters))

    def flag_counts(self) -> dict[str, int]:
        started = self.rules.started_years(utcnow().date())
        return self.db.read(lambda conn: _ledger.flag_counts(conn, started))

    def project_story(self, entity_id: str) -> tuple[Chain, list[_rules.YearRow], list[_rules.Step], dict[str, datetime]] | None:
        """One plan project: its chain, its rows by year, its timeline and the time of the latest record from
        each system (None when there is no such plan project)."""

        def work(conn: Connection) -> Any:
            found = chain(conn, entity_id)
            if found is None or found.root.entity_type != _ledger.PLAN:
                return None
            ids = [entity_id, *(m.entity_id for m in found.members)]
            first = _ledger.first_versions(conn, ids)
            sources = {i: source for i, (source, _) in first.items()}
            plan = _ledger.member(found.root, sources)
            members = [_ledger.member(m, sources) for m in found.members]
            created = first[entity_id][1] if entity_id in first else None
            as_of = _ledger.as_of(conn, ids)
            return found, _rules.project_years(plan, members), _rules.timeline(plan, members, created), as_of

        return self.db.read(work)
