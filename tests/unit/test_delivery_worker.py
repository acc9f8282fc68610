"""The delivery worker against a fake store and fake plugins: leases that would run out during a write,
configuration errors that wait instead of dead-lettering, and the settings that keep a lease longer
than a write."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

import core.delivery as delivery
from core.delivery import DeliveryWorker
from core.errors import ConfigError
from core.plugin_types import Delivered as WriteDelivered
from core.settings import DeliverySettings, HubSettings
from core.store.records import ClaimedDelivery, Dead, GiveBack, utcnow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeSystem:
    """Stands in for an AgencySystem: the worker reads only these attributes and methods."""

    write_batch_size = 500
    write_concurrency = 1
    write_timeout_s = 30.0

    def __init__(self, name: str, clock: Clock, write_s: float = 0.0, error: Exception | None = None) -> None:
        self.name = name
        self.clock = clock
        self.write_s = write_s
        self.error = error
        self.written: list[str] = []
        self.calls: list[int] = []

    map_s = 0.0

    def map_out(self, entity_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.clock.now += self.map_s  # mapping a big claim uses up lease time too
        if payload.get("crash"):
            raise KeyError("a bug in the plugin")
        return payload

    async def write(self, batch: list[Any]) -> list[Any]:
        self.clock.now += self.write_s  # a slow write uses up lease time
        if self.error is not None:
            raise self.error
        self.calls.append(len(batch))
        self.written += [item.delivery_key for item in batch]
        return [WriteDelivered(external_id=None) for _ in batch]


class FakeStore:
    def __init__(self, claimed: list[ClaimedDelivery]) -> None:
        self.claimed = claimed
        self.results: list[Any] = []
        self.claims: list[tuple[int, float, str | None]] = []

    def claim_due(
        self, worker_id: str, limit: int, now: Any, lease_seconds: float, destination: str | None = None
    ) -> list[ClaimedDelivery]:
        self.claims.append((limit, lease_seconds, destination))
        mine = [c for c in self.claimed if c.destination == destination][:limit]
        self.claimed = [c for c in self.claimed if c not in mine]
        return mine

    def complete(self, results: list[Any]) -> None:
        self.results += results


def item(
    outbox_id: int, destination: str, attempts: int = 1, max_attempts: int = 8, payload: dict[str, Any] | None = None
) -> ClaimedDelivery:
    return ClaimedDelivery(
        outbox_id=outbox_id, delivery_key=f"{destination}:E{outbox_id}:1", destination=destination, route="r",
        entity_id=f"E{outbox_id}", entity_type="project", version=1, attempts=attempts,
        max_attempts=max_attempts, received_at=None, payload=payload or {}, xrefs={},
    )


def worker(store: FakeStore, system: FakeSystem, **settings: Any) -> DeliveryWorker:
    return DeliveryWorker(outbox=store, system=system, settings=DeliverySettings(**settings))  # type: ignore[arg-type]


async def test_rows_whose_write_could_outlast_the_lease_are_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(delivery.time, "monotonic", clock)
    slow = FakeSystem("slow", clock)
    slow.map_s = 3.0  # lease 10 s, write timeout 4 s: after mapping two rows only 4 s are left
    store = FakeStore([item(1, "slow"), item(2, "slow")])
    assert await worker(store, slow, lease_s=10, write_timeout_s=4).run_once() == 2

    assert slow.written == []  # nothing sent on a lease about to end
    given_back = [r for r in store.results if isinstance(r, GiveBack)]
    assert sorted(r.outbox_id for r in given_back) == [1, 2]
    assert all(r.attempt == 1 and r.next_attempt_at <= utcnow() + timedelta(seconds=1) for r in given_back)


async def test_a_write_starts_while_the_lease_lasts(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(delivery.time, "monotonic", clock)
    system = FakeSystem("first", clock)
    system.map_s = 2.0
    store = FakeStore([item(1, "first")])
    await worker(store, system, lease_s=10, write_timeout_s=4).run_once()
    assert system.written == ["first:E1:1"]
    assert not any(isinstance(r, GiveBack) for r in store.results)


async def test_a_worker_claims_only_its_destination_sized_by_the_systems_declarations() -> None:
    clock = Clock()
    one_at_a_time = FakeSystem("single", clock)
    one_at_a_time.write_batch_size, one_at_a_time.write_timeout_s = 1, 5.0
    store = FakeStore([item(1, "single"), item(2, "other"), item(3, "single")])
    assert await worker(store, one_at_a_time, lease_s=60, write_timeout_s=30).run_once() == 1
    limit, lease, destination = store.claims[0]
    assert (limit, destination) == (1, "single")
    assert 5 < lease < 60  # sized to the system's 5 s write timeout, not the hub's 60 s lease
    assert [c.destination for c in store.claimed] == ["other", "single"]  # the other destination's row stays


async def test_a_claim_is_written_in_chunks_of_the_batch_size_up_to_the_concurrency() -> None:
    clock = Clock()
    system = FakeSystem("chunked", clock)
    system.write_batch_size, system.write_concurrency = 2, 3
    store = FakeStore([item(i, "chunked") for i in range(1, 8)])
    assert await worker(store, system).run_once() == 6  # claims batch size x concurrency
    assert sorted(system.calls) == [2, 2, 2]
    assert len(system.written) == 6


async def test_a_configuration_error_holds_the_destination_without_using_attempts() -> None:
    clock = Clock()
    broken = FakeSystem("elaas", clock, error=ConfigError("e-LAAS refused the credentials (401)"))
    store = FakeStore([item(1, "elaas"), item(2, "elaas", attempts=8, max_attempts=8), item(3, "elaas")])
    before = utcnow()
    w = worker(store, broken, batch_size=2, config_hold_s=600)
    await w.run_once()

    assert all(isinstance(r, GiveBack) for r in store.results) and len(store.results) == 2
    assert not any(isinstance(r, Dead) for r in store.results)  # even the row on its last attempt
    assert all(r.error.startswith("destination held: ") and "credentials" in r.error for r in store.results)
    assert all(r.next_attempt_at >= before + timedelta(seconds=600) for r in store.results)
    assert w.held and "credentials" in (w.held_reason or "")
    assert await w.run_once() == 0 and len(store.claims) == 1  # held: does not even claim


async def test_a_plugin_fault_in_map_out_dead_letters_that_delivery_only() -> None:
    clock = Clock()
    system = FakeSystem("faulty", clock)
    store = FakeStore([item(1, "faulty", payload={"crash": True}), item(2, "faulty")])
    await worker(store, system).run_once()
    dead = [r for r in store.results if isinstance(r, Dead)]
    assert [r.outbox_id for r in dead] == [1] and "plugin fault in map-out: KeyError" in dead[0].reason
    assert system.written == ["faulty:E2:1"]


def test_the_lease_must_outlast_a_write() -> None:
    with pytest.raises(ValidationError, match="lease_s"):
        DeliverySettings(lease_s=30, write_timeout_s=30)
    with pytest.raises(ValidationError, match="write_timeout_s"):
        HubSettings(delivery={"lease_s": 20, "write_timeout_s": 45})
    assert DeliverySettings().lease_s > DeliverySettings().write_timeout_s


async def test_a_worker_goes_on_after_a_full_claim_waits_gather_s_after_a_partial_one_and_polls_after_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    system = FakeSystem("gathered", Clock())
    system.write_batch_size = 10
    busy = worker(FakeStore([]), system, gather_s=0.02, poll_interval_s=0.2)
    rounds = iter([10, 3, 0, 10])  # a backlog, its tail, nothing, then a backlog again
    stop = asyncio.Event()
    waits: list[tuple[int, float]] = []
    claims = 0

    async def run_once() -> int:
        nonlocal claims
        claims += 1
        claimed = next(rounds, None)
        if claimed is None:
            stop.set()
            return 0
        return claimed

    async def waited(awaitable: Any, timeout: float) -> None:
        awaitable.close()  # stop.wait(), never awaited here
        waits.append((claims, timeout))
        raise TimeoutError

    monkeypatch.setattr(busy, "run_once", run_once)
    monkeypatch.setattr(delivery.asyncio, "wait_for", waited)
    await busy.run(stop)
    # After claim 1 (full) no wait; after 2 (partial) gather_s; after 3 (none) the poll interval; 4 full.
    assert waits[:2] == [(2, 0.02), (3, 0.2)]
