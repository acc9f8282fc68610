"""The outbox repository: deliveries, their leases and results, dead letters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from core.store import audit as _audit
from core.store import outbox as _outbox
from core.store import search as _search
from core.store.database import Database
from core.store.records import (
    ClaimedDelivery,
    CompletionSummary,
    DeadLetter,
    DeliveryResult,
    DestinationStats,
    ResolveResult,
    utcnow,
)


class OutboxRepository:
    """The outbox and its dead letters: claims, results, replays, pauses."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # (route, destination) pairs paused in this process's route table; RouteService.load sets it.
        # Their deliveries are not claimed, and a retry or replay of one is held.
        self.paused: _outbox.Paused = _outbox.NOTHING_PAUSED
        # Work that must happen in the transaction that records results, called with (conn, results, now):
        # the Store adds the area ledger (a project filed at e-LAAS is budgeted).
        self.after_complete: list[Callable[[Connection, Sequence[DeliveryResult], datetime], None]] = []

    def claim_due(
        self,
        worker_id: str,
        limit: int = 500,
        now: datetime | None = None,
        lease_seconds: float = 60,
        destination: str | None = None,
    ) -> list[ClaimedDelivery]:
        """Lease up to `limit` due deliveries (of `destination` only, when given) to `worker_id`,
        lowest open version first per entity."""
        at = now or utcnow()
        paused = self.paused
        return self.db.write(
            lambda conn: _outbox.claim_due(conn, worker_id, limit, at, lease_seconds, paused, destination)
        )

    def take_back(self, owner: str, now: datetime | None = None) -> int:
        """Make the rows `owner` (this process, by its stable name) holds in flight due at once."""
        at = now or utcnow()
        return self.db.write(lambda conn: _outbox.take_back(conn, owner, at), retry=True)

    def complete(self, results: Sequence[DeliveryResult], now: datetime | None = None) -> CompletionSummary:
        """Record a batch of delivery results (Delivered, Retry, Dead) in one transaction."""
        if not results:
            return CompletionSummary()
        at = now or utcnow()
        paused = self.paused
        # Runs beside claims and pause reconciliation in every process: a PostgreSQL conflict is tried again
        # (the results re-read each row's state and attempt, so a second try records nothing twice).
        def work(conn: Connection) -> CompletionSummary:
            summary = _outbox.complete(conn, results, at, paused)
            for hook in self.after_complete:
                hook(conn, results, at)
            return summary

        return self.db.write(work, retry=True)

    def outbox_stats(self) -> list[DestinationStats]:
        return self.db.read(_outbox.outbox_stats)

    def delivery_latencies(self, destination: str | None = None) -> list[float]:
        """Seconds from receipt at the hub to acknowledgement by the destination, per delivered row."""
        return self.db.read(lambda conn: _outbox.delivery_latencies(conn, destination))

    def list_dead_letters(
        self, destination: str | None = None, unresolved_only: bool = True, limit: int = 100, offset: int = 0
    ) -> list[DeadLetter]:
        return self.db.read(
            lambda conn: _search.find_dead_letters(
                conn, destination=destination, include_resolved=not unresolved_only, limit=limit, offset=offset
            )
        )

    def get_dead_letter(self, dead_letter_id: int) -> DeadLetter | None:
        return self.db.read(lambda conn: _outbox.get_dead_letter(conn, dead_letter_id))

    def replay_dead_letter(
        self,
        dead_letter_id: int,
        note: str | None = None,
        *,
        force: bool = False,
        now: datetime | None = None,
        actor: str | None = None,
    ) -> ResolveResult:
        """Queue a dead delivery again under the same delivery key; a resolved one is left alone.

        Refuses (without `force`) when a newer version already reached that destination, or is queued,
        in flight or held for it, because the old one would then roll the destination back. A replay
        on a paused route is held until it resumes. With `actor`, a replay that happened is written to
        the audit log in the same transaction.
        """
        at = now or utcnow()
        paused = self.paused

        def work(conn: Connection) -> ResolveResult:
            result = _outbox.replay_dead_letter(conn, dead_letter_id, at, note, force, paused)
            if actor is not None and result.done:
                _audit.append(
                    conn, at, actor, "dead_letter.replay", f"dead_letter:{dead_letter_id}",
                    {"resolution": None}, {"resolution": "replayed", "delivery_key": result.delivery_key}, note,
                )
            return result

        return self.db.write(work)

    def discard_dead_letter(
        self, dead_letter_id: int, note: str | None = None, *, actor: str | None = None
    ) -> ResolveResult:
        at = utcnow()

        def work(conn: Connection) -> ResolveResult:
            result = _outbox.discard_dead_letter(conn, dead_letter_id, note, at)
            if actor is not None and result.done:
                _audit.append(
                    conn, at, actor, "dead_letter.discard", f"dead_letter:{dead_letter_id}",
                    {"resolution": None}, {"resolution": "discarded"}, note,
                )
            return result

        return self.db.write(work)

    def find_dead_letters(self, **filters: Any) -> list[DeadLetter]:
        """Dead letters by destination, entity type or id, creation time, reason text (see search)."""
        return self.db.read(lambda conn: _search.find_dead_letters(conn, **filters))

    def release_held_destination(self, destination: str, now: datetime | None = None) -> int:
        """After a configuration change: the deliveries held for the destination's configuration are due now."""
        at = now or utcnow()
        return self.db.write(lambda conn: _outbox.release_held_destination(conn, destination, at), retry=True)

    def reconcile_holds(
        self, paused: _outbox.Paused, destinations: Sequence[str], *, now: datetime | None = None
    ) -> tuple[int, int]:
        """Adopt `paused` ((route, destination) pairs) and make the outbox match it: hold the queued
        deliveries of paused pairs, release held ones of every other pair. Returns (held, released)."""
        at = now or utcnow()
        self.paused = frozenset(paused)
        pairs = self.paused
        # Every process runs this every few seconds next to claims and completions: a deadlock or
        # serialization failure on PostgreSQL is tried again rather than failing a pause or resume.
        return self.db.write(lambda conn: _outbox.reconcile_holds(conn, pairs, list(destinations), at), retry=True)
