"""One scheduler among the processes sharing a database: a lease taken by one, renewed, released on a
clean stop, taken over when its holder stops renewing, and given up when it cannot be confirmed."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from core.leader import Leadership
from core.store import Store

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_lease_has_one_holder_until_it_goes_stale(store: Store) -> None:
    assert store.config.hold_lease("scheduler", "a", 15, T0) == "a"
    assert store.config.hold_lease("scheduler", "b", 15, T0 + timedelta(seconds=5)) == "a"  # a's, still fresh
    assert store.config.hold_lease("scheduler", "a", 15, T0 + timedelta(seconds=10)) == "a"  # renewed at 10 s
    assert store.config.hold_lease("scheduler", "b", 15, T0 + timedelta(seconds=24)) == "a"
    assert store.config.hold_lease("scheduler", "b", 15, T0 + timedelta(seconds=26)) == "b"  # stale: taken over
    assert not store.config.release_lease("scheduler", "a")  # only the holder can release
    assert store.config.release_lease("scheduler", "b")
    assert store.config.hold_lease("scheduler", "a", 15, T0 + timedelta(seconds=27)) == "a"


async def test_a_second_process_takes_over_when_the_leader_stops(store: Store) -> None:
    events: list[str] = []

    def leadership(name: str) -> Leadership:
        return Leadership(
            store.config, name, ttl_s=1.0, renew_s=0.2,
            on_gain=lambda: events.append(f"{name}+"), on_lose=lambda: events.append(f"{name}-"),
        )

    first, second = leadership("first"), leadership("second")
    await first.step()
    await second.step()
    assert (first.leader, second.leader, second.holder) == (True, False, "first")

    # The leader dies: it stops renewing, and the other takes over once the lease is stale.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not second.leader:
        assert loop.time() < deadline, "the standby never took over"
        await asyncio.sleep(0.2)
        await second.step()
    assert events == ["first+", "second+"]

    # A clean stop releases the lease at once: the next process needs no wait.
    stop = asyncio.Event()
    stop.set()
    await second.run(stop)
    third = leadership("third")
    await third.step()
    assert third.leader and events[-2:] == ["second-", "third+"]


class Unreachable:
    def hold_lease(self, *args: object) -> str:
        raise ConnectionError("database is away")


async def test_a_leader_that_cannot_renew_stops_before_another_can_start() -> None:
    lost: list[bool] = []
    leader = Leadership(Unreachable(), "me", ttl_s=1.0, renew_s=0.2, on_gain=lambda: None,  # type: ignore[arg-type]
                        on_lose=lambda: lost.append(True))
    leader.leader, leader._held_since = True, time.monotonic()  # noqa: SLF001  (renewed just now)
    await leader.step()
    assert leader.leader and not lost  # one failed renewal is within the margin
    leader._held_since -= 0.9  # noqa: SLF001  (last renewal 0.9 s ago: past ttl - renew)
    await leader.step()
    assert not leader.leader and lost == [True]


def test_renewal_must_be_well_inside_the_lease() -> None:
    with pytest.raises(ValueError, match="twice per lease period"):
        Leadership(Unreachable(), "me", ttl_s=1.0, renew_s=0.6, on_gain=lambda: None, on_lose=lambda: None)  # type: ignore[arg-type]
