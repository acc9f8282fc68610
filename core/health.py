"""Plugin health, checked in the background and cached, so that /readyz and /metrics never wait on
every agency system at once. The scheduler refreshes it; without a scheduler, a reader that finds it
stale starts one refresh in the background (at most one runs at a time)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from collections.abc import Callable

import aiohttp

import structlog

from core.contract import await_me_maybe
from core.errors import scrub_secrets
from core.plugin_manager import Systems

log = structlog.get_logger("prasan.health")


@dataclass(frozen=True)
class PluginStatus:
    system: str
    ok: bool
    detail: str
    checked_at: float  # Unix time


class PluginHealth:
    def __init__(
        self,
        systems: Systems,
        http: Callable[[], aiohttp.ClientSession | None],
        max_age_s: float = 30.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.systems = systems
        self._http = http  # the hub's session once it has started
        self.max_age_s = max_age_s
        self.timeout_s = timeout_s
        self.statuses: dict[str, PluginStatus] = {}
        self._refreshed_at: float | None = None
        self._running: asyncio.Task[None] | None = None

    @property
    def running(self) -> list[asyncio.Task[None]]:
        """The background refresh in progress, if any (awaited when the hub stops)."""
        return [self._running] if self._running is not None and not self._running.done() else []

    @property
    def stale(self) -> bool:
        return self._refreshed_at is None or time.monotonic() - self._refreshed_at > self.max_age_s

    async def refresh(self) -> dict[str, PluginStatus]:
        """Check every plugin concurrently, each within `timeout_s`."""
        names = self.systems.registry.names()
        results = await asyncio.gather(*(self._check(name) for name in names))
        self.statuses = {status.system: status for status in results}
        self._refreshed_at = time.monotonic()
        return self.statuses

    def refresh_soon(self) -> asyncio.Task[None] | None:
        """Start a background refresh when the cache is stale and none is running; returns it."""
        if self._running is not None and not self._running.done():
            return self._running
        if not self.stale:
            return None

        async def run() -> None:
            try:
                await self.refresh()
            except Exception:  # a broken check must not take the hub down: the cache just stays old
                log.exception("plugin_health_refresh_failed")

        self._running = asyncio.get_running_loop().create_task(run(), name="plugin-health")
        return self._running

    async def _check(self, system: str) -> PluginStatus:
        problems = self.systems.problems.get(system)
        if problems:
            detail = "not configured: " + "; ".join(str(p) for p in problems)
            return PluginStatus(system, False, detail, time.time())
        try:
            http = self._http()
            if http is None or http.closed:
                return PluginStatus(system, False, "hub not started", time.time())
            plugin = self.systems.get(system)
            health = await asyncio.wait_for(await_me_maybe(plugin.healthcheck()), timeout=self.timeout_s)
            return PluginStatus(system, bool(health.ok), scrub_secrets(health.detail or ""), time.time())
        except TimeoutError:
            return PluginStatus(system, False, f"health check timed out after {self.timeout_s}s", time.time())
        except Exception as exc:  # a check must never raise (the contract says so), nor may a broken plugin
            return PluginStatus(system, False, scrub_secrets(f"{type(exc).__name__}: {exc}"), time.time())
