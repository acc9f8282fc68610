"""Delivery when the hub's own configuration is wrong: the backlog waits for the fix instead of being
dead-lettered, and drains once the credentials are right."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from core.store.schema import outbox
from plugins.elaas import simulator as elaas_simulator
from tests.e2e.conftest import RunningHub
from tests.e2e.test_hub_end_to_end import documents_by_project, p02_rows, to_csv

pytestmark = pytest.mark.e2e


async def test_wrong_credentials_keep_the_backlog_pending_until_they_are_fixed(running_hub: RunningHub) -> None:
    hub = running_hub
    elaas = hub.hub.settings.systems["elaas"]
    elaas["api_key"] = "not-the-key"  # read by the workers on every write
    status, _ = await hub.post(to_csv(p02_rows(3)), "text/csv; charset=utf-8")
    assert status == 202

    def rows() -> list[tuple[str, int, str | None]]:
        with hub.hub.store.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(outbox.c.state, outbox.c.attempts, outbox.c.last_error))]

    async def tried_twice() -> bool:
        found = await asyncio.to_thread(rows)
        return len(found) == 3 and all(attempts >= 2 for _, attempts, _ in found)

    await hub.wait_until(tried_twice, "every delivery attempted at least twice")
    found = await asyncio.to_thread(rows)
    assert {state for state, _, _ in found} <= {"pending", "in_flight"}
    assert all(error and error.startswith("configuration: ") and "credentials" in error for _, _, error in found)
    assert await asyncio.to_thread(hub.hub.store.list_dead_letters) == []
    assert await documents_by_project(hub) == {}

    elaas["api_key"] = elaas_simulator.DEFAULT_API_KEY
    await hub.wait_until(hub.settled, "backlog delivered once the credentials are right")
    assert len(await documents_by_project(hub)) == 3
    assert await asyncio.to_thread(hub.hub.store.list_dead_letters) == []
