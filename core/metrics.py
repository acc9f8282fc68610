"""Prometheus metrics of one hub: counters fed by the hub's observer hooks, gauges read from the database.

Each Hub owns its own `CollectorRegistry` (never the global one), so several hubs in one process, as in
the tests, do not clash.

Two kinds of series, on purpose:
- Counters and histograms (records received, deliveries, latencies, pulls, HTTP requests) count what
  *this process* did. With several hub processes Prometheus scrapes each one and `sum by (...)` adds
  them up; a restart resets them, which `rate()` and `increase()` handle.
- Gauges that describe the database (outbox backlog, oldest pending age, unresolved dead letters, last
  successful pull) are read with SQL at scrape time, so every process reports the same true figure;
  dashboards and alerts take `max by (destination)` across processes instead of summing.

No label ever holds an id (message, entity, delivery key): only systems, destinations, entity types,
outcomes, rule names, route templates and HTTP statuses, which are small fixed sets.
"""

from __future__ import annotations

import platform
import time
from collections import Counter as Tally
from collections.abc import Iterator
from datetime import datetime
from importlib import metadata
from typing import Any, Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.delivery import DeliveryWorker
from core.health import PluginHealth
from core.observer import HubObserver
from core.plugin_manager import PluginRegistry, Systems
from core.router import Router
from core.scheduler import planned_pulls
from core.settings import HubSettings
from core.store import Store
from core.store.availability import database_unavailable
from core.store.records import ClaimedDelivery, IngestOutcome
from core.store.schema import OPEN_STATES


class MetricsSource(Protocol):
    """What the metrics read of a hub at scrape time (the hub satisfies it; nothing here imports it)."""

    settings: HubSettings
    store: Store
    router: Router
    registry: PluginRegistry
    systems: Systems
    plugin_health: PluginHealth
    workers: list[DeliveryWorker]

    @property
    def scheduler_running(self) -> bool: ...

    def unconfigured_destinations(self) -> dict[str, list[str]]: ...

log = structlog.get_logger("prasan.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Writes to agency systems take from milliseconds to the 30 s write timeout.
WRITE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# From receipt to acknowledgement: sub-second when all is well, hours while a system is down.
END_TO_END_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
PULL_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def _version() -> str:
    try:
        return metadata.version("prasan")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


class HubMetrics(HubObserver):
    """The hub's observer that counts; `render()` gives the text exposition of everything."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.records_received = Counter(
            "prasan_records_received",
            "Records received, by system, entity type and outcome (changed, unchanged, rejected). Rejected "
            "rows carry the pulled entity type, or 'unknown' on the push path.",
            ["system", "entity_type", "outcome"],
            registry=r,
        )
        self.mapping_rejections = Counter(
            "prasan_mapping_rejections",
            "Problems found in received records or payloads, by system and rule.",
            ["system", "rule"],
            registry=r,
        )
        self.deliveries = Counter(
            "prasan_deliveries",
            "Delivery attempts settled, by destination, route (its name in routes.yaml), entity type and "
            "outcome (delivered, retry, exhausted, rejected, unmappable, given_back, held, down).",
            ["destination", "route", "entity_type", "outcome"],
            registry=r,
        )
        self.write_duration = Histogram(
            "prasan_delivery_duration_seconds",
            "Duration of one write call (a batch) to a destination.",
            ["destination"],
            buckets=WRITE_BUCKETS,
            registry=r,
        )
        self.end_to_end = Histogram(
            "prasan_end_to_end_latency_seconds",
            "Seconds from receipt of a record at the hub to its acknowledgement by the destination.",
            ["destination"],
            buckets=END_TO_END_BUCKETS,
            registry=r,
        )
        self.pulls = Counter(
            "prasan_pulls", "Scheduled pulls, by system and outcome (success, failure).", ["system", "outcome"], registry=r
        )
        self.pull_duration = Histogram(
            "prasan_pull_duration_seconds", "Duration of one pull, by system.", ["system"], buckets=PULL_BUCKETS, registry=r
        )
        self.records_read = Counter(
            "prasan_records_read", "Records read by pulls, by system and entity type.", ["system", "entity_type"], registry=r
        )
        self.http_requests = Counter(
            "prasan_http_requests",
            "HTTP requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "prasan_request_duration_seconds",
            "Duration of HTTP requests served, by method and route template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.retention_purged = Counter(
            "prasan_retention_purged",
            "Rows purged by retention, by kind (outbox_rows: delivered deliveries deleted; inbox_payloads: "
            "raw payloads dropped, their messages kept).",
            ["kind"],
            registry=r,
        )
        for kind in ("outbox_rows", "inbox_payloads"):
            self.retention_purged.labels(kind)
        build = Gauge("prasan_build_info", "Version of the hub and of Python; always 1.", ["version", "python"], registry=r)
        build.labels(_version(), platform.python_version()).set(1)

    # --- ingest ---------------------------------------------------------------------------------

    def on_ingested(self, system: str, outcome: IngestOutcome, entity_type: str | None = None) -> None:
        for (kind, changed), count in Tally((e.entity_type, e.changed) for e in outcome.entities).items():
            self.records_received.labels(system, kind, "changed" if changed else "unchanged").inc(count)
        rejected_rows = {r.row for r in outcome.rejected}
        if rejected_rows:
            self.records_received.labels(system, entity_type or "unknown", "rejected").inc(len(rejected_rows))
        for rule, count in Tally(r.rule for r in outcome.rejected).items():
            self.mapping_rejections.labels(system, rule).inc(count)

    def on_payload_failed(self, system: str, rule: str) -> None:
        self.mapping_rejections.labels(system, rule).inc()

    # --- delivery -------------------------------------------------------------------------------

    def on_result(self, item: ClaimedDelivery, outcome: str) -> None:
        self.deliveries.labels(item.destination, item.route or "none", item.entity_type, outcome).inc()

    def on_write(self, destination: str, items: int, seconds: float) -> None:
        self.write_duration.labels(destination).observe(seconds)

    def on_delivered(self, item: ClaimedDelivery, at: datetime) -> None:
        if item.received_at is not None:
            self.end_to_end.labels(item.destination).observe(max(0.0, (at - item.received_at).total_seconds()))

    # --- pulls ----------------------------------------------------------------------------------

    def pulled(self, system: str, entity_type: str, records: int, seconds: float = 0.0) -> None:
        self.pulls.labels(system, "success").inc()
        self.pull_duration.labels(system).observe(seconds)
        self.records_read.labels(system, entity_type).inc(records)

    def pull_failed(self, system: str, entity_type: str, seconds: float) -> None:
        self.pulls.labels(system, "failure").inc()
        self.pull_duration.labels(system).observe(seconds)

    def purged(self, kind: str, rows: int) -> None:
        self.retention_purged.labels(kind).inc(rows)

    # --- HTTP -----------------------------------------------------------------------------------

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_duration.labels(method, route).observe(seconds)

    # --- wiring ---------------------------------------------------------------------------------

    def attach(self, hub: MetricsSource) -> None:
        self.registry.register(DatabaseCollector(hub))
        self.registry.register(PluginHealthCollector(hub))
        # Series of the configured routes start at 0, so that rate() sees the very first failure of a
        # destination instead of a series that appears already at its first value.
        for route in hub.router.routes:
            for destination in route.destinations:
                for entity_type in route.entity_types:
                    for outcome in ("delivered", "retry", "exhausted", "rejected"):
                        self.deliveries.labels(destination, route.name, entity_type, outcome)

    def render(self) -> bytes:
        """The text exposition; runs SQL (the database gauges), so call it off the event loop."""
        return generate_latest(self.registry)


class DatabaseCollector(Collector):
    """Gauges computed from the database at scrape time (correct with several hub processes)."""

    def __init__(self, hub: MetricsSource) -> None:
        self.hub = hub

    def describe(self) -> list[Metric]:
        # Declared without reading the database, so registering does not run SQL.
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        families = self._families()
        (up, backlog, oldest, dead, last_pull, interval, duration, unlinked, last_push, push_interval, flagged,
         ledger_waiting, ledger_oldest) = families  # fmt: skip
        expected = self.hub.settings.push_expectations
        for system, expectation in sorted(expected.items()):
            push_interval.add_metric([system], expectation.interval_s)
        try:
            snap = self.hub.store.gauge_snapshot(sorted(set(expected) | self._push_systems()))
            flags = self.hub.store.ledger.flag_counts()
        except Exception as exc:  # an unreachable database must not fail the whole scrape
            if not database_unavailable(exc):  # an outage is logged once by the store, not every scrape
                log.warning("metrics_database_unreachable", error=type(exc).__name__)
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            now = time.time()
            configured = {d for route in self.hub.router.routes for d in route.destinations}
            destinations = sorted(set(snap.rows_by_state) | set(snap.unresolved_dead_letters) | configured)
            for destination in destinations:
                states = snap.rows_by_state.get(destination, {})
                for state in OPEN_STATES:
                    backlog.add_metric([destination, state], states.get(state, 0))
                created = snap.oldest_pending_created_at.get(destination)
                oldest.add_metric([destination], max(0.0, now - created.timestamp()) if created else 0.0)
                dead.add_metric([destination], snap.unresolved_dead_letters.get(destination, 0))
            for (system, entity_type), at in sorted(snap.last_pulled_at.items()):
                last_pull.add_metric([system, entity_type], at.timestamp())
            for (system, entity_type), count in sorted(snap.unlinked.items()):
                unlinked.add_metric([system, entity_type], count)
            for system, at in sorted(snap.last_received_at.items()):
                last_push.add_metric([system], at.timestamp())
            for rule, count in sorted(flags.items()):
                flagged.add_metric([rule], count)
            ledger_waiting.add_metric([], snap.ledger_waiting)
            waited = snap.ledger_oldest_waiting_at
            ledger_oldest.add_metric([], max(0.0, now - waited.timestamp()) if waited else 0.0)
        # Only a process that runs the pulls says how often they should happen: the "never pulled"
        # alert keys on this series, and a process without a scheduler must not make it fire.
        if self.hub.scheduler_running:
            for pull in planned_pulls(self.hub.settings.pull_schedules, self.hub.systems, warn=False):
                interval.add_metric([pull.system, pull.entity_type], pull.interval_s)
        duration.add_metric([], time.perf_counter() - started)
        yield from families

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily("prasan_database_up", "1 when the database answered the last scrape's queries."),
            GaugeMetricFamily(
                "prasan_outbox_backlog",
                "Deliveries not yet settled, by destination and state (pending, in_flight, held).",
                labels=["destination", "state"],
            ),
            GaugeMetricFamily(
                "prasan_outbox_oldest_pending_age_seconds",
                "Age of the oldest pending delivery by destination (0 when none is pending).",
                labels=["destination"],
            ),
            GaugeMetricFamily(
                "prasan_dead_letters", "Unresolved dead letters, by destination.", labels=["destination"]
            ),
            GaugeMetricFamily(
                "prasan_pull_last_success_timestamp_seconds",
                "Unix time of the last successful pull, by system and entity type (kept in the database).",
                labels=["system", "entity_type"],
            ),
            GaugeMetricFamily(
                "prasan_pull_interval_seconds",
                "Configured interval between pulls, by system and entity type (only from a process whose "
                "scheduler runs).",
                labels=["system", "entity_type"],
            ),
            GaugeMetricFamily(
                "prasan_database_scrape_duration_seconds", "Time taken to read the database gauges."
            ),
            GaugeMetricFamily(
                "prasan_unlinked_records",
                "Records no link rule could link to what they belong to (core/linking.py), by the system "
                "they came from and entity type.",
                labels=["system", "entity_type"],
            ),
            GaugeMetricFamily(
                "prasan_push_last_received_timestamp_seconds",
                "Unix time of the newest payload a system pushed to the hub (kept in the database; pulls not "
                "counted), for each system that takes pushed data.",
                labels=["system"],
            ),
            GaugeMetricFamily(
                "prasan_push_expected_interval_seconds",
                "How often a pushing system is expected to send (push_expectations), by system.",
                labels=["system"],
            ),
            GaugeMetricFamily(
                "prasan_reconciliation_flags",
                "Records whose amounts disagree across systems, by reconciliation rule (config/reconciliation.yaml).",
                labels=["rule"],
            ),
            GaugeMetricFamily(
                "prasan_ledger_waiting_projects",
                "New plan projects whose area ledger rows wait for their first filing at e-LAAS or e-budgeting, or "
                "for the scheduler leader's catch-up after ledger.wait_for_delivery_s.",
            ),
            GaugeMetricFamily(
                "prasan_ledger_waiting_oldest_age_seconds",
                "How long the longest-waiting of those projects has waited (0 when none waits).",
            ),
        ]

    def _push_systems(self) -> set[str]:
        """Systems that take pushed data: those whose plugin reads a format."""
        return {name for name in self.hub.systems.names() if self.hub.systems.get(name).formats}


class PluginHealthCollector(Collector):
    """Plugin health from the cache in `core.health`; a scrape never calls a system itself."""

    def __init__(self, hub: MetricsSource) -> None:
        self.hub = hub

    def describe(self) -> list[Metric]:
        return self._families()

    def collect(self) -> Iterator[Metric]:
        families = self._families()
        up, checked, failed, held = families
        for status in sorted(self.hub.plugin_health.statuses.values(), key=lambda s: s.system):
            up.add_metric([status.system], 1 if status.ok else 0)
            checked.add_metric([status.system], status.checked_at)
        for failure in self.hub.registry.failures:
            failed.add_metric([failure.plugin, failure.stage], 1)
        held_now = {(name, "unconfigured") for name in self.hub.unconfigured_destinations()}
        held_now |= {(w.destination, w.hold_kind) for w in self.hub.workers if w.hold_kind is not None}
        for destination, reason in sorted(held_now):
            held.add_metric([destination, reason], 1)
        yield from families

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily("prasan_plugin_up", "1 when the system's health check passed.", labels=["system"]),
            GaugeMetricFamily(
                "prasan_plugin_health_checked_timestamp_seconds",
                "Unix time of the system's last health check.",
                labels=["system"],
            ),
            GaugeMetricFamily(
                "prasan_plugin_load_failed",
                "1 for a plugin that could not be imported, registered or declared (the rest of the hub runs).",
                labels=["plugin", "stage"],
            ),
            GaugeMetricFamily(
                "prasan_destination_held",
                "1 while a destination's deliveries wait unsent, by reason: unconfigured (settings missing or "
                "invalid), config (it refused the hub's credentials or URL), down (it does not answer; probed).",
                labels=["destination", "reason"],
            ),
        ]


def render(hub: Any) -> bytes:
    """The exposition of a hub whose observer is HubMetrics (an empty page otherwise)."""
    observer = getattr(hub, "observer", None)
    return observer.render() if isinstance(observer, HubMetrics) else b""
