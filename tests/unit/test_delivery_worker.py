"""The delivery worker against a fake store and fake plugins: leases that would run out during a write,
configuration errors that wait instead of dead-lettering, and the settings that keep a lease longer
than a write."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

import core.delivery as delivery
from core.delivery import DeliveryWorker
from core.errors import ConfigError
from core.plugin_types import Delivered as WriteDelivered
from core.settings import DeliverySettings, HubSettings
from core.store.records import ClaimedDelivery, Dead, GiveBack, Retry, utcnow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakePlugin:
    def __init__(self, name: str, clock: Clock, write_s: float = 0.0, error: Exception | None = None) -> None:
        self.name = name
        self.clock = clock
        self.write_s = write_s
        self.error = error
        self.written: list[str] = []

    def settings_from(self, raw: Any) -> Any:
        return raw

    async def map_out(self, entity_type: str, payload: dict[str, Any], reference: Any) -> dict[str, Any]:
        return payload

    async def write(self, batch: list[Any], settings: Any, http: Any) -> list[Any]:
        self.clock.now += self.write_s  # a slow write uses up lease time
        if self.error is not None:
            raise self.error
        self.written += [item.delivery_key for item in batch]
        return [WriteDelivered(external_id=None) for _ in batch]


class FakeRegistry:
    def __init__(self, *plugins: FakePlugin) -> None:
        self.plugins = {p.name: p for p in plugins}

    def __contains__(self, name: object) -> bool:
        return name in self.plugins

    def get(self, name: str) -> FakePlugin:
        return self.plugins[name]


class FakeStore:
    def __init__(self, claimed: list[ClaimedDelivery]) -> None:
        self.claimed = claimed
        self.results: list[Any] = []

    def claim_due(self, worker_id: str, limit: int, now: Any, lease_seconds: float) -> list[ClaimedDelivery]:
        claimed, self.claimed = self.claimed, []
        return claimed

    def complete(self, results: list[Any]) -> None:
        self.results += results


def item(outbox_id: int, destination: str, attempts: int = 1, max_attempts: int = 8) -> ClaimedDelivery:
    return ClaimedDelivery(
        outbox_id=outbox_id, delivery_key=f"{destination}:E{outbox_id}:1", destination=destination, route="r",
        entity_id=f"E{outbox_id}", entity_type="project", version=1, attempts=attempts,
        max_attempts=max_attempts, received_at=None, payload={}, xrefs={},
    )


def worker(store: FakeStore, registry: FakeRegistry, **settings: Any) -> DeliveryWorker:
    return DeliveryWorker(store=store, registry=registry, reference=None,  # type: ignore[arg-type]
                          settings=DeliverySettings(**settings), http=None)  # type: ignore[arg-type]


async def test_destinations_whose_write_could_outlast_the_lease_are_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(delivery.time, "monotonic", clock)
    slow = FakePlugin("slow", clock, write_s=7.0)  # lease 10 s, write timeout 4 s: 3 s left afterwards
    later = FakePlugin("later", clock)
    store = FakeStore([item(1, "slow"), item(2, "later"), item(3, "later")])
    assert await worker(store, FakeRegistry(slow, later), lease_s=10, write_timeout_s=4).run_once() == 3

    assert slow.written == ["slow:E1:1"] and later.written == []  # nothing sent on a lease about to end
    given_back = [r for r in store.results if isinstance(r, GiveBack)]
    assert sorted(r.outbox_id for r in given_back) == [2, 3]
    assert all(r.attempt == 1 and r.next_attempt_at <= utcnow() + timedelta(seconds=1) for r in given_back)


async def test_a_write_starts_while_the_lease_lasts(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(delivery.time, "monotonic", clock)
    first, second = FakePlugin("first", clock, write_s=2.0), FakePlugin("second", clock)
    store = FakeStore([item(1, "first"), item(2, "second")])
    await worker(store, FakeRegistry(first, second), lease_s=10, write_timeout_s=4).run_once()
    assert second.written == ["second:E2:1"]
    assert not any(isinstance(r, GiveBack) for r in store.results)


async def test_a_configuration_error_waits_with_the_longest_backoff_instead_of_dead_lettering() -> None:
    clock = Clock()
    broken = FakePlugin("elaas", clock, error=ConfigError("e-LAAS refused the credentials (401): wrong key"))
    store = FakeStore([item(1, "elaas"), item(2, "elaas", attempts=8, max_attempts=8)])
    before = utcnow()
    await worker(store, FakeRegistry(broken), backoff_base_s=1, backoff_max_s=600).run_once()

    retry, dead = store.results
    assert isinstance(retry, Retry) and not isinstance(retry, Dead)
    assert retry.error.startswith("configuration: ") and "credentials" in retry.error
    assert retry.next_attempt_at >= before + timedelta(seconds=600)  # the longest backoff, not the first
    assert isinstance(dead, Dead) and dead.reason.startswith("exhausted after 8 attempts: configuration:")


def test_the_lease_must_outlast_a_write() -> None:
    with pytest.raises(ValidationError, match="lease_s"):
        DeliverySettings(lease_s=30, write_timeout_s=30)
    with pytest.raises(ValidationError, match="write_timeout_s"):
        HubSettings(delivery={"lease_s": 20, "write_timeout_s": 45})
    assert DeliverySettings().lease_s > DeliverySettings().write_timeout_s
