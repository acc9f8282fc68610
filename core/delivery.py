"""Delivery workers: claim due outbox rows in batches, map them out, write them, record each result.

At-least-once with idempotent writes: a row is marked delivered only after the system acknowledged it,
and each write carries the row's delivery key so that a repeat after a crash has no second effect.

Outage budget (docs/decisions/0009-outage-budget.md): a delivery failing with retryable errors is
retried with capped, jittered exponential backoff and dead-lettered only once it has had its route's
`max_attempts` *and* its first failure is `delivery.retry_window_s` old (24 h by default). A destination
whose writes fail as a whole several times in a row is held as *down*: its claimed rows go back unsent
without using an attempt, and one small probe batch is sent at the backoff interval until a write
succeeds; then the backlog drains in version order. The workers of one destination in a process share
that state (`DestinationState`).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from canonical_model.rejection import Rejection
from core import crashpoints
from core.contract import AgencySystem, resolve_from_thread
from core.errors import ConfigError, PermanentError, TransientError, scrub_secrets
from core.mapping import MappingError
from core.plugin_types import Delivered
from core.plugin_types import Rejected, Retryable, WriteItem
from core.settings import DeliverySettings
from core.store.availability import database_pause_s
from core.store.outbox import budget_spent
from core.store.repos.outbox import OutboxRepository
from core.store.records import Acknowledged, ClaimedDelivery, Dead, DeliveryResult, GiveBack, Retry, utcnow

log = structlog.get_logger("prasan.delivery")

# A delivery handed back because its lease is running out is due again after this many seconds.
GIVE_BACK_DELAY_S = 0.1

# Most rows one probe of a destination held as down sends (in one write call).
PROBE_SIZE = 10


def lease_margin_s(settings: DeliverySettings) -> float:
    """Time kept free on a lease after the longest write, for recording its result."""
    return min(1.0, (settings.lease_s - settings.write_timeout_s) / 2)


def nominal_delay(attempts: int, settings: DeliverySettings) -> float:
    """The delay after the `attempts`-th failed attempt, before jitter: base x 2^(attempts-1), capped."""
    exponent = min(max(0, attempts - 1), 62)  # beyond the cap anyway; keeps the float finite
    return min(settings.backoff_max_s, settings.backoff_base_s * (2**exponent))


def backoff_delay(
    attempts: int, settings: DeliverySettings, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Exponential backoff with jitter from half to one and a half times the nominal delay, never
    sooner than the system's own Retry-After. Jitter spreads the retries of a batch that failed together."""
    jittered = nominal_delay(attempts, settings) * (0.5 + (rng or random).random())
    return max(jittered, retry_after or 0.0)


def exhausted(item: ClaimedDelivery, now: datetime, settings: DeliverySettings) -> bool:
    """Whether `item`, failing again with a retryable error now, has used up its outage budget: its
    route's attempts and the retry window since its first failure (core.store.outbox.budget_spent)."""
    return budget_spent(item.attempts, item.max_attempts, item.first_failed_at, now, settings.retry_window_s)


def retry_schedule(settings: DeliverySettings, max_attempts: int, jitter: float = 1.0) -> list[float]:
    """The delays between the attempts of a delivery that fails every time with a retryable error (no
    Retry-After), until it is dead-lettered: nominal delays times `jitter` (0.5 and 1.5 are the bounds
    of the random jitter). Their sum is how long an agency system may be unreachable (record by
    record) before anything is dead-lettered."""
    start = datetime(2000, 1, 1, tzinfo=UTC)
    delays: list[float] = []
    elapsed = 0.0
    attempts = 1
    while not budget_spent(
        attempts, max_attempts, start if attempts > 1 else None, start + timedelta(seconds=elapsed),
        settings.retry_window_s,
    ):
        delay = nominal_delay(attempts, settings) * jitter
        delays.append(delay)
        elapsed += delay
        attempts += 1
    return delays


@dataclass
class DestinationState:
    """What the delivery workers of one destination in this process know about it.

    Held (nothing is claimed) until `held_until` (monotonic time): after the destination refused the
    hub's configuration, or between two probes while it is down. `failures` counts write calls in a row
    that failed as a whole with retryable errors; `down_after_failures` of them, covering at least two
    different deliveries (one record failing on its own is that record's problem), make it down.
    """

    held_until: float = 0.0  # down: when the next probe may go
    held_reason: str | None = None  # down: "down: <last error>"
    # The destination refused the hub's configuration (401/403, a setting): held apart from being down,
    # so that a probe answering while a credentials hold runs cannot lift it, nor the reverse.
    config_until: float = 0.0
    config_reason: str | None = None
    down: bool = False
    failures: int = 0
    failed_keys: set[str] = field(default_factory=set)
    probes: int = 0  # failed probes since the destination went down
    probing: bool = False  # a probe is being written: the other workers wait for its answer
    probe_delay_s: float = GIVE_BACK_DELAY_S  # rows handed back while down are due at the next probe

    @property
    def config_held(self) -> bool:
        return time.monotonic() < self.config_until

    @property
    def waiting(self) -> bool:
        return time.monotonic() < self.held_until or self.config_held

    @property
    def hold_kind(self) -> str | None:
        """"config" (its configuration refused), "down" (it does not answer), or None."""
        return "config" if self.config_held else ("down" if self.down else None)

    def release_config_hold(self) -> None:
        """The configuration changed: try the destination again at once."""
        self.config_until, self.config_reason = 0.0, None


_STATES: weakref.WeakKeyDictionary[Any, DestinationState] = weakref.WeakKeyDictionary()


def destination_state(system: Any) -> DestinationState:
    """The state shared by every worker of `system` (the configured instance) in this process."""
    try:
        return _STATES.setdefault(system, DestinationState())
    except TypeError:  # an object that cannot be weakly referenced or hashed: its workers each keep one
        return DestinationState()


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

    outbox: OutboxRepository
    system: AgencySystem
    settings: DeliverySettings
    observer: DeliveryObserver = field(default_factory=DeliveryObserver)
    worker_id: str = field(default_factory=lambda: f"worker-{uuid.uuid4().hex[:8]}")
    # Shared by the workers of this destination (see destination_state); given only by tests.
    state: DestinationState | None = None

    def __post_init__(self) -> None:
        if self.state is None:
            self.state = destination_state(self.system)

    @property
    def _state(self) -> DestinationState:
        assert self.state is not None
        return self.state

    # While the destination refuses our configuration (401/403) or is down, nothing is claimed until
    # this (monotonic) time.
    @property
    def held_until(self) -> float:
        return self._state.held_until

    @held_until.setter
    def held_until(self, value: float) -> None:
        self._state.held_until = value

    @property
    def held_reason(self) -> str | None:
        """Why the destination is held: the configuration it refused, or "down: <last error>"."""
        return self._state.config_reason if self._state.config_held else self._state.held_reason

    @property
    def down(self) -> bool:
        return self._state.down

    @property
    def hold_kind(self) -> str | None:
        """"config" or "down" while the destination is held, else None."""
        return self._state.hold_kind

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
        """True while the destination is held: down (until a probe succeeds) or its configuration refused."""
        return self._state.down or self._state.waiting

    async def run_once(self) -> int:
        """Claim one batch of this destination and settle it; returns how many rows were claimed.
        While the destination is down, the batch is one small probe, and only one worker sends it."""
        state = self._state
        if state.waiting or state.probing:
            return 0
        probe = state.down
        limit = min(self.claim_size, self.system.write_batch_size, PROBE_SIZE) if probe else self.claim_size
        state.probing = probe
        try:
            # Taken before the claim, so it is never later than the lease the store writes.
            lease_ends = time.monotonic() + self.lease_s
            claimed: list[ClaimedDelivery] = await asyncio.to_thread(
                self.outbox.claim_due, self.worker_id, limit, None, self.lease_s, self.destination
            )
            if not claimed:
                return 0
            crashpoints.reached("after_claim")
            results = await self._deliver(claimed, lease_ends)
            crashpoints.reached("after_ack")
            await self._record(results, lease_ends)
            return len(claimed)
        finally:
            if probe:
                state.probing = False

    async def _record(self, results: list[DeliveryResult], lease_ends: float) -> None:
        """Store the results. While the database is away they are kept and stored when it answers again,
        until the lease ends: the destination has the data, and letting the lease run out would only
        make another worker send it a second time (a replay, but a wasted one)."""
        while True:
            try:
                await asyncio.to_thread(self.outbox.complete, results)
                return
            except Exception as exc:
                pause = database_pause_s(self.outbox.db.status, exc)
                if pause is None or time.monotonic() + pause >= lease_ends:
                    raise
                await asyncio.sleep(pause)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except Exception as exc:  # a worker must survive anything: log it and keep going
                pause = database_pause_s(self.outbox.db.status, exc)
                if pause is None:
                    log.exception("delivery_round_failed", worker=self.worker_id, system=self.destination)
                claimed = 0
            else:
                pause = None
            if claimed == 0:
                wait = pause or self.settings.poll_interval_s
            elif claimed < self.claim_size:
                # Drained: rows now arrive as they are pushed. Claiming at once would claim them a few at a
                # time, each claim and each settling a transaction of its own (on SQLite, also holding the
                # write lock the API's ingest waits for).
                wait = self.settings.gather_s
            else:
                wait = 0
            if wait:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                except TimeoutError:
                    pass

    async def _deliver(self, items: list[ClaimedDelivery], lease_ends: float | None = None) -> list[DeliveryResult]:
        # Mapping out, like settling the answers, is work per row: a claimed batch of a thousand rows
        # done on the loop held /healthz and every other request for its whole length.
        results, writable = await asyncio.to_thread(self._map_out_all, items, asyncio.get_running_loop())
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

    def _map_out_all(
        self, items: list[ClaimedDelivery], loop: asyncio.AbstractEventLoop
    ) -> tuple[list[DeliveryResult], list[tuple[ClaimedDelivery, WriteItem]]]:
        """In a pool thread: each row in the destination's terms, or its result when it cannot be."""
        results: list[DeliveryResult] = []
        writable: list[tuple[ClaimedDelivery, WriteItem]] = []
        for item in items:
            try:
                native = resolve_from_thread(self.system.map_out(item.entity_type, item.payload), loop)
            except (MappingError, Rejection) as exc:  # the entity cannot be expressed in the system's terms
                self.observer.on_result(item, "unmappable")
                results.append(self._settle(item, Rejected(f"map-out failed: {_describe(exc)}")))
                continue
            except ConfigError as exc:  # the same policy as a write: the destination waits for a fix
                results.append(self._hold(item, exc))
                continue
            except TransientError as exc:  # a lookup the map-out needs is away for now
                result = self._settle(item, Retryable(f"map-out: {exc.message}", exc.retry_after))
                self.observer.on_result(item, _outcome_name(Retryable(""), result))
                results.append(result)
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
        return results, writable

    def _lease_lasts(self, lease_ends: float) -> bool:
        """True when a write started now ends (at the latest) before the lease does."""
        left = lease_ends - time.monotonic()
        return left >= self.write_timeout_s + lease_margin_s(self.settings)

    def _hand_back(self, item: ClaimedDelivery, due_in_s: float, reason: str, outcome: str) -> DeliveryResult:
        """A claimed row returned unsent: due again in `due_in_s`, the attempt its claim counted not charged."""
        self.observer.on_result(item, outcome)
        return GiveBack(item.outbox_id, utcnow() + timedelta(seconds=due_in_s), reason, attempt=item.attempts)

    def _give_back(self, item: ClaimedDelivery) -> DeliveryResult:
        log.info("delivery_given_back", delivery_key=item.delivery_key, system=item.destination)
        return self._hand_back(
            item, GIVE_BACK_DELAY_S, "given back unsent: the lease would have ended during the write", "given_back"
        )

    async def _write(self, writable: list[tuple[ClaimedDelivery, WriteItem]]) -> list[DeliveryResult]:
        started = time.perf_counter()
        batch = [write_item for _, write_item in writable]
        try:
            answers = await asyncio.wait_for(self.system.write(batch), timeout=self.write_timeout_s)
            if len(answers) != len(batch):
                # Some may have been written: a fault of the plugin, retried under the same keys, never lost.
                log.error("plugin_write_miscounted", system=self.destination, answers=len(answers), items=len(batch))
                answers = [Retryable(f"plugin answered {len(answers)} results for {len(batch)} items")] * len(batch)
        except TransientError as exc:
            answers = [Retryable(exc.message, exc.retry_after)] * len(batch)
        except ConfigError as exc:
            # Wrong credentials or settings say nothing about the records: the destination is held for
            # an operator, and the rows go back unsent, without using an attempt or dead-lettering.
            self.observer.on_write(self.destination, len(batch), time.perf_counter() - started)
            return [self._hold(item, exc) for item, _ in writable]
        except PermanentError as exc:
            answers = [Rejected(exc.message)] * len(batch)
        except TimeoutError:
            answers = [Retryable(f"write timed out after {self.write_timeout_s}s")] * len(batch)
        except Exception as exc:  # an unexpected plugin failure is retried, never lost
            log.exception("plugin_write_failed", system=self.destination)
            answers = [Retryable(f"plugin error: {_describe(exc)}")] * len(batch)
        self.observer.on_write(self.destination, len(batch), time.perf_counter() - started)
        if all(isinstance(answer, Retryable) for answer in answers):
            # Nothing of the batch got through: that says more about the destination than the records.
            if self._failed(writable, answers[0].reason):
                return [self._give_back_down(item) for item, _ in writable]
        else:
            self._answered()
        return await asyncio.to_thread(self._settle_all, writable, answers)

    def _settle_all(self, writable: list[tuple[ClaimedDelivery, WriteItem]], answers: list[Any]) -> list[DeliveryResult]:
        """In a pool thread: each row's result from its answer (logged and counted one by one)."""
        now = utcnow()
        results = []
        for (item, _), answer in zip(writable, answers, strict=True):
            result = self._settle(item, answer, now)
            self.observer.on_result(item, _outcome_name(answer, result))
            results.append(result)
        return results

    # --- a destination that is down ------------------------------------------------------------------

    def _failed(self, writable: list[tuple[ClaimedDelivery, WriteItem]], reason: str) -> bool:
        """Note a write that failed as a whole; True when the destination is (now) held as down, so
        the batch goes back unsent instead of using attempts."""
        state = self._state
        threshold = self.settings.down_after_failures
        if threshold <= 0:
            return False
        state.failures += 1
        for item, _ in writable:
            if len(state.failed_keys) >= 2:
                break
            state.failed_keys.add(item.delivery_key)
        if not state.down and (state.failures < threshold or len(state.failed_keys) < 2):
            return False
        first = not state.down
        state.down = True
        state.probes = 0 if first else state.probes + 1
        delay = min(self.settings.down_probe_max_s, backoff_delay(state.probes + 1, self.settings))
        state.held_until = time.monotonic() + delay
        state.held_reason = f"down: {scrub_secrets(reason)}"
        state.probe_delay_s = delay
        if first:
            log.error(
                "destination_down", system=self.destination, error=reason, failures=state.failures,
                probe_in_s=round(delay, 3),
            )
        else:
            log.info("destination_probe_failed", system=self.destination, error=reason, probe_in_s=round(delay, 3))
        return True

    def _answered(self) -> None:
        """A write got an answer other than "try again" for at least one record: the destination is up."""
        state = self._state
        if state.down:
            log.warning("destination_recovered", system=self.destination, failed_probes=state.probes)
            state.down = False
            state.held_until = 0.0
            state.held_reason = None
            state.probes = 0
        state.failures = 0
        state.failed_keys.clear()

    def _give_back_down(self, item: ClaimedDelivery) -> DeliveryResult:
        """Hand a row back unsent by a destination that is down: no attempt used, due at the next probe."""
        reason = f"destination {self._state.held_reason or 'down'}"
        return self._hand_back(item, self._state.probe_delay_s, reason, "down")

    def _hold(self, item: ClaimedDelivery, exc: ConfigError) -> DeliveryResult:
        state = self._state
        if not state.config_held:
            log.error("destination_held", system=self.destination, error=exc.message, hold_s=self.settings.config_hold_s)
        state.config_until = time.monotonic() + self.settings.config_hold_s
        state.config_reason = exc.message
        return self._hand_back(item, self.settings.config_hold_s, f"destination held: {exc.message}", "held")

    def _settle(self, item: ClaimedDelivery, answer: Any, now: datetime | None = None) -> DeliveryResult:
        now = now or utcnow()
        bound = log.bind(
            delivery_key=item.delivery_key, system=item.destination, route=item.route, attempt=item.attempts
        )
        if isinstance(answer, Delivered):
            at = utcnow()
            self.observer.on_delivered(item, at)
            bound.info("delivered", external_id=answer.external_id)
            return Acknowledged(item.outbox_id, answer.external_id, at, attempt=item.attempts, body=item.payload)
        if isinstance(answer, Retryable):
            reason = scrub_secrets(answer.reason)  # a plugin's words are stored and shown: never a secret
            if exhausted(item, now, self.settings):
                bound.warning("delivery_exhausted", reason=reason)
                return Dead(item.outbox_id, f"exhausted after {item.attempts} attempts: {reason}", attempt=item.attempts)
            delay = backoff_delay(item.attempts, self.settings, answer.retry_after)
            bound.info("delivery_retry", reason=reason, delay_s=round(delay, 3))
            return Retry(
                item.outbox_id, now + timedelta(seconds=delay), reason, attempt=item.attempts,
                retry_window_s=self.settings.retry_window_s,
            )
        reason = scrub_secrets(answer.reason if isinstance(answer, Rejected) else f"unexpected write result {answer!r}")
        bound.warning("delivery_rejected", reason=reason)
        return Dead(item.outbox_id, f"rejected by {item.destination}: {reason}", attempt=item.attempts)


def _outcome_name(answer: Any, result: DeliveryResult) -> str:
    if isinstance(answer, Delivered):
        return "delivered"
    if isinstance(answer, Retryable):
        return "exhausted" if isinstance(result, Dead) else "retry"
    return "rejected"


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return scrub_secrets(f"{type(exc).__name__}: {text}" if str(exc) else text)
