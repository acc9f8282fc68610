"""Plugin health, checked in the background and cached, so that /readyz and /metrics never wait on
every agency system at once. The scheduler refreshes it; without a scheduler, a reader that finds it
stale starts one refresh in the background (at most one runs at a time)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import structlog

from core.contract import await_me_maybe
from core.errors import scrub_secrets

log = structlog.get_logger("prasan.health")


@dataclass(frozen=True)
class PluginStatus:
    system: str
    ok: bool
    detail: str
    checked_at: float  # Unix time


class PluginHealth:
    def __init__(self, hub: Any, max_age_s: float = 30.0, timeout_s: float = 5.0) -> None:
        self.hub = hub
        self.max_age_s = max_age_s
        self.timeout_s = timeout_s
        self.statuses: dict[str, PluginStatus] = {}
        self._refreshed_at: float | None = None
        self._running: asyncio.Task[None] | None = None

    @property
    def stale(self) -> bool:
        return self._refreshed_at is None or time.monotonic() - self._refreshed_at > self.max_age_s

    async def refresh(self) -> dict[str, PluginStatus]:
        """Check every plugin concurrently, each within `timeout_s`."""
        names = self.hub.registry.names()
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
        problems = self.hub.systems.problems.get(system)
        if problems:
            detail = "not configured: " + "; ".join(str(p) for p in problems)
            return PluginStatus(system, False, detail, time.time())
        try:
            http = self.hub.http
            if http is None or http.closed:
                return PluginStatus(system, False, "hub not started", time.time())
            plugin = self.hub.systems.get(system)
            health = await asyncio.wait_for(await_me_maybe(plugin.healthcheck()), timeout=self.timeout_s)
            return PluginStatus(system, bool(health.ok), scrub_secrets(health.detail or ""), time.time())
        except TimeoutError:
            return PluginStatus(system, False, f"health check timed out after {self.timeout_s}s", time.time())
        except Exception as exc:  # a check must never raise (the contract says so), nor may a broken plugin
            return PluginStatus(system, False, scrub_secrets(f"{type(exc).__name__}: {exc}"), time.time())


async def readiness(hub: Any, wait_for_first_check_s: float = 2.0) -> tuple[bool, dict[str, Any]]:
    """What /readyz answers: ready when the database is reachable and migrated, the scheduler runs
    (if enabled) and delivery workers exist. Plugin health is summarised but does not make the hub
    unready: with a system down the hub still accepts and queues, which is what it is for."""
    checks: dict[str, Any] = {}
    try:
        current = await asyncio.to_thread(hub.store.current_revision)
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["migrations"] = "unknown"
    else:
        checks["database"] = "ok"
        head = hub.store.head_revision()
        checks["migrations"] = "ok" if current == head else f"at {current}, expected {head}"
    if not hub.runs_scheduler:
        checks["scheduler"] = "ok"  # disabled on purpose in this process (another one leads)
    else:
        checks["scheduler"] = "ok" if hub.scheduler_running else "stopped"
    if hub.runs_workers:
        # Workers run per configured destination; with none configured there is nothing to deliver to.
        destinations = [name for name in hub.systems.names() if hub.systems.get(name).writes]
        checks["workers"] = "ok" if hub.workers or not destinations else "none"
    ready = all(value == "ok" for value in checks.values())

    cache: PluginHealth = hub.plugin_health
    running = cache.refresh_soon()
    if running is not None and not cache.statuses:
        # The very first check: worth a short wait rather than answering "unknown".
        await asyncio.wait({running}, timeout=wait_for_first_check_s)
    statuses = cache.statuses
    plugins: dict[str, Any] = {
        name: {"ok": s.ok, "detail": s.detail, "checked_at": s.checked_at} for name, s in sorted(statuses.items())
    }
    if not statuses:
        summary = "unknown"
    else:
        summary = "ok" if all(s.ok for s in statuses.values()) else "degraded"
    checks["plugins"] = {"status": summary, "systems": plugins}
    failures = hub.registry.failures
    if failures:
        # A plugin that could not be loaded leaves the rest of the hub running, but must not go unseen.
        checks["plugins"]["status"] = "degraded"
        checks["plugins"]["failed"] = {f.plugin: f"{f.stage}: {f.error}" for f in failures}
    held = {w.destination: w.held_reason for w in hub.workers if w.held}
    unconfigured = hub.unconfigured_destinations()
    if held or unconfigured:
        checks["plugins"]["status"] = "degraded"
        checks["plugins"]["held_destinations"] = {
            **{name: "; ".join(problems) for name, problems in unconfigured.items()},
            **{name: reason or "held" for name, reason in held.items()},
        }
    return ready, checks
