"""Killing the hub loses nothing it accepted and applies nothing twice (issue 12).

The hub runs as `prasan serve` against e-Plan and e-LAAS as `prasan simulate --state` processes (they
outlive it). Producers post batches of projects, the same projects again and again with new amounts; the
hub is killed with SIGKILL at random moments and restarted; at the end every version a producer got a
2xx for must have been applied by e-LAAS exactly once (its /_sim/log), in version order, with nothing
left in flight. Then the same at each named step (core/crashpoints.py). Leases are an hour long: what
a killed process held comes back only because its restart takes back its own (core/process_identity.py).

PRASAN_CRASH_CYCLES sets the cycles per database (20 by default); scripts/crash_test.py is the long run.
Why 20: each named step is killed on purpose by the tests below, so the random cycles are there for the
moments nobody named. A kill falls uniformly within the first second after the hub listens, while two
producers post every 0.05-0.25 s and the workers claim, send and acknowledge within a poll (0.05 s): 20
cycles on each database put some 40 kills a run across ingest, claim, send and ack, and every cycle costs
a hub start-up (most of its time), which is what made 30 the suite's slowest test.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.crash_harness import (
    Deployment, Producer, deployment, kill_cycles, restart_and_judge, stored_versions, verdict, wait_until_settled,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CYCLES = int(os.environ.get("PRASAN_CRASH_CYCLES", "20"))


@pytest.fixture
def deployed(tmp_path: Path, database_url: str) -> Deployment:  # type: ignore[misc]
    with deployment(tmp_path / "crash", database_url) as running:
        yield running


def _report(what: str, figures: dict) -> None:
    print(f"\n{what}: {json.dumps(figures, ensure_ascii=False)}")


async def test_random_kills_lose_nothing_and_apply_nothing_twice(deployed: Deployment) -> None:
    seed = int(os.environ.get("PRASAN_CRASH_SEED", random.randrange(1 << 30)))
    figures = await kill_cycles(deployed, CYCLES, seed)
    _report("crash cycles", figures)
    assert figures["posts_2xx"] > 0 and figures["accepted_versions"] > 0
    assert figures["lost"] == 0, figures["problems"]
    assert figures["applied_twice_by_key"] == 0 and figures["applied_twice_by_version"] == 0, figures["problems"]
    assert figures["rolled_back"] == 0, figures["problems"]
    assert set(figures["outbox"]) == {"delivered"}, figures["outbox"]
    assert figures["last_stop_exit_code"] == 0


async def _post_once(deployed: Deployment, producer: Producer, only: list[int] | None = None, armed: bool = True) -> None:
    async with aiohttp.ClientSession() as http:
        status = await producer.post(http, deployed.hub.url, deployed.client_key, producer.next_batch(only))
    # An armed hub may reach its crash point before it has written the 202 (its workers claim within a poll
    # of the commit): the producer then got no answer, and what was stored is judged all the same.
    assert status == 202 or (armed and status is None)


def _died_at(deployed: Deployment, step: str) -> None:
    code = deployed.hub.wait(60)
    assert code == -signal.SIGKILL and f"crash point {step}" in deployed.hub.log_tail(), deployed.hub.log_tail()


def _judge(deployed: Deployment, producer: Producer) -> None:
    stored = stored_versions(deployed.store)
    assert producer.accepted <= stored and stored
    judged = restart_and_judge(deployed, stored)
    _report("verdict", judged.figures())
    assert judged.clean, judged


@pytest.mark.parametrize("step", ["after_claim", "after_send", "after_ack"])
async def test_a_kill_at_each_step_of_a_delivery(deployed: Deployment, step: str) -> None:
    producer = Producer(random.Random(step))
    deployed.hub.start(crash_at=step)
    await _post_once(deployed, producer)
    await asyncio.to_thread(_died_at, deployed, step)
    await asyncio.to_thread(_judge, deployed, producer)
    if step != "after_claim":  # sent before the kill: the restart's send was answered from e-LAAS's memory
        assert verdict(stored_versions(deployed.store), deployed.elaas, deployed.store).replays > 0


def _title(producer: Producer, index: int) -> str:
    return producer.rows[index][4]  # ชื่อโครงการ: unique in the pool, carried into the e-LAAS document


async def test_a_kill_while_dead_lettering(deployed: Deployment) -> None:
    producer = Producer(random.Random(1))
    deployed.elaas.fault({"status": 400, "times": 1, "match": _title(producer, 2), "message": "refused once"})
    deployed.hub.start(crash_at="dead_letter")
    await _post_once(deployed, producer, [1, 2, 3])
    await asyncio.to_thread(_died_at, deployed, "dead_letter")
    # The dead-lettering transaction never committed: the row is still in flight, with no dead letter;
    # the restart takes it back and sends it again (e-LAAS refused it only once).
    assert deployed.store.outbox.list_dead_letters() == []
    await asyncio.to_thread(_judge, deployed, producer)


async def test_a_kill_during_a_replay(deployed: Deployment) -> None:
    producer = Producer(random.Random(2))
    deployed.elaas.fault({"status": 400, "times": 1, "match": _title(producer, 5), "message": "refused once"})
    deployed.hub.start()
    await _post_once(deployed, producer, [4, 5, 6], armed=False)
    await asyncio.to_thread(wait_until_settled, deployed.store)
    (letter,) = deployed.store.outbox.list_dead_letters()
    deployed.hub.signal(signal.SIGTERM)
    assert await asyncio.to_thread(deployed.hub.wait, 60) == 0

    deployed.hub.start(crash_at="replay")
    headers = {"Authorization": f"Bearer {deployed.admin_token}"}
    replay = f"/api/v1/dead-letters/{letter.id}/replay"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientError):  # the hub dies inside the replay's transaction
            async with http.post(deployed.hub.url + replay, headers=headers, json={"note": "fixed"}):
                pass
    await asyncio.to_thread(_died_at, deployed, "replay")
    (still,) = deployed.store.outbox.list_dead_letters()  # rolled back: open, and the row still dead
    assert still.id == letter.id and still.resolved_at is None

    deployed.hub.start()
    async with aiohttp.ClientSession() as http:
        async with http.post(deployed.hub.url + replay, headers=headers, json={"note": "fixed"}) as response:
            assert response.status == 200, await response.text()
    await asyncio.to_thread(wait_until_settled, deployed.store)
    deployed.hub.signal(signal.SIGTERM)
    assert await asyncio.to_thread(deployed.hub.wait, 60) == 0
    judged = verdict(producer.accepted, deployed.elaas, deployed.store)
    _report("verdict", judged.figures())
    assert judged.clean, judged
