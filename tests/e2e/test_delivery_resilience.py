"""Delivery when the hub's own configuration is wrong: the destination is held, its backlog waits for
the fix without using attempts or being dead-lettered, and drains once the credentials are right."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from core.store.schema import outbox
from tests.e2e.conftest import RunningHub
from tests.e2e.test_hub_end_to_end import documents_by_project, p02_rows, to_csv

pytestmark = pytest.mark.e2e


async def test_wrong_credentials_hold_the_destination_until_they_are_fixed(running_hub: RunningHub) -> None:
    hub = running_hub
    configured = dict(hub.hub.settings.systems["elaas"])
    hub.hub.systems.reconfigure("elaas", {**configured, "api_key": "not-the-key"})  # e-LAAS answers 401
    status, _ = await hub.post(to_csv(p02_rows(3)), "text/csv; charset=utf-8")
    assert status == 202

    def rows() -> list[tuple[str, int, str | None]]:
        with hub.hub.store.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(outbox.c.state, outbox.c.attempts, outbox.c.last_error))]

    async def held() -> bool:
        found = await asyncio.to_thread(rows)
        return len(found) == 3 and all(error and error.startswith("destination held: ") for _, _, error in found)

    await hub.wait_until(held, "every delivery handed back by a held destination")
    await asyncio.sleep(1.0)  # several hold periods (0.3 s each): tried again, held again
    found = await asyncio.to_thread(rows)
    assert {state for state, _, _ in found} <= {"pending", "in_flight"}
    assert all(attempts <= 1 for _, attempts, _ in found)  # holding uses no attempt (1: one in flight now)
    assert all("credentials" in (error or "") for _, _, error in found)
    assert await asyncio.to_thread(hub.hub.store.outbox.list_dead_letters) == []
    assert await documents_by_project(hub) == {}
    answer = await hub.get_json(f"{hub.url}/readyz")
    assert "credentials" in answer["checks"]["plugins"]["held_destinations"]["elaas"]

    await asyncio.to_thread(hub.hub.reconfigure_system, "elaas", configured)
    await hub.wait_until(hub.settled, "backlog delivered once the credentials are right")
    assert len(await documents_by_project(hub)) == 3
    assert await asyncio.to_thread(hub.hub.store.outbox.list_dead_letters) == []



@pytest.mark.hub_settings(delivery={"config_hold_s": 3600, "workers": 1})
async def test_a_configuration_change_releases_a_held_destination_at_once(running_hub: RunningHub) -> None:
    hub = running_hub
    configured = dict(hub.hub.settings.systems["elaas"])
    hub.hub.systems.reconfigure("elaas", {**configured, "api_key": "not-the-key"})
    status, _ = await hub.post(to_csv(p02_rows(2)), "text/csv; charset=utf-8")
    assert status == 202

    async def held() -> bool:
        return any(w.hold_kind == "config" for w in hub.hub.workers)

    await hub.wait_until(held, "e-LAAS held for its refused credentials (for an hour)")
    # The operator fixes the setting: the hour-long hold ends now, the backlog goes out.
    await asyncio.to_thread(hub.hub.reconfigure_system, "elaas", configured)
    await hub.wait_until(hub.settled, "backlog delivered right after the fix, not an hour later")
    assert len(await documents_by_project(hub)) == 2
