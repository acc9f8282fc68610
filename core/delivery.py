"""Delivery workers: claim due outbox rows in batches, map them out, write them, record each result.

At-least-once with idempotent writes: a row is marked delivered only after the system acknowledged it,
and each write carries the row's delivery key so that a repeat after a crash has no second effect.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from canonical_model.rejection import Rejection
from core.contract import AgencySystem, await_me_maybe
from core.errors import ConfigError, PermanentError, TransientError, scrub_secrets
from core.mapping import MappingError
from core.plugin_types import Delivered as WriteDelivered
from core.plugin_types import Rejected, Retryable, WriteItem
from core.settings import DeliverySettings
from core.store.records import ClaimedDelivery, Dead, Delivered, DeliveryResult, GiveBack, Retry, utcnow

log = structlog.get_logger("prasan.delivery")

# A delivery handed back because its lease is running out is due again after this many seconds.
GIVE_BACK_DELAY_S = 0.1


def lease_margin_s(settings: DeliverySettings) -> float:
    """Time kept free on a lease after the longest write, for recording its result."""
    return min(1.0, (settings.lease_s - settings.write_timeout_s) / 2)


def backoff_delay(
    attempts: int, settings: DeliverySettings, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Exponential backoff with full-range jitter around the nominal delay, never sooner than the
    system's own Retry-After. Jitter spreads the retries of a batch that failed together."""
    nominal = min(settings.backoff_max_s, settings.backoff_base_s * (2 ** max(0, attempts - 1)))
    jittered = nominal * (0.5 + (rng or random).random())
    return max(jittered, retry_after or 0.0)


class DeliveryObserver:
    """Callbacks for metrics; the defaults do nothing so the worker runs without the metrics module.

    Methods, not callable fields, so that a subclass (core.metrics.HubMetrics) can override them.
    """

    def on_result(self, item: ClaimedDelivery, outcome: str) -> None:
        """One delivery settled: delivered, retry, exhausted, rejected, unmappable, given_back (handed
        back unsent because its lease would have ended during the write) or held (handed back unsent
        because the destination refused the hub's configuration)."""

    def on_write(self, destination: str, items: int, seconds: float) -> None:
        """One write call to a destination returned (or failed) after `seconds`."""

    def on_delivered(self, item: ClaimedDelivery, at: datetime) -> None:
        """The destination acknowledged `item` at `at`."""


def write_timeout_s(system: AgencySystem, settings: DeliverySettings) -> float:
    """The longest one write call to `system` may take: its own declaration, capped by the hub's."""
    return min(float(system.write_timeout_s), settings.write_timeout_s)


def lease_s(system: AgencySystem, settings: DeliverySettings) -> float:
    """A claim's lease, sized to the system's write timeout (a fast system's crashed claim is taken over
    sooner), never longer than the hub's lease nor too short to record a write's result."""
    timeout = write_timeout_s(system, settings)
    return min(float(settings.lease_s), max(timeout * 2 + 5, timeout + 2 * lease_margin_s(settings) + 1))


@dataclass
class DeliveryWorker:
    """Delivers to one destination: claims only its rows, writes them in chunks of the system's batch
    size, up to its write concurrency, so that a slow or failing system delays nobody else."""

    store: Any
    system: AgencySystem
    settings: DeliverySettings
    observer: DeliveryObserver = field(default_factory=DeliveryObserver)
    worker_id: str = field(default_factory=lambda: f"worker-{uuid.uuid4().hex[:8]}")
    # While the destination refuses our configuration (401/403), nothing is claimed until this time.
    held_until: float = 0.0
    held_reason: str | None = None

    @property
    def destination(self) -> str:
        return self.system.name

    @property
    def claim_size(self) -> int:
        return max(1, min(self.settings.batch_size, self.system.write_batch_size * self.system.write_concurrency))

    @property
    def lease_s(self) -> float:
        return lease_s(self.system, self.settings)

    @property
    def write_timeout_s(self) -> float:
        return write_timeout_s(self.system, self.settings)

    @property
    def held(self) -> bool:
        return time.monotonic() < self.held_until

    async def run_once(self) -> int:
        """Claim one batch of this destination and settle it; returns how many rows were claimed."""
        if self.held:
            return 0
        # Taken before the claim, so it is never later than the lease the store writes.
        lease_ends = time.monotonic() + self.lease_s
        claimed: list[ClaimedDelivery] = await asyncio.to_thread(
            self.store.claim_due, self.worker_id, self.claim_size, None, self.lease_s, self.destination
        )
        if not claimed:
            return 0
        results = await self._deliver(claimed, lease_ends)
        await asyncio.to_thread(self.store.complete, results)
        return len(claimed)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except Exception:  # a worker must survive anything: log it and keep going
                log.exception("delivery_round_failed", worker=self.worker_id, system=self.destination)
                claimed = 0
            if claimed == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.poll_interval_s)
                except TimeoutError:
                    pass

    async def _deliver(self, items: list[ClaimedDelivery], lease_ends: float | None = None) -> list[DeliveryResult]:
        results: list[DeliveryResult] = []
        writable: list[tuple[ClaimedDelivery, WriteItem]] = []
        for item in items:
            try:
                native = await await_me_maybe(self.system.map_out(item.entity_type, item.payload))
            except (MappingError, Rejection) as exc:  # the entity cannot be expressed in the system's terms
                self.observer.on_result(item, "unmappable")
                results.append(self._settle(item, Rejected(f"map-out failed: {_describe(exc)}")))
                continue
            except Exception as exc:  # a bug in the plugin, not in the record: say so, with the traceback
                log.exception("plugin_map_out_failed", system=self.destination, delivery_key=item.delivery_key)
                self.observer.on_result(item, "unmappable")
                results.append(self._settle(item, Rejected(f"plugin fault in map-out: {_describe(exc)}")))
                continue
            writable.append(
                (
                    item,
                    WriteItem(
                        delivery_key=item.delivery_key,
                        entity_id=item.entity_id,
                        entity_type=item.entity_type,
                        version=item.version,
                        native=native,
                        external_id=item.xrefs.get(self.destination),
                    ),
                )
            )
        if writable:
            if lease_ends is not None and not self._lease_lasts(lease_ends):
                # A write started now could still run when the lease ends; another worker could take
                # the rows over and send a newer version first. Hand the rows back unsent instead.
                results.extend(self._give_back(item) for item, _ in writable)
            else:
                size = self.system.write_batch_size
                chunks = [writable[i : i + size] for i in range(0, len(writable), size)]
                gate = asyncio.Semaphore(self.system.write_concurrency)

                async def write(chunk: list[tuple[ClaimedDelivery, WriteItem]]) -> list[DeliveryResult]:
                    async with gate:
                        return await self._write(chunk)

                for settled in await asyncio.gather(*(write(chunk) for chunk in chunks)):
                    results.extend(settled)
        return results

    def _lease_lasts(self, lease_ends: float) -> bool:
        """True when a write started now ends (at the latest) before the lease does."""
        left = lease_ends - time.monotonic()
        return left >= self.write_timeout_s + lease_margin_s(self.settings)

    def _give_back(self, item: ClaimedDelivery) -> DeliveryResult:
        self.observer.on_result(item, "given_back")
        log.info("delivery_given_back", delivery_key=item.delivery_key, system=item.destination)
        return GiveBack(
            item.outbox_id,
            utcnow() + timedelta(seconds=GIVE_BACK_DELAY_S),
            "given back unsent: the lease would have ended during the write",
            attempt=item.attempts,
        )

    async def _write(self, writable: list[tuple[ClaimedDelivery, WriteItem]]) -> list[DeliveryResult]:
        started = time.perf_counter()
        batch = [write_item for _, write_item in writable]
        try:
            answers = await asyncio.wait_for(self.system.write(batch), timeout=self.write_timeout_s)
            if len(answers) != len(batch):
                raise PermanentError(
                    f"plugin answered {len(answers)} results for {len(batch)} items", system=self.destination
                )
        except TransientError as exc:
            answers = [Retryable(exc.message, exc.retry_after)] * len(batch)
        except ConfigError as exc:
            # Wrong credentials or settings say nothing about the records: the destination is held for
            # an operator, and the rows go back unsent, without using an attempt or dead-lettering.
            return [self._hold(item, exc) for item, _ in writable]
        except PermanentError as exc:
            answers = [Rejected(exc.message)] * len(batch)
        except TimeoutError:
            answers = [Retryable(f"write timed out after {self.write_timeout_s}s")] * len(batch)
        except Exception as exc:  # an unexpected plugin failure is retried, never lost
            log.exception("plugin_write_failed", system=self.destination)
            answers = [Retryable(f"plugin error: {_describe(exc)}")] * len(batch)
        self.observer.on_write(self.destination, len(batch), time.perf_counter() - started)
        results = []
        for (item, _), answer in zip(writable, answers, strict=True):
            self.observer.on_result(item, _outcome_name(answer, item))
            results.append(self._settle(item, answer))
        return results

    def _hold(self, item: ClaimedDelivery, exc: ConfigError) -> DeliveryResult:
        if not self.held:
            log.error("destination_held", system=self.destination, error=exc.message, hold_s=self.settings.config_hold_s)
        self.held_until = time.monotonic() + self.settings.config_hold_s
        self.held_reason = exc.message
        self.observer.on_result(item, "held")
        return GiveBack(
            item.outbox_id,
            utcnow() + timedelta(seconds=self.settings.config_hold_s),
            f"destination held: {exc.message}",
            attempt=item.attempts,
        )

    def _settle(self, item: ClaimedDelivery, answer: Any) -> DeliveryResult:
        bound = log.bind(
            delivery_key=item.delivery_key, system=item.destination, route=item.route, attempt=item.attempts
        )
        if isinstance(answer, WriteDelivered):
            at = utcnow()
            self.observer.on_delivered(item, at)
            bound.info("delivered", external_id=answer.external_id)
            return Delivered(item.outbox_id, answer.external_id, at, attempt=item.attempts)
        if isinstance(answer, Retryable):
            if item.attempts >= item.max_attempts:
                bound.warning("delivery_exhausted", reason=answer.reason)
                return Dead(
                    item.outbox_id, f"exhausted after {item.attempts} attempts: {answer.reason}", attempt=item.attempts
                )
            delay = backoff_delay(item.attempts, self.settings, answer.retry_after)
            bound.info("delivery_retry", reason=answer.reason, delay_s=round(delay, 3))
            return Retry(item.outbox_id, utcnow() + timedelta(seconds=delay), answer.reason, attempt=item.attempts)
        reason = answer.reason if isinstance(answer, Rejected) else f"unexpected write result {answer!r}"
        bound.warning("delivery_rejected", reason=reason)
        return Dead(item.outbox_id, f"rejected by {item.destination}: {reason}", attempt=item.attempts)


def _outcome_name(answer: Any, item: ClaimedDelivery) -> str:
    if isinstance(answer, WriteDelivered):
        return "delivered"
    if isinstance(answer, Retryable):
        return "exhausted" if item.attempts >= item.max_attempts else "retry"
    return "rejected"


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return scrub_secrets(f"{type(exc).__name__}: {text}" if str(exc) else text)
