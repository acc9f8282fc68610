"""A destination that is down is held as a whole: its deliveries go back unsent without using attempts,
one small probe is sent at the backoff interval, and the first write that gets through releases it.
Record-level retryable answers mixed with successes stay per-record retries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import core.delivery as delivery
from core.delivery import PROBE_SIZE, DeliveryWorker
from core.errors import TransientError
from core.plugin_types import Delivered as WriteDelivered
from core.plugin_types import Retryable
from core.settings import DeliverySettings
from core.store.records import Acknowledged, ClaimedDelivery, Dead, GiveBack, Retry, utcnow
from tests.unit.test_delivery_worker import Clock


class Destination:
    """A fake system: `down` makes every write fail as a whole; `bad` keys answer Retryable alone."""

    write_concurrency = 1
    write_timeout_s = 30.0

    def __init__(self, name: str = "elaas", batch_size: int = 4) -> None:
        self.name = name
        self.write_batch_size = batch_size
        self.down = True
        self.raise_it = False
        self.bad: set[str] = set()
        self.calls: list[list[str]] = []

    def map_out(self, entity_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    async def write(self, batch: list[Any]) -> list[Any]:
        self.calls.append([item.delivery_key for item in batch])
        if self.down:
            if self.raise_it:
                raise TransientError("connection refused")
            return [Retryable("e-LAAS answered 503: down for maintenance") for _ in batch]
        return [Retryable("locked") if i.delivery_key in self.bad else WriteDelivered(None) for i in batch]


class Outbox:
    """Hands out `count` deliveries, in order; whatever comes back unsettled is handed out again."""

    def __init__(
        self, count: int, attempts: int = 1, max_attempts: int = 8, failing_for_s: float | None = None
    ) -> None:
        first = None if failing_for_s is None else utcnow() - timedelta(seconds=failing_for_s)
        self.queue = [
            ClaimedDelivery(
                outbox_id=i, delivery_key=f"elaas:E{i}:1", destination="elaas", route="r", entity_id=f"E{i}",
                entity_type="budget_line", version=1, attempts=attempts, max_attempts=max_attempts,
                received_at=None, payload={}, xrefs={}, first_failed_at=first,
            )
            for i in range(1, count + 1)
        ]
        self.by_id = {c.outbox_id: c for c in self.queue}
        self.results: list[Any] = []
        self.limits: list[int] = []

    def claim_due(self, worker_id: str, limit: int, now: Any, lease_seconds: float, destination: str | None = None):
        self.limits.append(limit)
        mine, self.queue = self.queue[:limit], self.queue[limit:]
        return mine

    def complete(self, results: list[Any]) -> None:
        self.results += results
        for result in results:
            if isinstance(result, Retry):  # GiveBack included: due again
                self.queue.append(self.by_id[result.outbox_id])


def settings(**changes: Any) -> DeliverySettings:
    base = {"batch_size": 4, "down_after_failures": 3, "backoff_base_s": 1.0, "down_probe_max_s": 5.0}
    return DeliverySettings(**{**base, **changes})


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(delivery.time, "monotonic", clock)
    return clock


async def test_repeated_whole_batch_failures_hold_the_destination_as_down(clock: Clock) -> None:
    system, store = Destination(), Outbox(40, attempts=8, failing_for_s=10 * 86_400)  # budgets long spent
    worker = DeliveryWorker(outbox=store, system=system, settings=settings(retry_window_s=0))  # type: ignore[arg-type]
    await worker.run_once()
    await worker.run_once()
    # Two failed batches are ordinary failures (these rows were on their last attempt)...
    assert sum(isinstance(r, Dead) for r in store.results) == 8 and not worker.held
    await worker.run_once()
    # ...the third in a row says the destination is down: handed back, no attempt used, nothing buried.
    last = store.results[8:]
    assert len(last) == 4 and all(isinstance(r, GiveBack) for r in last)
    assert all(r.error.startswith("destination down: ") for r in last)
    assert worker.held and worker.down and worker.held_reason.startswith("down: ")
    assert "503" in worker.held_reason

    assert await worker.run_once() == 0  # waiting for the probe time: nothing claimed
    for _ in range(20):  # many probes, far beyond every attempt budget
        clock.now = worker.held_until + 0.01
        assert 1 <= await worker.run_once() <= PROBE_SIZE
        assert store.limits[-1] == min(PROBE_SIZE, system.write_batch_size)
    assert sum(isinstance(r, Dead) for r in store.results) == 8  # not one more
    assert worker.held

    system.down = False
    clock.now = worker.held_until + 0.01
    await worker.run_once()  # the probe gets through
    assert not worker.held and worker.held_reason is None
    while store.queue:
        await worker.run_once()
    assert sum(isinstance(r, Acknowledged) for r in store.results) == 40 - 8


async def test_probe_intervals_grow_to_their_cap(clock: Clock) -> None:
    system, store = Destination(), Outbox(100)
    system.raise_it = True  # unreachable: the plugin raises instead of answering per item
    worker = DeliveryWorker(outbox=store, system=system, settings=settings())  # type: ignore[arg-type]
    for _ in range(3):
        await worker.run_once()
    waits = []
    for _ in range(8):
        waits.append(worker.held_until - clock.now)
        clock.now = worker.held_until + 0.01
        await worker.run_once()
    assert 0.5 <= waits[0] <= 1.5 and max(waits) <= 5.0 + 1e-6
    assert waits[-1] > waits[0]
    assert "connection refused" in (worker.held_reason or "")


async def test_retryable_answers_mixed_with_successes_stay_per_record(clock: Clock) -> None:
    system, store = Destination(), Outbox(20)
    system.down = False
    system.bad = {"elaas:E1:1", "elaas:E5:1", "elaas:E9:1"}  # one record of each batch is refused for now
    worker = DeliveryWorker(outbox=store, system=system, settings=settings())  # type: ignore[arg-type]
    for _ in range(5):
        await worker.run_once()
    assert not worker.held
    retries = [r for r in store.results if type(r) is Retry]
    assert {r.outbox_id for r in retries} == {1, 5, 9} and all(r.retry_window_s == 86_400 for r in retries)


async def test_one_record_failing_alone_does_not_make_the_destination_down(clock: Clock) -> None:
    system, store = Destination(), Outbox(1)
    worker = DeliveryWorker(outbox=store, system=system, settings=settings())  # type: ignore[arg-type]
    for _ in range(6):
        await worker.run_once()
    assert not worker.held
    assert len(store.results) == 6 and all(type(r) is Retry for r in store.results)


async def test_holding_can_be_switched_off(clock: Clock) -> None:
    system, store = Destination(), Outbox(40)
    off = settings(down_after_failures=0)
    worker = DeliveryWorker(outbox=store, system=system, settings=off)  # type: ignore[arg-type]
    for _ in range(6):
        await worker.run_once()
    assert not worker.held and all(type(r) is Retry for r in store.results)


async def test_the_workers_of_one_destination_share_its_state(clock: Clock) -> None:
    system, store = Destination(), Outbox(40)
    one, two = (
        DeliveryWorker(outbox=store, system=system, settings=settings()) for _ in range(2)  # type: ignore[arg-type]
    )
    other = DeliveryWorker(outbox=Outbox(4), system=Destination("egp"), settings=settings())  # type: ignore[arg-type]
    await one.run_once()
    await two.run_once()
    await one.run_once()
    assert one.held and two.held and not other.held
    assert await two.run_once() == 0
