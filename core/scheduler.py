"""Scheduled work on APScheduler: pulls from systems that are polled, and plugin health checks.

Retries need no job of their own: every delivery round claims the rows whose backoff has ended or
whose lease expired (`OutboxRepository.claim_due`), so a second "sweep" would only run the same claim twice.

A pull saves its cursor in the same transaction as the records it read (see `Ingestor.ingest_records`),
so a cursor never moves past a record that was not committed.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.contract import iterate_batches
from core.errors import PermanentError
from core.health import PluginHealth
from core.ingest import Ingestor
from core.observer import HubObserver
from core.plugin_manager import Systems
from core.settings import PullSchedule
from core.store.availability import database_unavailable
from core.store.gauges import PULL_CLIENT
from core.store.repos.config import ConfigRepository
from core.store.records import CursorUpdate, InboundMessage

log = structlog.get_logger("prasan.scheduler")


class PullRunner:
    """Runs one pull of (system, entity type): read batches from the saved cursor, ingest each."""

    def __init__(self, config: ConfigRepository, systems: Systems, ingestor: Ingestor, observer: HubObserver) -> None:
        self.config = config  # cursors and last successful pulls
        self.running: set[asyncio.Task[Any]] = set()  # pulls in progress, awaited when the hub stops
        self.systems = systems
        self.ingestor = ingestor
        self.observer = observer

    async def pull(self, system: str, entity_type: str) -> int:
        task = asyncio.current_task()
        if task is not None:
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        started = time.perf_counter()
        run_id = uuid.uuid4().hex[:12]
        with structlog.contextvars.bound_contextvars(system=system, entity_type=entity_type, run_id=run_id):
            try:
                total = await self._pull(system, entity_type)
            except Exception as exc:
                self.observer.pull_failed(system, entity_type, time.perf_counter() - started)
                if database_unavailable(exc):  # the outage itself is logged once by the store
                    log.warning("pull_failed", reason="database unavailable")
                else:
                    log.exception("pull_failed")
                raise
            # Kept in the database so that "last successful sync" survives restarts and is the same in
            # every hub process, even when the pull found nothing new and the cursor did not move.
            await asyncio.to_thread(self.config.mark_pulled, system, entity_type)
            self.observer.pulled(system, entity_type, total, time.perf_counter() - started)
            log.info("pull_done", records=total)
        return total

    async def _pull(self, system: str, entity_type: str) -> int:
        plugin = self.systems.get(system)
        stream = plugin.stream_for(entity_type)
        cursor = await asyncio.to_thread(self.config.get_cursor, system, entity_type)
        total = 0
        while True:
            started_from = cursor
            more = False
            async for batch in iterate_batches(plugin, stream, cursor):
                more = batch.more  # the last page says whether the source has more
                if not batch.records and batch.next_cursor == cursor:
                    continue
                body = json.dumps([r.data for r in batch.records], ensure_ascii=False, default=str).encode()
                message = InboundMessage(system=system, payload=body, media_type="application/json", client_name=PULL_CLIENT)
                await self.ingestor.ingest_records(
                    plugin, message, batch.records, CursorUpdate(system, entity_type, batch.next_cursor)
                )
                total += len(batch.records)
                cursor = batch.next_cursor
            if not more:
                break
            if cursor == started_from:
                # A source that says "more" without moving its cursor would be read forever; what was
                # read is kept, but the pull is a failure so that "last successful sync" does not move.
                raise PermanentError(
                    f"{system} says there is more after cursor {cursor!r} but does not move past it",
                    system=system,
                    entity_type=entity_type,
                )
        return total


@dataclass(frozen=True)
class PlannedPull:
    system: str
    entity_type: str
    interval_s: float

    @property
    def job_id(self) -> str:
        return f"pull:{self.system}:{self.entity_type}"


def planned_pulls(
    pull_schedules: dict[str, dict[str, Any]], systems: Systems, *, warn: bool = True
) -> list[PlannedPull]:
    """The pulls a scheduler runs: for each system named in `pull_schedules` (and configured), each of
    its streams, or those listed under `entity_types` (`entity_type` names one), every `interval_s`
    (default: the stream's own)."""
    planned: list[PlannedPull] = []
    for name, raw in sorted(pull_schedules.items()):
        schedule = PullSchedule.model_validate(raw)
        if name not in systems:
            if warn:
                log.warning(
                    "pull_schedule_unusable", system=name, reason="system not configured or not installed"
                )
            continue
        streams = systems.get(name).streams
        wanted = schedule.entity_types or ([schedule.entity_type] if schedule.entity_type else None)
        for stream in streams:
            if wanted is not None and stream.entity_type not in wanted:
                continue
            interval = schedule.interval_s or stream.interval_s
            planned.append(PlannedPull(name, stream.entity_type, interval))
        unknown = set(wanted or ()) - {stream.entity_type for stream in streams}
        if unknown and warn:
            log.warning("pull_schedule_unusable", system=name, reason=f"no stream of {sorted(unknown)}")
    return planned


def build_scheduler(
    runner: PullRunner,
    pulls: list[PlannedPull],
    plugin_health: PluginHealth,
    retention: tuple[Callable[[], Awaitable[Any]], float] | None = None,
    ledger_catch_up: tuple[Callable[[], Awaitable[Any]], float] | None = None,
) -> AsyncIOScheduler:
    """The leader's jobs: the pulls, plugin health and, each given as (job, interval_s), retention and the
    area ledger's catch-up."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    for name, periodic in (("retention", retention), ("ledger-catch-up", ledger_catch_up)):
        if periodic is not None:
            job, interval_s = periodic
            scheduler.add_job(job, "interval", seconds=interval_s, id=name, max_instances=1, coalesce=True)
    for pull in pulls:
        scheduler.add_job(
            runner.pull,
            "interval",
            seconds=pull.interval_s,
            args=[pull.system, pull.entity_type],
            id=pull.job_id,
            max_instances=1,
            coalesce=True,
        )
    # Plugin health is checked here, never by a scrape, so /metrics and /readyz stay cheap.
    scheduler.add_job(
        plugin_health.refresh,
        "interval",
        seconds=plugin_health.max_age_s,
        id="plugin-health",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    return scheduler
