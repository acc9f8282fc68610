"""`prasan serve` stopped with SIGTERM: it takes nothing new, lets a write in flight finish (or, past
`shutdown_grace_s`, gives it back), exits 0, and its restart finds nothing lost or doubled; a second
SIGTERM exits at once, and the restart takes back what was left in flight. Real processes (the hub as
`prasan serve`, e-LAAS and e-Plan as `prasan simulate`), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from core.store.records import utcnow
from core.store.schema import outbox
from prasan.cli.shutdown import EXIT_FORCED, HARD_MARGIN_S
from tests.e2e.conftest import RunningHub
from tests.e2e.crash_harness import Deployment, Producer, deployment, restart_and_judge

pytestmark = pytest.mark.e2e

SLOW_WRITE_S = 8.0  # e-LAAS answers the next write this late: it is in flight when the signal comes


@pytest.fixture
def deployed(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> Any:
    marker = request.node.get_closest_marker("hub_settings")
    with deployment(tmp_path / "shutdown", database_url, **(marker.kwargs if marker else {})) as running:
        yield running


def rows_in_flight(deployed: Deployment) -> list[Any]:
    with deployed.store.engine.connect() as conn:
        return list(conn.execute(select(outbox.c.id, outbox.c.claim_expires_at).where(outbox.c.state == "in_flight")))


async def _post_and_wait_for_a_write(deployed: Deployment, producer: Producer) -> None:
    deployed.elaas.fault({"status": 503, "times": 1, "delay_s": SLOW_WRITE_S, "message": "slow gateway"})
    deployed.hub.start()
    async with aiohttp.ClientSession() as http:
        assert await producer.post(http, deployed.hub.url, deployed.client_key, producer.next_batch()) == 202
    deadline = time.monotonic() + 30
    while not rows_in_flight(deployed):
        assert time.monotonic() < deadline, "no delivery was ever claimed"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the write is on its way to the slow e-LAAS


def _restart_and_judge(deployed: Deployment, producer: Producer) -> None:
    judged = restart_and_judge(deployed, producer.accepted)
    assert judged.clean, judged


async def test_sigterm_lets_the_write_in_flight_finish_and_exits_0(deployed: Deployment) -> None:
    producer = Producer(random.Random(3))
    await _post_and_wait_for_a_write(deployed, producer)
    deployed.hub.signal(signal.SIGTERM)
    # Bounded by shutdown_grace_s (20 s by default) and the hard margin; the slow write takes 8 s.
    assert await asyncio.to_thread(deployed.hub.wait, 20 + HARD_MARGIN_S) == 0
    assert rows_in_flight(deployed) == []  # the write's answer (503) was recorded: retried later, not cut
    assert "draining" in deployed.hub.log_tail()
    await asyncio.to_thread(_restart_and_judge, deployed, producer)


@pytest.mark.hub_settings(PRASAN_SHUTDOWN_GRACE_S="1")
async def test_past_the_grace_the_deliveries_are_given_back(deployed: Deployment) -> None:
    producer = Producer(random.Random(4))
    await _post_and_wait_for_a_write(deployed, producer)
    deployed.hub.signal(signal.SIGTERM)
    assert await asyncio.to_thread(deployed.hub.wait, 1 + HARD_MARGIN_S) == 0  # the 8 s write is not waited for
    now = utcnow()
    left = rows_in_flight(deployed)
    # Given back: any process may claim them at once, none waits for the lease.
    assert left and all(expires.replace(tzinfo=now.tzinfo) <= now for _, expires in left)
    await asyncio.to_thread(_restart_and_judge, deployed, producer)


async def test_a_second_sigterm_exits_at_once_and_the_restart_takes_back_the_rest(deployed: Deployment) -> None:
    producer = Producer(random.Random(5))
    await _post_and_wait_for_a_write(deployed, producer)
    deployed.hub.signal(signal.SIGTERM)
    await asyncio.sleep(0.2)
    deployed.hub.signal(signal.SIGTERM)
    assert await asyncio.to_thread(deployed.hub.wait, SLOW_WRITE_S / 2) == EXIT_FORCED
    assert rows_in_flight(deployed)  # left as they were; leases of an hour: only the restart can take them back
    await asyncio.to_thread(_restart_and_judge, deployed, producer)


async def test_a_draining_hub_refuses_new_data_with_retry_after(running_hub: RunningHub) -> None:
    running_hub.hub.drain()
    status, answer = await running_hub.post(b"x", "text/csv; charset=utf-8")
    assert status == 503 and answer["rule"] == "hub.draining"
    async with running_hub.http.post(
        f"{running_hub.url}/api/v1/inbound/eplan", data=b"x",
        headers={"Content-Type": "text/csv", "Authorization": f"Bearer {running_hub.eplan_key}"},
    ) as response:
        assert int(response.headers["Retry-After"]) > 0
    ready = await running_hub.get_json(f"{running_hub.url}/readyz")
    assert ready["status"] == "not ready" and ready["checks"]["shutdown"].startswith("draining")
