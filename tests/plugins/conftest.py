"""Fixtures for the built-in plugins: the registry via entry points, reference data, live simulators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.contract import AgencySystem, await_me_maybe, read_batches
from core.errors import ConfigError
from core.plugin_manager import PluginRegistry, load_plugins, validate_settings
from core.plugin_types import Health, MappedRecord, NativeRecord, ReadBatch, WriteItem
from core.reference_data import ReferenceData, load_reference_data
from prasan.testing import served

SAMPLES = Path(__file__).resolve().parents[2] / "plugins" / "eplan" / "samples"


class CallWithSettings:
    """A registered system whose methods take their settings and session per call, as these tests were
    written. Each call builds the system object exactly as the hub does (settings validated by the
    registry, constructed with the hub's context, started with the session), then calls the method."""

    def __init__(self, registry: PluginRegistry, name: str) -> None:
        self.registry, self.name = registry, name
        self.registered = registry.get(name)
        self.description = self.registered.description

    def settings_from(self, raw: dict[str, Any] | None) -> Any:
        settings, problems = validate_settings(self.registered.cls, raw)
        if problems:
            raise ConfigError("; ".join(str(p) for p in problems), system=self.name)
        return settings

    def _system(self, settings: Any = None, http: aiohttp.ClientSession | None = None) -> AgencySystem:
        raw = settings.model_dump(mode="python") if settings is not None else {}
        if settings is not None and "api_key" in raw and raw["api_key"] is not None:
            raw["api_key"] = settings.api_key.get_secret_value()
        system = self.registry.configure(load_reference_data(), {self.name: raw}).get(self.name)
        system._http = http  # what start(http) does for these plugins
        return system

    async def parse(self, payload: bytes, media_type: str, charset: str | None) -> list[NativeRecord]:
        return await await_me_maybe(self._system().parse(payload, media_type, charset))

    async def map_in(self, record: NativeRecord, reference: Any = None) -> list[MappedRecord]:
        return await await_me_maybe(self._system().map_in(record))

    async def map_out(self, entity_type: str, entity: dict[str, Any], reference: Any = None) -> dict[str, Any]:
        return await await_me_maybe(self._system(self._default_settings()).map_out(entity_type, entity))

    async def read(self, entity_type: str, cursor: str | None, settings: Any, http: aiohttp.ClientSession) -> list[ReadBatch]:
        system = self._system(settings, http)
        return await read_batches(system, system.stream_for(entity_type), cursor)

    async def write(self, batch: list[WriteItem], settings: Any, http: aiohttp.ClientSession) -> list[Any]:
        return await self._system(settings, http).write(batch)

    async def healthcheck(self, settings: Any, http: aiohttp.ClientSession) -> Health:
        return await self._system(settings, http).healthcheck()

    def _default_settings(self) -> Any:
        # map_out needs no connection, but the system object needs valid settings to exist.
        return self.settings_from(self.registered.cls.simulator_settings("http://127.0.0.1:9"))


class Plugins:
    def __init__(self, registry: PluginRegistry) -> None:
        self.registry = registry

    def get(self, name: str) -> CallWithSettings:
        return CallWithSettings(self.registry, name)

    def names(self) -> list[str]:
        return self.registry.names()


@pytest.fixture(scope="session")
def registry() -> Plugins:
    # Through the entry-point group, the path a third-party plugin takes.
    return Plugins(load_plugins(load_entrypoints=True))


@pytest.fixture(scope="session")
def reference() -> ReferenceData:
    return load_reference_data()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def eplan_sim() -> AsyncIterator[str]:
    from plugins.eplan.simulator import create_app

    async with served(create_app()) as url:
        yield url


@pytest.fixture
async def elaas_sim() -> AsyncIterator[str]:
    from plugins.elaas.simulator import create_app

    async with served(create_app(api_key="test-key")) as url:
        yield url
