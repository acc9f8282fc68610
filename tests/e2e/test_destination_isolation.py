"""Each destination is delivered on its own: a system that hangs delays only itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from admin_api.app import create_app
from core.hub import Hub
from core.plugin_manager import load_plugins
from core.settings import DeliverySettings, HubSettings
from plugins.elaas import simulator as elaas_simulator
from prasan import RestSystem, WriteItem, WriteResult, hookimpl
from tests.e2e.conftest import RunningHub, _start
from tests.e2e.test_hub_end_to_end import documents_by_project, p02_rows, to_csv

pytestmark = pytest.mark.e2e


class Stalled(RestSystem):
    """A destination whose service accepts connections and then does not answer."""

    name = "stalled"
    title = "A system that hangs"
    owner_agency = "test"
    writes = ("plan_project",)
    write_timeout_s = 20.0

    def map_out(self, entity_type: str, entity: dict[str, Any]) -> dict[str, Any]:
        return {"title": entity["title"]}

    async def write(self, batch: list[WriteItem]) -> list[WriteResult]:
        return [await self.send("POST", "/records", item) for item in batch]


class StalledPlugin:
    @hookimpl
    def prasan_register(self, register: Any) -> None:
        register.add_system(Stalled)


def stalled_service(release: asyncio.Event, received: list[str]) -> web.Application:
    async def record(request: web.Request) -> web.Response:
        received.append(request.headers.get("Idempotency-Key", ""))
        await release.wait()
        return web.json_response({"id": len(received)})

    app = web.Application()
    app.router.add_post("/records", record)
    return app


async def test_a_hanging_destination_does_not_delay_another(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "routes.yaml").write_text(
        "routes:\n  - {name: both, source: eplan, entity_types: [plan_project], destinations: [elaas, stalled]}\n",
        encoding="utf-8",
    )
    release, received = asyncio.Event(), []
    elaas_runner, elaas_url = await _start(elaas_simulator.create_app())
    stalled_runner, stalled_url = await _start(stalled_service(release, received))
    settings = HubSettings(
        database_url=database_url,
        config_dir=tmp_path,
        scheduler_enabled=False,
        delivery=DeliverySettings(poll_interval_s=0.02, workers=1, lease_s=60, write_timeout_s=30),
        systems={
            "elaas": {"base_url": elaas_url, "api_key": elaas_simulator.DEFAULT_API_KEY},
            "stalled": {"base_url": stalled_url},
        },
    )
    hub = Hub.build(settings, registry=load_plugins(extra_plugins=[("stalled", StalledPlugin())]))
    hub_runner, hub_url = await _start(create_app(hub))
    _, key = await asyncio.to_thread(hub.store.access.add_client, "isolation", "eplan")
    try:
        async with aiohttp.ClientSession() as http:
            running = RunningHub(hub, hub_url, elaas_url, "", key, http)
            rows = p02_rows(5)
            status, _ = await running.post(to_csv(rows[:1]), "text/csv; charset=utf-8")
            assert status == 202

            async def stalled_is_writing() -> bool:
                return len(received) == 1

            await running.wait_until(stalled_is_writing, "the stalled system receives its first write")
            # Posted while a write to the stalled system hangs: one shared worker would be stuck there.
            status, _ = await running.post(to_csv(rows[1:]), "text/csv; charset=utf-8")
            assert status == 202

            async def elaas_has_all() -> bool:
                return len(await documents_by_project(running)) == 5

            await running.wait_until(elaas_has_all, "e-LAAS receives every project while the other system hangs")

            assert len(received) == 1 and not release.is_set()  # the stalled system is still on its first write

            async def elaas_settled() -> bool:
                # e-LAAS has the documents a moment before the worker has stored its answer.
                stats = {s.destination: s for s in await asyncio.to_thread(hub.store.outbox.outbox_stats)}
                return stats["elaas"].pending == 0 and stats["elaas"].in_flight == 0

            await running.wait_until(elaas_settled, "e-LAAS's deliveries recorded while the other system hangs")
            stats = {s.destination: s for s in await asyncio.to_thread(hub.store.outbox.outbox_stats)}
            assert stats["stalled"].in_flight + stats["stalled"].pending == 5 and not release.is_set()

            release.set()
            await running.wait_until(running.settled, "the stalled system catches up once it answers")
            assert len(set(received)) == 5
    finally:
        release.set()
        await hub_runner.cleanup()
        await stalled_runner.cleanup()
        await elaas_runner.cleanup()
