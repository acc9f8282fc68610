"""A real hub with real simulators on 127.0.0.1: HTTP servers, a SQLite file, delivery workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from admin_api.app import create_app, serve
from core.hub import Hub
from core.plugin_manager import load_plugins
from core.settings import DeliverySettings, HubSettings
from plugins.elaas import simulator as elaas_simulator
from plugins.eplan import simulator as eplan_simulator


@dataclass
class RunningHub:
    hub: Hub
    url: str
    elaas_url: str
    eplan_url: str
    eplan_key: str
    http: aiohttp.ClientSession
    admin_token: str = ""  # role admin; hub URLs read with get_json send it
    app: web.Application | None = None

    async def post(self, body: bytes, content_type: str, key: str | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {key or self.eplan_key}"}
        async with self.http.post(f"{self.url}/api/v1/inbound/eplan", data=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    async def get_json(self, url: str) -> Any:
        headers = {"Authorization": f"Bearer {self.admin_token}"} if url.startswith(self.url) else {}
        async with self.http.get(url, headers=headers) as response:
            return await response.json(content_type=None)

    async def elaas(self, what: str) -> Any:
        return await self.get_json(f"{self.elaas_url}/_sim/{what}")

    async def wait_until(self, condition: Callable[[], Awaitable[bool]], what: str, limit_s: float = 30.0) -> None:
        """Poll until the condition holds; the limit only stops a broken run from hanging."""
        deadline = asyncio.get_running_loop().time() + limit_s
        while not await condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"gave up waiting for: {what}")
            await asyncio.sleep(0.05)

    async def settled(self) -> bool:
        """No delivery pending or in flight."""
        stats = await asyncio.to_thread(self.hub.store.outbox.outbox_stats)
        return all(s.pending == 0 and s.in_flight == 0 for s in stats)


async def _start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner, port = await serve(app, "127.0.0.1", 0)
    return runner, f"http://127.0.0.1:{port}"


@asynccontextmanager
async def hub_with_simulators(database_url: str, **settings: Any) -> AsyncIterator[RunningHub]:
    """A hub on `database_url` with e-plan and e-LAAS simulators only, an e-plan client and an admin token;
    `settings` are further HubSettings fields (delivery, scheduler_enabled, ...)."""
    elaas_runner, elaas_url = await _start(elaas_simulator.create_app())
    eplan_runner, eplan_url = await _start(eplan_simulator.create_app())
    built = Hub.build(HubSettings(
        database_url=database_url,
        systems={
            "elaas": {"base_url": elaas_url, "api_key": elaas_simulator.DEFAULT_API_KEY},
            "eplan": {"base_url": eplan_url},
        },
        **settings,
    ))
    hub_runner, hub_url = await _start(create_app(built))
    _, key = await asyncio.to_thread(built.store.access.add_client, "outage", "eplan")
    _, token = await asyncio.to_thread(built.store.access.add_admin_token, "outage-admin", "admin", actor="test")
    try:
        async with aiohttp.ClientSession() as http:
            yield RunningHub(built, hub_url, elaas_url, eplan_url, key, http, token)
    finally:
        await hub_runner.cleanup()
        await elaas_runner.cleanup()
        await eplan_runner.cleanup()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The embedded default and the production store: every end-to-end test runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
async def running_hub(database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[RunningHub]:
    """`@pytest.mark.hub_settings(**fields)` on a test overrides HubSettings fields (e.g. security)."""
    marker = request.node.get_closest_marker("hub_settings")
    overrides = dict(marker.kwargs) if marker else {}
    elaas_runner, elaas_url = await _start(elaas_simulator.create_app())
    eplan_runner, eplan_url = await _start(eplan_simulator.create_app())
    # Every other installed system runs against its own simulator too, so the hub is healthy as a whole.
    others: dict[str, dict[str, Any]] = {}
    other_runners: list[web.AppRunner] = []
    for name, registered in load_plugins().systems.items():
        app = None if name in ("eplan", "elaas") else registered.cls.simulator()
        if app is not None:
            runner, url = await _start(app)
            other_runners.append(runner)
            others[name] = registered.cls.simulator_settings(url)
    settings = HubSettings(
        database_url=database_url,
        scheduler_enabled=False,
        delivery=DeliverySettings(
            **{
                "backoff_base_s": 0.05, "backoff_max_s": 0.2, "poll_interval_s": 0.02, "workers": 2,
                "config_hold_s": 0.3, **overrides.pop("delivery", {}),
            }
        ),
        systems={
            **others,
            "elaas": {"base_url": elaas_url, "api_key": elaas_simulator.DEFAULT_API_KEY},
            "eplan": {"base_url": eplan_url},
        },
        **overrides,
    )
    hub = Hub.build(settings)
    app = create_app(hub)
    hub_runner, hub_url = await _start(app)
    _, key = await asyncio.to_thread(hub.store.access.add_client, "e2e-eplan", "eplan")
    _, admin_token = await asyncio.to_thread(hub.store.access.add_admin_token, "e2e-admin", "admin", actor="test")
    async with aiohttp.ClientSession() as http:
        yield RunningHub(hub, hub_url, elaas_url, eplan_url, key, http, admin_token, app)
    await hub_runner.cleanup()
    await elaas_runner.cleanup()
    await eplan_runner.cleanup()
    for runner in other_runners:
        await runner.cleanup()
