"""The hub at run time: store, plugins, reference data, router, ingest, delivery workers, scheduler.

One object so that `prasan serve`, `prasan demo` and the tests start exactly the same thing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from core.delivery import DeliveryObserver, DeliveryWorker
from core.ingest import IngestObserver, Ingestor
from core.errors import ConfigError
from core.plugin_manager import PluginRegistry, Systems, load_plugins
from core.reference_data import load_reference_data
from core.router import Router
from core.settings import HubSettings
from core.store import Store

log = structlog.get_logger("prasan.hub")


@dataclass
class HubObserver(DeliveryObserver, IngestObserver):
    """Hook points for metrics; no-ops here. A Hub built with this default gets `core.metrics.HubMetrics`."""

    def pulled(self, system: str, entity_type: str, records: int, seconds: float = 0.0) -> None:
        return None

    def pull_failed(self, system: str, entity_type: str, seconds: float) -> None:
        return None

    def attach(self, hub: Hub) -> None:
        """Called once the hub has its store and plugins (collectors that read them register here)."""
        return None


@dataclass
class Hub:
    settings: HubSettings
    registry: PluginRegistry | None = None
    observer: HubObserver = field(default_factory=HubObserver)

    def __post_init__(self) -> None:
        if type(self.observer) is HubObserver:  # imported late: core.metrics subclasses HubObserver
            from core.metrics import HubMetrics

            self.observer = HubMetrics()
        self.registry = self.registry or load_plugins()
        self.systems: Systems = self.registry.configure(load_reference_data(), self.settings.systems)
        self.reference = self.systems.reference
        self.router = Router.from_file(self.settings.routes_file, self.reference.organizations.get)
        self.router.check_against(self.registry.systems)
        self.store = Store(self.settings.resolved_database_url)
        self.ingestor = Ingestor(self.store, self.reference, self.router, observer=self.observer)
        self.http: aiohttp.ClientSession | None = None
        self.workers: list[DeliveryWorker] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.scheduler: Any = None
        from core.admin.services import AdminServices

        self.admin = AdminServices(self)
        from core.health import PluginHealth

        self.plugin_health = PluginHealth(self)
        self.observer.attach(self)

    @property
    def runs_workers(self) -> bool:
        return self.settings.role in ("all", "worker")

    @property
    def runs_scheduler(self) -> bool:
        return self.settings.scheduler_enabled and self.settings.role in ("all", "api")

    def unconfigured_destinations(self) -> dict[str, list[str]]:
        """Destinations of enabled routes that cannot be delivered to: system -> what is wrong."""
        found: dict[str, list[str]] = {}
        for route in self.router.routes:
            for destination in route.destinations:
                if destination not in self.systems:
                    problems = self.systems.problems.get(destination) or []
                    found[destination] = [str(p) for p in problems] or [f"no plugin provides {destination!r}"]
        return found

    async def start(self, *, workers: bool | None = None, scheduler: bool | None = None) -> None:
        workers = self.runs_workers if workers is None else workers
        unconfigured = self.unconfigured_destinations()
        if unconfigured and workers and not self.settings.delivery.hold_unconfigured:
            problems = [problem for found in unconfigured.values() for problem in found]
            raise ConfigError(
                "routes deliver to systems that are not configured: " + "; ".join(problems)
                + " (configure them, or set delivery.hold_unconfigured to start and hold their deliveries)"
            )
        for destination, problems in unconfigured.items():
            log.warning("destination_held_unconfigured", system=destination, problems=problems)
        await asyncio.to_thread(self.store.upgrade)
        await asyncio.to_thread(self.admin.load)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.delivery.write_timeout_s))
        await self.systems.start(self.http)
        self._stop.clear()
        self._tasks.append(asyncio.create_task(self.admin.refresh_forever(self._stop), name="admin-refresh"))
        if workers:
            # One set of workers per destination: a slow or failing system delays only itself. A system
            # without valid settings gets none, so its deliveries wait unsent (held) until it is configured.
            for name in self.systems.names():
                system = self.systems.get(name)
                if not system.writes:
                    continue
                for _ in range(self.settings.delivery.workers):
                    worker = DeliveryWorker(
                        store=self.store, system=system, settings=self.settings.delivery, observer=self.observer
                    )
                    self.workers.append(worker)
                    self._tasks.append(asyncio.create_task(worker.run(self._stop), name=worker.worker_id))
        if scheduler if scheduler is not None else self.runs_scheduler:
            from core.scheduler import build_scheduler

            self.scheduler = build_scheduler(self)
            self.scheduler.start()
        log.info("hub_started", workers=len(self.workers), systems=self.registry.names())

    @property
    def scheduler_running(self) -> bool:
        return bool(self.scheduler and self.scheduler.running)

    async def stop(self) -> None:
        self._stop.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.workers.clear()
        await self.systems.close()
        if self.http is not None:
            await self.http.close()
        await asyncio.to_thread(self.store.dispose)
        log.info("hub_stopped")
