"""The plugin contract: registration through one hook, entry points, failures that leave the rest of the
hub running, clashes that stop it, settings validated once, converters and code lists namespaced."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field, SecretStr

from core import hookspecs
from core.errors import ConfigError
from core.mapping import Mapping
from core.mapping.converters import ConverterClash, ConverterTable, ConverterType
from core.plugin_manager import SystemNotConfigured, load_plugins
from core.reference_data import load_reference_data
from prasan import (
    AgencySystem,
    Capability,
    ConverterArgs,
    Converter,
    Delivered,
    MappedRecord,
    NativeRecord,
    Stream,
    SystemSettings,
    WriteItem,
    hookimpl,
)
from tests.unimportable_plugin import install_unimportable_plugin


class EchoSettings(SystemSettings):
    api_key: SecretStr = Field(description="key the echo system wants")
    retries: int = Field(3, ge=0, description="how often to try")


def echo_system(system_name: str) -> type[AgencySystem]:
    class Echo(AgencySystem):
        name = system_name
        title = "Echo"
        owner_agency = "test"
        Settings = EchoSettings
        formats = ("application/json",)
        streams = (Stream(entity_type="plan_project"), Stream(entity_type="budget_line", interval_s=60))
        writes = ("plan_project",)
        write_batch_size = 10

        def parse(self, payload: bytes, media_type: str, charset: str | None) -> list[NativeRecord]:
            return [NativeRecord(1, {"payload": payload.decode()})]

        async def read(self, stream: Stream, cursor: str | None) -> Any:
            raise NotImplementedError

        async def map_in(self, record: NativeRecord) -> list[MappedRecord]:
            return [MappedRecord("plan_project", str(record.row), {"org_code": "6810403", "title": "x"})]

        def map_out(self, entity_type: str, entity: dict[str, Any]) -> dict[str, Any]:
            return dict(entity)

        async def write(self, batch: list[WriteItem]) -> list[Delivered]:
            return [Delivered(f"{self.name}-{item.delivery_key}") for item in batch]

    return Echo


class Namespace:
    """A plugin object with its hooks as attributes (a module stands in the real world); hashable,
    as pluggy requires."""

    def __init__(self, **hooks: Any) -> None:
        self.__dict__.update(hooks)


def plugin(*systems: type[AgencySystem], **extra: Any) -> Namespace:
    def prasan_register(register: Any) -> None:
        for system in systems:
            register.add_system(system)
        for name, (args, build) in extra.items():
            register.add_converter(name, args, build)

    return Namespace(prasan_register=hookimpl(prasan_register))


def test_builtin_plugins_come_through_the_entry_point_group() -> None:
    registry = load_plugins()
    assert set(registry.names()) == {"eplan", "elaas", "egp", "gfmis", "ebudget", "sola"}
    assert registry.get("elaas").description.writes
    assert registry.failures == []
    assert {"eplan.known_org", "elaas.guid"} <= set(registry.converters.names())


def test_disabled_and_allow_listed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRASAN_DISABLED_PLUGINS", "elaas")
    assert "elaas" not in load_plugins()
    monkeypatch.delenv("PRASAN_DISABLED_PLUGINS")
    monkeypatch.setenv("PRASAN_LOAD_PLUGINS", "eplan")
    assert load_plugins().names() == ["eplan"]


def test_capabilities_and_streams_come_from_the_declarations() -> None:
    registry = load_plugins(load_entrypoints=False, extra_plugins=[("echo", plugin(echo_system("echo")))])
    description = registry.get("echo").description
    assert description.capabilities == {
        Capability.PUSH, Capability.READ, Capability.INCREMENTAL, Capability.WRITE, Capability.BATCH_WRITE
    }
    assert description.reads == ("plan_project", "budget_line")
    assert registry.get("echo").cls.stream_for("budget_line").interval_s == 60


async def test_settings_are_validated_once_and_a_missing_secret_is_named() -> None:
    registry = load_plugins(load_entrypoints=False, extra_plugins=[("a", plugin(echo_system("echo_a"), echo_system("echo_b")))])
    systems = registry.configure(load_reference_data(), {"echo_a": {"api_key": "s3cret-value"}, "echo_b": {"retries": -1}})
    assert systems.names() == ["echo_a"]
    problems = {p.setting: p.message for p in systems.problems["echo_b"]}
    assert set(problems) == {"api_key", "retries"}
    with pytest.raises(SystemNotConfigured, match="api_key"):
        systems.get("echo_b")
    echo = systems.get("echo_a")
    assert "s3cret-value" not in repr(echo.settings)
    [result] = await echo.write([WriteItem("echo_a:x:1", "x", "plan_project", 1, {})])
    assert result == Delivered("echo_a-echo_a:x:1")


def test_a_plugin_that_cannot_be_imported_is_reported_and_the_rest_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    install_unimportable_plugin(monkeypatch, "broken", "prasan_broken")
    registry = load_plugins()
    assert {"eplan", "elaas"} <= set(registry.names())
    [failure] = registry.failures
    assert (failure.plugin, failure.stage) == ("broken", "import") and "prasan_broken" in failure.error


def test_plugins_whose_registration_or_declaration_fails_are_left_out() -> None:
    def explode(register: Any) -> None:
        raise RuntimeError("boom")

    class NoWrite(AgencySystem):
        name = "nowrite"
        title = "No write"
        owner_agency = "test"
        writes = ("plan_project",)  # declares a destination but implements neither map_out nor write

    old_style = Namespace(prasan_write=hookimpl(lambda batch: []))  # contract 1's hook
    registry = load_plugins(
        load_entrypoints=False,
        extra_plugins=[
            ("exploding", Namespace(prasan_register=hookimpl(explode))),
            ("nowrite", plugin(NoWrite)),
            ("old", old_style),
            ("fine", plugin(echo_system("fine"))),
        ],
    )
    assert registry.names() == ["fine"]
    stages = {f.plugin: (f.stage, f.error) for f in registry.failures}
    assert stages["exploding"][0] == "register" and "boom" in stages["exploding"][1]
    assert stages["nowrite"][0] == "declaration" and "does not implement map_out()" in stages["nowrite"][1]
    assert stages["old"][0] == "register" and "prasan_write" in stages["old"][1]


def test_two_plugins_claiming_one_system_is_an_error_naming_both() -> None:
    with pytest.raises(ConfigError, match="provided by two plugins: 'a' and 'b'"):
        load_plugins(load_entrypoints=False, extra_plugins=[("a", plugin(echo_system("same"))), ("b", plugin(echo_system("same")))])


class UpperArgs(ConverterArgs):
    pass


def upper(args: UpperArgs, reference: Any) -> Converter:
    return Converter(str.upper, str.lower)


def test_converters_are_namespaced_by_plugin_and_reach_mappings() -> None:
    registry = load_plugins(load_entrypoints=False, extra_plugins=[("shout", plugin(upper=(UpperArgs, upper)))])
    assert registry.converters.owner("shout.upper") == "shout"
    spec = """
mapping: t
version: 1
system: shout
entity_type: plan_project
direction: both
fields:
  - {target: title, source: name, convert: shout.upper}
"""
    mapping = Mapping.from_yaml(spec, converters=registry.converters)
    assert mapping.map_in({"name": "abc"}) == {"title": "ABC"}
    with pytest.raises(Exception, match="unknown converter 'shout.upper'"):
        Mapping.from_yaml(spec)  # without the hub's table, a plugin's converter is not known


def test_a_converter_name_is_given_out_once() -> None:
    # Plugin converters are named after their plugin, so two plugins cannot meet in one name; the table
    # still refuses a second owner (or a core name) rather than letting one silently replace the other.
    table = ConverterTable()
    table.add("shout", ConverterType("shout.upper", UpperArgs, upper, None, False))
    with pytest.raises(ConverterClash, match="contributed by two plugins: 'shout' and 'echo'"):
        table.add("echo", ConverterType("shout.upper", UpperArgs, upper, None, False))
    with pytest.raises(ConverterClash, match="a core converter"):
        table.add("echo", ConverterType("money", UpperArgs, upper, None, False))
    assert table.owner("shout.upper") == "shout" and table.owner("money") == "core"


def test_a_plugin_registering_one_converter_twice_is_left_out() -> None:
    def twice(register: Any) -> None:
        register.add_converter("upper", UpperArgs, upper)
        register.add_converter("upper", UpperArgs, upper)

    registry = load_plugins(load_entrypoints=False, extra_plugins=[("shout", Namespace(prasan_register=hookimpl(twice)))])
    [failure] = registry.failures
    assert failure.plugin == "shout" and "registers converter 'shout.upper' twice" in failure.error


def test_code_lists_are_contributed_under_the_plugins_name(tmp_path: Path) -> None:
    (tmp_path / "kinds.yaml").write_text(
        "scheme: listing.kinds\ntitle: kinds\nlevels: [kind]\nnodes:\n"
        "  - {code: '1', name_th: หนึ่ง, level: kind}\n",
        encoding="utf-8",
    )
    (tmp_path / "bad.yaml").write_text(
        "scheme: someone-else\ntitle: x\nlevels: [kind]\nnodes:\n  - {code: '1', name_th: x, level: kind}\n",
        encoding="utf-8",
    )

    def registering(path: Path) -> Namespace:
        return Namespace(prasan_register=hookimpl(lambda register: register.add_code_list(path)))

    registry = load_plugins(
        load_entrypoints=False,
        extra_plugins=[("listing", registering(tmp_path / "kinds.yaml")), ("squatter", registering(tmp_path / "bad.yaml"))],
    )
    assert list(registry.code_lists) == ["listing.kinds"]
    assert [f.plugin for f in registry.failures] == ["squatter"]
    systems = registry.configure(load_reference_data(), {})
    assert systems.reference.code_lists["listing.kinds"].get("1") is not None
    assert "listing.kinds" not in load_reference_data().code_lists  # the shared copy is left alone


def test_the_one_hook_is_documented_with_its_arguments_and_result() -> None:
    specs = [getattr(hookspecs, name) for name in dir(hookspecs) if name.startswith("prasan_")]
    assert [spec.__name__ for spec in specs] == ["prasan_register"]
    doc = inspect.getdoc(specs[0]) or ""
    assert "Args:" in doc and "register" in doc and "Returns:" in doc
