"""Several `prasan serve` processes on one PostgreSQL (issue 12): every version delivered exactly once in
effect whichever process claims it; a worker frozen (SIGSTOP) past its lease and then resumed changes
nothing; the scheduler leader killed, another process schedules within the lease's bound."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.leader import Leadership
from tests.e2e.crash_harness import (
    Deployment, HubProcess, Producer, deployment, stored_versions, verdict, wait_until_settled,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
def deployed(tmp_path: Path, postgres_schema_url: str, request: pytest.FixtureRequest) -> Any:
    marker = request.node.get_closest_marker("hub_settings")
    with deployment(tmp_path / "several", postgres_schema_url, **(marker.kwargs if marker else {})) as running:
        yield running


def more_hubs(deployed: Deployment, count: int, stack: ExitStack) -> list[HubProcess]:
    """`count` more hub processes over the same database and var_dir (each takes its own process slot)."""
    hubs = []
    for number in range(count):
        hub = HubProcess(deployed.hub.env, deployed.root / f"hub-{number + 2}.log")
        stack.callback(lambda hub=hub: hub.kill() if hub.process is not None else None)
        hubs.append(hub)
    return hubs


def stop_all(hubs: list[HubProcess]) -> None:
    for hub in hubs:
        hub.signal(signal.SIGTERM)
    assert [hub.wait(60) for hub in hubs] == [0] * len(hubs)


def readyz(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)


@pytest.mark.parametrize("processes", [2, 4])
async def test_several_processes_deliver_every_version_once(deployed: Deployment, processes: int) -> None:
    with ExitStack() as stack:
        hubs = [deployed.hub, *more_hubs(deployed, processes - 1, stack)]
        urls = [await asyncio.to_thread(hub.start) for hub in hubs]
        producers = [Producer(random.Random(f"{processes}-{n}"), pause_s=(0.0, 0.05)) for n in range(processes)]
        async with aiohttp.ClientSession() as http:
            for _ in range(10):  # every producer posts to every process: the same entities through all of them
                answers = await asyncio.gather(
                    *(p.post(http, urls[(n + turn) % processes], deployed.client_key, p.next_batch())
                      for turn, (n, p) in enumerate(enumerate(producers)))
                )
                assert set(answers) == {202}
        await asyncio.to_thread(wait_until_settled, deployed.store)
        await asyncio.to_thread(stop_all, hubs)
    accepted = set().union(*(p.accepted for p in producers))
    judged = verdict(accepted, deployed.elaas, deployed.store)
    print(f"\n{processes} processes: {judged.figures()}")
    assert judged.accepted == sum(p.posted for p in producers)  # every record of every post made a version
    assert judged.clean, judged


@pytest.mark.hub_settings(PRASAN_DELIVERY__LEASE_S="6", PRASAN_DELIVERY__WRITE_TIMEOUT_S="1")
async def test_a_worker_frozen_past_its_lease_changes_nothing_when_it_resumes(deployed: Deployment) -> None:
    producer = Producer(random.Random(7))
    frozen = deployed.hub
    with ExitStack() as stack:
        (other,) = more_hubs(deployed, 1, stack)
        url = await asyncio.to_thread(frozen.start, "after_claim", PRASAN_CRASH_SIGNAL="SIGSTOP")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            # It may freeze before it has written its 202 (its workers claim within a poll of the commit).
            assert await producer.post(http, url, deployed.client_key, producer.next_batch([0, 1, 2, 3, 4])) in (202, None)
            deadline = time.monotonic() + 30
            while "crash point after_claim: SIGSTOP" not in frozen.log_tail():
                assert time.monotonic() < deadline, frozen.log_tail()
                await asyncio.sleep(0.05)
            # The frozen process holds version 1 of five projects. Another process takes them over once the
            # lease ends, and delivers version 2 of the same projects after them.
            other_url = await asyncio.to_thread(other.start)
            assert await producer.post(http, other_url, deployed.client_key, producer.next_batch([0, 1, 2, 3, 4])) == 202
            await asyncio.to_thread(wait_until_settled, deployed.store)
        stored = stored_versions(deployed.store)
        assert producer.accepted <= stored
        before = verdict(stored, deployed.elaas, deployed.store)
        assert before.clean and before.applied == 10, before
        log_length = len(deployed.elaas.get("log")["entries"])

        frozen.signal(signal.SIGCONT)  # it wakes up holding rows whose lease ended long ago
        await asyncio.sleep(3)
        await asyncio.to_thread(stop_all, [frozen, other])
    after = verdict(stored, deployed.elaas, deployed.store)
    assert after.clean and after.applied == 10, after
    # It sent nothing: its lease was over, so it handed the rows back, and their newer state stands.
    assert len(deployed.elaas.get("log")["entries"]) == log_length


@pytest.mark.hub_settings(PRASAN_SCHEDULER_ENABLED="true")
async def test_the_leader_killed_another_process_schedules_within_the_bound(deployed: Deployment) -> None:
    with ExitStack() as stack:
        (standby,) = more_hubs(deployed, 1, stack)
        leader_url = await asyncio.to_thread(deployed.hub.start)
        standby_url = await asyncio.to_thread(standby.start)
        leader_name = readyz(leader_url)["checks"]["scheduler_leader"]
        assert readyz(standby_url)["checks"]["scheduler_leader"] == leader_name  # standing by

        await asyncio.to_thread(deployed.hub.kill)
        killed = time.monotonic()
        # A dead leader stops renewing; its lease is free ttl_s after its last renewal, and the standby
        # tries every renew_s (core/leader.py): the bound the issue asks to show.
        ttl_s, renew_s = _leadership_timing()
        bound_s = ttl_s + renew_s
        while True:
            checks = readyz(standby_url)["checks"]
            if checks["scheduler_leader"] not in (leader_name, None) and checks["scheduler"] == "ok":
                break
            assert time.monotonic() - killed < bound_s + 5, f"no takeover within {bound_s} s: {checks}"
            await asyncio.sleep(0.2)
        took_s = time.monotonic() - killed
        print(f"\nscheduler taken over {took_s:.1f} s after the leader was killed (bound {bound_s} s)")
        assert took_s <= bound_s
        await asyncio.to_thread(stop_all, [standby])


def _leadership_timing() -> tuple[float, float]:
    defaults = Leadership.__init__.__kwdefaults__ or {}
    return float(defaults["ttl_s"]), float(defaults["renew_s"])
