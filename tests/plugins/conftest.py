"""Fixtures for the built-in plugins: the registry via entry points, reference data, live simulators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from core.plugin_manager import PluginRegistry, get_plugin_manager
from core.reference_data import ReferenceData, load_reference_data

SAMPLES = Path(__file__).resolve().parents[2] / "plugins" / "eplan" / "samples"


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    # Through the entry-point group, the path a third-party plugin takes.
    return get_plugin_manager(load_entrypoints=True)


@pytest.fixture(scope="session")
def reference() -> ReferenceData:
    return load_reference_data()


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def eplan_sim() -> AsyncIterator[str]:
    from plugins.eplan.simulator import create_app

    runner, url = await _serve(create_app())
    yield url
    await runner.cleanup()


@pytest.fixture
async def elaas_sim() -> AsyncIterator[str]:
    from plugins.elaas.simulator import create_app

    runner, url = await _serve(create_app(api_key="test-key"))
    yield url
    await runner.cleanup()
