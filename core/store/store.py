"""`Store`: the hub's database, as one repository per aggregate.

    store.inbox      payloads as received, rejections, answers given (and the ingest transaction)
    store.entities   versioned canonical entities and their cross-references
    store.outbox     deliveries, leases, results, dead letters, pauses
    store.access     producer clients, request signatures, admin tokens, the audit log
    store.config     pull cursors and last pulls, run-time configuration overrides
    store.links      which record belongs to which (core/linking.py), run in the ingest transaction
    store.ledger     the area read model (core/ledger.py), kept in step in the same transactions
    store.contracting  e-GP procurements with their contracts and plan, for the OCDS export (core/ocds.py)

The store never calls plugins: routing arrives as a plain callable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from core.store import gauges as _gauges
from core.store.database import Database
from core.store.engine import DEFAULT_URL
from core.store.repos.access import AccessRepository
from core.store.repos.config import ConfigRepository
from core.store.repos.contracting import ContractingRepository
from core.store.repos.entities import EntityRepository
from core.store.repos.inbox import InboxRepository
from core.store.repos.ledger import LedgerRepository
from core.store.repos.links import LinkRepository
from core.store.repos.outbox import OutboxRepository


class Store(Database):
    def __init__(self, url: str = DEFAULT_URL, *, engine: Engine | None = None, **engine_kwargs: Any) -> None:
        super().__init__(url, engine=engine, **engine_kwargs)
        self.inbox = InboxRepository(self)
        self.entities = EntityRepository(self)
        self.outbox = OutboxRepository(self)
        self.access = AccessRepository(self)
        self.config = ConfigRepository(self)
        self.links = LinkRepository(self)
        self.ledger = LedgerRepository(self)
        self.contracting = ContractingRepository(self)
        # Order matters: the ledger reads the links the rules have just made.
        self.inbox.after_ingest += [self.links.on_ingested, self.ledger.on_ingested]
        self.links.after_change.append(self.ledger.on_linked)
        self.outbox.after_complete.append(self.ledger.on_completed)

    def gauge_snapshot(self, push_systems: Sequence[str] = ()) -> _gauges.GaugeSnapshot:
        """Backlog, oldest pending row, unresolved dead letters, last pulls and the last push of each of
        `push_systems`, in one read: the figures behind the metrics span the outbox, cursors and inbox."""
        return self.read(lambda conn: _gauges.snapshot(conn, push_systems))
