"""The plugin contract: entry-point loading, per-system hook calls, async hooks, duplicate systems."""

from __future__ import annotations

import inspect

import pytest

from core import hookspecs
from core.errors import ConfigError
from core.hookspecs import hookimpl
from core.plugin_manager import get_plugin_manager
from core.plugin_types import Capability, Delivered, MappedRecord, NativeRecord, SystemDescription


class EchoPlugin:
    """A third-party-style plugin with async hooks, counting every call it receives."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[str] = []

    @hookimpl
    def prasan_systems(self) -> list[SystemDescription]:
        return [
            SystemDescription(
                name=self.name,
                title="Echo",
                owner_agency="test",
                version="0.0.1",
                reads=("plan_project",),
                writes=("plan_project",),
                capabilities=frozenset({Capability.PUSH, Capability.WRITE}),
            )
        ]

    @hookimpl
    async def prasan_map_in(self, system: str, record: NativeRecord) -> list[MappedRecord]:
        self.calls.append(f"map_in:{system}")
        return [MappedRecord("plan_project", str(record.row), {"org_code": "6810403", "title": "x"})]

    @hookimpl
    def prasan_write(self, system, batch):  # fewer arguments than the spec: allowed by pluggy
        self.calls.append(f"write:{system}")
        return [Delivered(f"{self.name}-{item.delivery_key}") for item in batch]


def test_builtin_plugins_come_through_the_entry_point_group() -> None:
    registry = get_plugin_manager()
    assert {"eplan", "elaas"} <= set(registry.names())
    assert registry.get("elaas").description.writes


def test_disabled_and_allow_listed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRASAN_DISABLED_PLUGINS", "elaas")
    assert "elaas" not in get_plugin_manager()
    monkeypatch.delenv("PRASAN_DISABLED_PLUGINS")
    monkeypatch.setenv("PRASAN_LOAD_PLUGINS", "eplan")
    assert get_plugin_manager().names() == ["eplan"]


async def test_a_systems_hooks_are_called_for_that_system_alone() -> None:
    first, second = EchoPlugin("echo_a"), EchoPlugin("echo_b")
    registry = get_plugin_manager(load_entrypoints=False, extra_plugins=[("a", first), ("b", second)])
    mapped = await registry.get("echo_a").map_in(NativeRecord(1, {}), reference=None)
    assert mapped[0].external_id == "1"
    assert first.calls == ["map_in:echo_a"] and second.calls == []
    from core.plugin_types import WriteItem

    item = WriteItem("echo_b:x:1", "x", "plan_project", 1, {})
    [result] = await registry.get("echo_b").write([item], settings=None, http=None)
    assert result == Delivered("echo_b-echo_b:x:1")
    assert second.calls == ["write:echo_b"] and first.calls == ["map_in:echo_a"]


def test_two_plugins_claiming_one_system_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="provided by two plugins"):
        get_plugin_manager(load_entrypoints=False, extra_plugins=[("a", EchoPlugin("same")), ("b", EchoPlugin("same"))])


def test_every_hook_is_documented_with_its_arguments_and_result() -> None:
    specs = [getattr(hookspecs, name) for name in dir(hookspecs) if name.startswith("prasan_")]
    assert len(specs) == 7
    for spec in specs:
        doc = inspect.getdoc(spec) or ""
        assert len(doc.splitlines()) >= 2, f"{spec.__name__} needs a real docstring"
        parameters = [p for p in inspect.signature(spec).parameters if p != "self"]
        if len(parameters) > 2:
            assert "Args:" in doc or all(p in doc for p in parameters), f"{spec.__name__} must explain its arguments"
        assert "Returns:" in doc, f"{spec.__name__} must say what it returns"
