"""The hub at run time: store, plugins, reference data, router, ingest, delivery workers, scheduler.

One object, built in one place (`Hub.build`), so that `prasan serve`, `prasan demo` and the tests start
exactly the same thing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import aiohttp
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core import crashpoints
from core.admin.services import AdminServices
from core.delivery import DeliveryWorker, destination_state
from core.errors import ConfigError
from core.expense_categories import ExpenseCategories
from core.health import PluginHealth
from core.file_imports import FileImports
from core.ingest import Ingestor
from core.metrics import HubMetrics
from core.observer import HubObserver
from core.plugin_manager import PluginRegistry, Systems, load_plugins
from core.process_identity import ProcessIdentity, claim_identity
from core.leader import Leadership
from core.scheduler import PullRunner, build_scheduler, planned_pulls
from core.reference_data import load_reference_data
from core.router import Router
from core.settings import HubSettings
from core.reconciliation import ReconciliationRules
from core.record_identity import IdentityRules
from core.store import Store
from core.store.availability import database_unavailable
from core.store.engine import is_sqlite
from core.store.availability import describe as describe_database_error
from core.store.retention import PurgeResult, purge

log = structlog.get_logger("prasan.hub")


class Hub:
    """The running hub. Built by `Hub.build(settings)`, which does the loading; the constructor only
    wires what it is given, and `start()`/`stop()` do the rest of the I/O."""

    def __init__(
        self,
        settings: HubSettings,
        registry: PluginRegistry,
        systems: Systems,
        router: Router,
        store: Store,
        observer: HubObserver,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.systems = systems
        self.reference = systems.reference
        self.router = router
        self.store = store
        self.observer = observer
        self.ingestor = Ingestor(store, self.reference, router.destinations, observer=observer, settings=settings.ingest)
        self.pulls = PullRunner(store.config, systems, self.ingestor, observer)
        self.imports = FileImports(self.ingestor, settings.imports, settings.limits, settings.var_dir / "imports")
        self.admin = AdminServices(store, router, registry, settings, systems, self.reconfigure_system)
        self.ingestor.classifications = self.admin.classifications
        self.plugin_health = PluginHealth(systems, lambda: self.http)
        self.http: aiohttp.ClientSession | None = None
        self.workers: list[DeliveryWorker] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.scheduler: AsyncIOScheduler | None = None
        # This process's name in claims and leases, kept across its restarts (core/process_identity.py); set by start().
        self.identity = ""
        self._identity: ProcessIdentity | None = None
        self.draining = False  # SIGTERM received: ingest answers 503, nothing new is claimed
        self._drain_started: float | None = None  # monotonic time of the first drain()
        self.leadership: Leadership | None = None

    @classmethod
    def build(
        cls,
        settings: HubSettings,
        *,
        registry: PluginRegistry | None = None,
        observer_factory: Callable[[], HubObserver] | None = None,
    ) -> Hub:
        """The one composition root of the hub's core: plugins, reference data, routes, store, metrics."""
        registry = registry or load_plugins()
        systems = registry.configure(load_reference_data(), settings.systems, settings.limits)
        router = Router.from_file(settings.routes_file, systems.reference.organizations.get)
        try:
            router.check_against(registry.systems)
        except ConfigError as exc:
            if not registry.failures:
                raise
            # A route naming an unknown system most likely names one whose plugin did not load: say so.
            failed = "; ".join(f"{f.plugin} ({f.stage}: {f.error})" for f in registry.failures)
            raise ConfigError(f"{exc.message}; plugins that failed to load: {failed}") from exc
        url = settings.resolved_database_url
        pool = {} if is_sqlite(url) else {
            "pool_size": settings.database_pool_size, "max_overflow": settings.database_max_overflow,
            "pool_timeout": settings.database_pool_timeout_s,
        }
        identity = IdentityRules.from_file(settings.identity_file)
        identity.check_systems(registry.systems)
        store = Store(url, **pool)
        store.inbox.identity = identity
        store.ledger.areas = systems.reference.organizations.get
        store.ledger.categories = ExpenseCategories.from_reference(systems.reference.code_lists, systems.reference.crosswalks)
        store.ledger.rules = ReconciliationRules.from_file(settings.reconciliation_file)
        observer = (observer_factory or HubMetrics)()
        hub = cls(settings, registry, systems, router, store, observer)
        if isinstance(observer, HubMetrics):
            observer.attach(hub)
        return hub

    @property
    def runs_workers(self) -> bool:
        return self.settings.role in ("all", "worker")

    @property
    def runs_scheduler(self) -> bool:
        return self.settings.scheduler_enabled and self.settings.role in ("all", "scheduler")

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
        self._identity = await asyncio.to_thread(claim_identity, self.settings.var_dir, self.settings.worker_id or None)
        self.identity = self._identity.name
        self.draining, self._drain_started = False, None
        if workers:
            # Rows this process (under its previous life) held when it died: nobody is writing them.
            taken_back = await asyncio.to_thread(self.store.outbox.take_back, self.identity)
            if taken_back:
                log.warning("deliveries_taken_back", owner=self.identity, rows=taken_back)
        self.http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.delivery.write_timeout_s),
            trace_configs=crashpoints.http_trace_configs(),
        )
        await self.systems.start(self.http)
        # Deliveries handed back while a destination's configuration was refused are due again now that
        # this process starts with its (perhaps corrected) settings, not when the old hold would end.
        for name in self.systems.names():
            if self.systems.get(name).writes:
                await asyncio.to_thread(self.store.outbox.release_held_destination, name)
        self.ingestor.start()
        self._stop.clear()
        self._tasks.append(asyncio.create_task(self.admin.refresh_forever(self._stop), name="admin-refresh"))
        self._tasks.append(
            asyncio.create_task(self.ingestor.complete_unfinished_forever(self.systems, self._stop), name="ingest-resume")
        )
        if workers:
            # One set of workers per destination: a slow or failing system delays only itself. A system
            # without valid settings gets none, so its deliveries wait unsent (held) until it is configured.
            for name in self.systems.names():
                system = self.systems.get(name)
                if not system.writes:
                    continue
                for number in range(self.settings.delivery.workers):
                    worker = DeliveryWorker(
                        outbox=self.store.outbox, system=system, settings=self.settings.delivery, observer=self.observer,
                        worker_id=f"{self.identity}/{name}/{number}",
                    )
                    self.workers.append(worker)
                    self._tasks.append(asyncio.create_task(worker.run(self._stop), name=worker.worker_id))
        if scheduler if scheduler is not None else self.runs_scheduler:
            # Any number of processes may be able to schedule; the one holding the database lease does.
            self.leadership = Leadership(
                self.store.config, self.identity, on_gain=self._start_scheduler, on_lose=self._stop_scheduler
            )
            await self.leadership.step()  # a lone process leads from the start, not one renewal later
            self._tasks.append(asyncio.create_task(self.leadership.run(self._stop), name="scheduler-leadership"))
        log.info("hub_started", workers=len(self.workers), systems=self.registry.names(), identity=self.identity)

    async def readiness(self, wait_for_first_check_s: float = 2.0) -> tuple[bool, dict[str, Any]]:
        """What /readyz answers: ready when the database is reachable and migrated, the scheduler runs
        (if enabled) and delivery workers exist. Plugin health is summarised but does not make the hub
        unready: with a system down the hub still accepts and queues, which is what it is for."""
        checks: dict[str, Any] = {}
        try:
            current = await asyncio.to_thread(self.store.current_revision)
        except Exception as exc:
            checks["database"] = f"unreachable: {describe_database_error(exc)}"
            checks["migrations"] = "unknown"
        else:
            checks["database"] = "ok"
            head = self.store.head_revision()
            checks["migrations"] = "ok" if current == head else f"at {current}, expected {head}"
        if self.draining:
            checks["shutdown"] = "draining: this process is stopping; send to another or after it restarts"
        if self.leadership is None:
            checks["scheduler"] = "ok"  # not this process's job (PRASAN_ROLE, scheduler_enabled)
        elif self.leadership.leader:
            checks["scheduler"] = "ok" if self.scheduler_running else "stopped"
        else:
            checks["scheduler"] = "ok"  # standing by: another process leads
        if self.runs_workers:
            # Workers run per configured destination; with none configured there is nothing to deliver to.
            destinations = [name for name in self.systems.names() if self.systems.get(name).writes]
            checks["workers"] = "ok" if self.workers or not destinations else "none"
        ready = all(value == "ok" for value in checks.values())
        outage = self.store.status.outage
        if outage is not None:
            # Delivery, pulls and leadership wait for it; say since when, so an operator sees how long.
            checks["database_outage"] = {
                "since": datetime.fromtimestamp(outage.since, UTC).isoformat(), "failures": outage.failures,
                "last_error": outage.reason, "paused": ["delivery", "scheduling"],
            }
        if self.leadership is not None:
            checks["scheduler_leader"] = self.leadership.holder or "unknown (database unreachable)"

        cache = self.plugin_health
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
        failures = self.registry.failures
        if failures:
            # A plugin that could not be loaded leaves the rest of the hub running, but must not go unseen.
            checks["plugins"]["status"] = "degraded"
            checks["plugins"]["failed"] = {f.plugin: f"{f.stage}: {f.error}" for f in failures}
        held = {w.destination: w.held_reason for w in self.workers if w.held}
        unconfigured = self.unconfigured_destinations()
        if held or unconfigured:
            checks["plugins"]["status"] = "degraded"
            checks["plugins"]["held_destinations"] = {
                **{name: "; ".join(problems) for name, problems in unconfigured.items()},
                **{name: reason or "held" for name, reason in held.items()},
            }
        return ready, checks

    def reconfigure_system(self, name: str, raw: dict[str, Any]) -> None:
        """A system's settings changed at run time (its URL, through the admin API): the running system
        takes them, and a destination held for its configuration is tried again at once. Blocking (it
        writes to the store): called from a thread."""
        if not self.systems.reconfigure(name, raw):
            return
        destination_state(self.systems.get(name)).release_config_hold()
        released = self.store.outbox.release_held_destination(name)
        log.info("system_reconfigured", system=name, deliveries_released=released)

    def purge_expired(self) -> PurgeResult:
        """Retention by the rule of core/store/retention.py, with the configured ages. Blocking."""
        keep = self.settings.retention
        result = purge(
            self.store, datetime.now(UTC), outbox_delivered_days=keep.outbox_delivered_days,
            inbox_payload_days=keep.inbox_payload_days, batch=keep.batch_size,
        )
        self.observer.purged("outbox_rows", result.outbox_rows)
        self.observer.purged("inbox_payloads", result.inbox_payloads)
        log.info("retention_purged", outbox_rows=result.outbox_rows, inbox_payloads=result.inbox_payloads)
        return result

    def catch_up_ledger(self) -> int:
        """Project the new plan projects that waited `ledger.wait_for_delivery_s` for their first filing
        (decision 0017). Blocking."""
        projected = self.store.ledger.catch_up(self.settings.ledger.wait_for_delivery_s)
        if projected:
            log.info("ledger_caught_up", projects=projected)
        return projected

    @staticmethod
    async def _leader_job(work: Callable[[], Any], failed: str) -> None:
        """A scheduler leader's periodic `work`, in a thread. A failure is logged as `failed` and left to the
        next run; a database outage is logged once by the store instead."""
        try:
            await asyncio.to_thread(work)
        except Exception as exc:
            if not database_unavailable(exc):
                log.exception(failed)

    def _start_scheduler(self) -> None:
        self.scheduler = build_scheduler(
            self.pulls, planned_pulls(self.settings.pull_schedules, self.systems), self.plugin_health,
            retention=(
                partial(self._leader_job, self.purge_expired, "retention_failed"), self.settings.retention.interval_s
            ),
            ledger_catch_up=(
                partial(self._leader_job, self.catch_up_ledger, "ledger_catch_up_failed"),
                self.settings.ledger.catch_up_interval_s,
            ),
        )
        self.scheduler.start()

    def _stop_scheduler(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.scheduler = None

    @property
    def scheduler_running(self) -> bool:
        return bool(self.scheduler and self.scheduler.running)

    def drain(self) -> None:
        """Take no new work (the first SIGTERM): ingest answers 503, the workers claim nothing more and
        finish the rounds they hold, the scheduler stops and gives up its lease."""
        if self._drain_started is None:
            self._drain_started = time.monotonic()
        self.draining = True
        self._stop.set()

    async def stop(self, grace_s: float | None = None) -> None:
        """Drain, then close. Deliveries being written and pulls running get until `grace_s` (default
        `shutdown_grace_s`) after the drain began to finish; whatever is cut off is given back, due at
        once for any process."""
        self.drain()
        if grace_s is None:
            assert self._drain_started is not None
            grace_s = max(0.0, self.settings.shutdown_grace_s - (time.monotonic() - self._drain_started))
        deadline = asyncio.get_running_loop().time() + grace_s
        self._stop_scheduler()  # the leadership loop, stopping, also releases its lease
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if late:
                log.warning("shutdown_cut_rounds", rounds=len(late), grace_s=grace_s)
        self._tasks.clear()
        if self.workers:
            try:
                given_back = await asyncio.to_thread(self.store.outbox.take_back, self.identity)
            except Exception:  # the database is away: the leases run out, or this process's restart takes them
                log.warning("deliveries_not_given_back", owner=self.identity)
            else:
                if given_back:
                    log.info("deliveries_given_back", owner=self.identity, rows=given_back)
        # A pull or health check already running finishes (its records and cursor commit together)
        # before the systems, the session and the store it uses are closed; past the grace it is cut.
        running = [*self.pulls.running, *self.plugin_health.running]
        if running:
            _, late = await asyncio.wait(running, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self.workers.clear()
        await self.imports.stop()
        self.ingestor.stop()
        await self.systems.close()
        if self.http is not None:
            await self.http.close()
        await asyncio.to_thread(self.store.dispose)
        if self._identity is not None:
            self._identity.release()
            self._identity = None
        log.info("hub_stopped")
