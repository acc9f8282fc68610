"""The plugin conformance kit: what every system plugin must do, checked the same way for all.

A plugin adopts it with one subclass in its own tests:

    from prasan.testing import PluginConformance, Sample

    class TestMyAgency(PluginConformance):
        system = "myagency"
        samples = [Sample(Path("samples/p02.csv").read_bytes(), "text/csv", "utf-8")]
        entities = [("plan_project", {...canonical JSON body...})]

        def simulator_app(self):            # WRITE plugins: an aiohttp imitation of the system
            return myagency.simulator.create_app()

Checks are chosen from the plugin's declared capabilities: a push plugin's samples must map into valid
canonical entities; a write plugin must map entities out, write idempotently under a repeated delivery
key, and report an unreachable system as retryable rather than failing the record.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from canonical_model import ENTITY_TYPES
from core.plugin_manager import SystemPlugin, get_plugin_manager
from core.plugin_types import Capability, Delivered, Retryable, WriteItem
from core.reference_data import load_reference_data


@dataclass(frozen=True)
class Sample:
    payload: bytes
    media_type: str
    charset: str | None = None


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens there


class PluginConformance:
    system: ClassVar[str]
    samples: ClassVar[list[Sample]] = []
    entities: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def simulator_app(self) -> web.Application | None:
        return None

    def settings_for(self, plugin: SystemPlugin, base_url: str) -> dict[str, Any]:
        """Settings pointing the plugin at `base_url`; override when the plugin needs more."""
        return {"base_url": base_url}

    @pytest.fixture
    def plugin(self) -> SystemPlugin:
        return get_plugin_manager().get(self.system)

    def test_describes_itself(self, plugin: SystemPlugin) -> None:
        description = plugin.description
        assert description.name == self.system
        assert description.title and description.owner_agency and description.version
        assert description.capabilities, "declare what the plugin can do"
        if Capability.WRITE in description.capabilities:
            assert description.writes and set(description.writes) <= set(ENTITY_TYPES)
            assert plugin.implements("prasan_write") and plugin.implements("prasan_map_out")
        if Capability.PUSH in description.capabilities:
            assert plugin.implements("prasan_parse") and plugin.implements("prasan_map_in")
        if Capability.READ in description.capabilities:
            assert plugin.implements("prasan_read")

    def test_settings_are_described_and_secrets_hidden(self, plugin: SystemPlugin) -> None:
        model = plugin.description.settings_model
        if model is None:
            pytest.skip("the plugin has no settings")
        assert model.model_config.get("extra") == "forbid", "unknown settings must be refused"
        for name, field in model.model_fields.items():
            assert field.description, f"setting {name!r} needs a description"
            if any(word in name for word in ("key", "token", "password", "secret")):
                assert field.annotation in (SecretStr, SecretStr | None), f"setting {name!r} must be a SecretStr"

    async def test_samples_map_to_valid_canonical_entities(self, plugin: SystemPlugin) -> None:
        if Capability.PUSH not in plugin.description.capabilities or not self.samples:
            pytest.skip("not a push plugin, or no samples given")
        reference = load_reference_data()
        for sample in self.samples:
            records = await plugin.parse(sample.payload, sample.media_type, sample.charset)
            assert records, "a sample must hold records"
            for record in records:
                for mapped in await plugin.map_in(record, reference):
                    model = ENTITY_TYPES[mapped.entity_type]
                    entity = mapped.payload if isinstance(mapped.payload, model) else model.model_validate(mapped.payload)
                    assert entity.org_code and mapped.external_id

    async def _write(self, plugin: SystemPlugin, base_url: str, items: list[WriteItem]) -> list[Any]:
        settings = plugin.settings_from(self.settings_for(plugin, base_url))
        async with aiohttp.ClientSession() as http:
            return await plugin.write(items, settings, http)

    async def _items(self, plugin: SystemPlugin, key_suffix: str) -> list[WriteItem]:
        reference = load_reference_data()
        items = []
        for index, (entity_type, body) in enumerate(self.entities):
            native = await plugin.map_out(entity_type, body, reference)
            assert native, "map-out must produce a native record"
            items.append(WriteItem(f"{self.system}:conformance{index}:{key_suffix}", f"e{index}", entity_type, 1, native))
        return items

    async def test_a_repeated_delivery_key_has_no_second_effect(self, plugin: SystemPlugin) -> None:
        app = self.simulator_app()
        if Capability.WRITE not in plugin.description.capabilities or app is None or not self.entities:
            pytest.skip("not a write plugin, or no simulator and entities given")
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # the bound port of a port-0 site
        try:
            items = await self._items(plugin, "1")
            first = await self._write(plugin, f"http://127.0.0.1:{port}", items)
            second = await self._write(plugin, f"http://127.0.0.1:{port}", items)
        finally:
            await runner.cleanup()
        assert all(isinstance(result, Delivered) for result in first), first
        assert [r.external_id for r in second] == [r.external_id for r in first], "a repeat must not create anew"

    async def test_an_unreachable_system_is_retryable(self, plugin: SystemPlugin) -> None:
        if Capability.WRITE not in plugin.description.capabilities or not self.entities:
            pytest.skip("not a write plugin, or no entities given")
        items = await self._items(plugin, "unreachable")
        results = await self._write(plugin, f"http://127.0.0.1:{_closed_port()}", items)
        assert results and all(isinstance(result, Retryable) for result in results), results
