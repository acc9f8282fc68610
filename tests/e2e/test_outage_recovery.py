"""An agency system's outage ends with everything delivered and nothing left for an operator: the hub's
outage budget, compressed by its settings (backoff 10 ms, a 2 s retry window), against the e-LAAS
simulator answering 503 to every write for longer than that window. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from core.settings import DeliverySettings
from core.store.schema import outbox
from tests.e2e.conftest import RunningHub, hub_with_simulators
from tests.e2e.test_hub_end_to_end import p02_rows, to_csv

pytestmark = pytest.mark.e2e

WINDOW_S = 2.0
DELIVERY = DeliverySettings(
    backoff_base_s=0.01,
    backoff_max_s=0.05,
    retry_window_s=WINDOW_S,
    down_after_failures=3,
    down_probe_max_s=0.05,
    poll_interval_s=0.02,
    workers=2,
    config_hold_s=0.3,
)


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[RunningHub]:
    """e-plan and e-LAAS simulators and a hub whose delivery settings compress a day into seconds."""
    async with hub_with_simulators(database_url, scheduler_enabled=False, delivery=DELIVERY) as running:
        yield running


async def fault(hub: RunningHub, spec: dict[str, Any] | None) -> None:
    method, body = ("POST", spec) if spec is not None else ("DELETE", None)
    async with hub.http.request(method, f"{hub.elaas_url}/_sim/faults", json=body) as response:
        assert response.status < 300


def outbox_rows(hub: RunningHub) -> list[tuple[str, int, str, int]]:
    with hub.hub.store.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(outbox.c.entity_id, outbox.c.version, outbox.c.state, outbox.c.attempts).order_by(outbox.c.id)
            )
        ]


async def log_entries(hub: RunningHub) -> list[dict[str, Any]]:
    return (await hub.elaas("log"))["entries"]


def changed(rows: list[list[str]], which: list[int]) -> list[list[str]]:
    """The same projects, with the first year's amount changed for the rows in `which`."""
    out = [list(row) for row in rows]
    for index in which:
        out[index][7] = f"{900_000 + index:,}.00"
    return out


async def test_an_outage_longer_than_the_window_ends_delivered_in_order(hub: RunningHub) -> None:
    await fault(hub, {"status": 503, "times": 1_000_000, "message": "e-LAAS is down for maintenance"})
    rows = p02_rows(6)
    status, first = await hub.post(to_csv(rows), "text/csv; charset=utf-8")
    assert status == 202 and first["accepted"] == 6

    async def down() -> bool:
        return any(w.held and (w.held_reason or "").startswith("down: ") for w in hub.hub.workers)

    await hub.wait_until(down, "e-LAAS held as down")
    # Changes made during the outage: version 2 of three projects, queued behind their version 1.
    status, second = await hub.post(to_csv(changed(rows, [0, 2, 4])), "text/csv; charset=utf-8")
    assert status == 202 and sorted(e["version"] for e in second["entities"]) == [1, 1, 1, 2, 2, 2]

    await asyncio.sleep(WINDOW_S * 1.5)  # the outage outlasts every delivery's retry window
    refused = [e for e in await log_entries(hub) if e["status"] == 503]
    assert len(refused) > 20  # probed again and again: far more tries than the route's 8 attempts
    assert await asyncio.to_thread(hub.hub.store.outbox.list_dead_letters) == []
    found = await asyncio.to_thread(outbox_rows, hub)
    assert {state for _, _, state, _ in found} <= {"pending", "in_flight"}
    assert max(attempts for _, _, _, attempts in found) <= DELIVERY.down_after_failures  # attempts barely used
    ready = await hub.get_json(f"{hub.url}/readyz")
    assert ready["checks"]["plugins"]["held_destinations"]["elaas"].startswith("down: ")
    assert "503" in ready["checks"]["plugins"]["held_destinations"]["elaas"]

    await fault(hub, None)  # e-LAAS is back
    await hub.wait_until(hub.settled, "the backlog delivered without an operator")
    found = await asyncio.to_thread(outbox_rows, hub)
    assert len(found) == 9 and {state for _, _, state, _ in found} == {"delivered"}
    assert await asyncio.to_thread(hub.hub.store.outbox.list_dead_letters) == []
    assert not any(w.held for w in hub.hub.workers)
    ready = await hub.get_json(f"{hub.url}/readyz")
    assert "held_destinations" not in ready["checks"]["plugins"]

    # Every version reached e-LAAS, and per entity in version order.
    written: dict[str, list[int]] = {}
    for entry in await log_entries(hub):
        key = entry["idempotency_key"]
        if key and entry["status"] < 300:
            _, entity_id, version = key.split(":")
            written.setdefault(entity_id, []).append(int(version))
    latest = {entity_id: version for entity_id, version, _, _ in found}
    assert set(written) == set(latest)
    for entity_id, versions in written.items():
        assert versions == sorted(versions) and versions[-1] == latest[entity_id]
        assert set(versions) == set(range(1, latest[entity_id] + 1))


async def test_a_dead_letter_superseded_by_a_delivered_version_is_closed(hub: RunningHub) -> None:
    rows = p02_rows(2)
    await fault(hub, {"status": 400, "times": 1, "match": rows[0][4]})  # e-LAAS refuses version 1 of one project
    status, first = await hub.post(to_csv(rows), "text/csv; charset=utf-8")
    assert status == 202
    await hub.wait_until(hub.settled, "version 1 settled")
    (letter,) = await asyncio.to_thread(hub.hub.store.outbox.list_dead_letters)
    assert letter.version == 1 and "400" in letter.reason
    assert (await asyncio.to_thread(hub.hub.store.gauge_snapshot)).unresolved_dead_letters == {"elaas": 1}

    status, second = await hub.post(to_csv(changed(rows, [0])), "text/csv; charset=utf-8")
    assert status == 202
    await hub.wait_until(hub.settled, "version 2 delivered")
    assert await asyncio.to_thread(hub.hub.store.outbox.list_dead_letters) == []
    closed = await asyncio.to_thread(hub.hub.store.outbox.get_dead_letter, letter.id)
    assert closed.resolution == "superseded"
    assert closed.resolution_note.startswith("superseded by version 2 delivered at ")
    assert (await asyncio.to_thread(hub.hub.store.gauge_snapshot)).unresolved_dead_letters == {}
    metrics = await (await hub.http.get(f"{hub.url}/metrics")).text()
    assert 'prasan_dead_letters{destination="elaas"} 1' not in metrics
