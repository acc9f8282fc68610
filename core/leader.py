"""Exactly one scheduler among the hub processes that share a database.

Every process that may schedule runs a `Leadership` loop: it takes (or renews) the database lease
"scheduler" every `renew_s`; the holder runs the scheduler, the others stand by. A leader that dies stops
renewing and another takes over within `ttl_s` plus one renewal; a leader that cannot renew in time (the
database went away, the process was paused) stops its scheduler before another can have started one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from core.store.availability import database_unavailable
from core.store.repos.config import ConfigRepository

log = structlog.get_logger("prasan.leader")
LEASE = "scheduler"


class Leadership:
    def __init__(
        self,
        config: ConfigRepository,
        owner: str,
        *,
        ttl_s: float = 15.0,
        renew_s: float = 5.0,
        on_gain: Callable[[], Awaitable[None] | None],
        on_lose: Callable[[], Awaitable[None] | None],
    ) -> None:
        if renew_s * 2 >= ttl_s:
            raise ValueError("renew at least twice per lease period, or a slow renewal loses the lease")
        self.config = config
        self.owner = owner
        self.ttl_s = ttl_s
        self.renew_s = renew_s
        self._on_gain = on_gain
        self._on_lose = on_lose
        self.leader = False
        self.holder: str | None = None
        self._held_since: float | None = None  # monotonic time of the last successful renewal

    async def _set(self, leader: bool) -> None:
        if leader == self.leader:
            return
        self.leader = leader
        log.info("scheduler_leadership", leader=leader, owner=self.owner, holder=self.holder)
        result = (self._on_gain if leader else self._on_lose)()
        if asyncio.iscoroutine(result):
            await result

    async def step(self) -> None:
        """One renewal: take or keep the lease, or give leadership up when it cannot be confirmed."""
        try:
            asked = time.monotonic()
            self.holder = await asyncio.to_thread(
                self.config.hold_lease, LEASE, self.owner, self.ttl_s, datetime.now(UTC)
            )
        except Exception as exc:  # the database is away: leadership cannot be confirmed
            if not database_unavailable(exc):  # an outage is logged once by the store, not every renewal
                log.warning("scheduler_lease_unreachable", error=type(exc).__name__)
            self.holder = None
        else:
            if self.holder == self.owner:
                self._held_since = asked
                await self._set(True)
                return
            await self._set(False)
            return
        # Keep running only while the last renewal is surely still valid; stop before anyone else can
        # have taken over (ttl_s after it), with a renewal period of margin.
        if self._held_since is None or time.monotonic() - self._held_since > self.ttl_s - self.renew_s:
            await self._set(False)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self.step()
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.renew_s)
                except TimeoutError:
                    pass
        finally:
            await self._set(False)
            if self.holder == self.owner:
                try:
                    await asyncio.to_thread(self.config.release_lease, LEASE, self.owner)
                except Exception:  # the lease then simply expires
                    log.warning("scheduler_lease_not_released", owner=self.owner)
