"""Builds the plugin manager and the per-system facade that core uses to call hooks.

Built-in plugins register through the entry-point group `prasan.plugins`, the same path that third-party
packages take, so the built-ins prove that path works.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable
from typing import Any

import aiohttp
import pluggy
from pydantic import BaseModel

from core import hookspecs
from core.errors import ConfigError
from core.plugin_types import (
    Health,
    MappedRecord,
    NativeRecord,
    ReadBatch,
    SystemDescription,
    WriteItem,
    WriteResult,
)

ENTRY_POINT_GROUP = "prasan.plugins"
_SYSTEM_HOOKS = (
    "prasan_parse",
    "prasan_read",
    "prasan_map_in",
    "prasan_map_out",
    "prasan_write",
    "prasan_healthcheck",
)


async def await_me_maybe(value: Any) -> Any:
    """Hooks may be plain or coroutine functions; core awaits whichever it got (datasette's pattern)."""
    if inspect.isawaitable(value):
        return await value
    return value


class SystemPlugin:
    """Typed facade over the hooks of the one plugin that provides `description.name`."""

    def __init__(self, pm: pluggy.PluginManager, plugin: object, description: SystemDescription) -> None:
        self.description = description
        self.plugin = plugin
        others = [p for p in pm.get_plugins() if p is not plugin]
        self._hooks = {name: pm.subset_hook_caller(name, remove_plugins=others) for name in _SYSTEM_HOOKS}

    @property
    def name(self) -> str:
        return self.description.name

    def implements(self, hook_name: str) -> bool:
        return bool(self._hooks[hook_name].get_hookimpls())

    def settings_from(self, raw: dict[str, Any] | None) -> BaseModel | None:
        model = self.description.settings_model
        if model is None:
            return None
        try:
            return model.model_validate(raw or {})
        except Exception as exc:  # pydantic.ValidationError, reported as configuration
            raise ConfigError(f"settings of system {self.name!r} are invalid: {exc}", system=self.name) from exc

    async def parse(self, payload: bytes, media_type: str, charset: str | None) -> list[NativeRecord]:
        return await await_me_maybe(
            self._hooks["prasan_parse"](system=self.name, payload=payload, media_type=media_type, charset=charset)
        )

    async def read(
        self, entity_type: str, cursor: str | None, settings: BaseModel | None, http: aiohttp.ClientSession
    ) -> list[ReadBatch]:
        result = self._hooks["prasan_read"](
            system=self.name, entity_type=entity_type, cursor=cursor, settings=settings, http=http
        )
        if hasattr(result, "__aiter__"):
            return [batch async for batch in result]
        return [await await_me_maybe(result)]

    async def map_in(self, record: NativeRecord, reference: Any) -> list[MappedRecord]:
        return await await_me_maybe(
            self._hooks["prasan_map_in"](system=self.name, record=record, reference=reference)
        )

    async def map_out(self, entity_type: str, entity: dict[str, Any], reference: Any) -> dict[str, Any]:
        return await await_me_maybe(
            self._hooks["prasan_map_out"](
                system=self.name, entity_type=entity_type, entity=entity, reference=reference
            )
        )

    async def write(
        self, batch: list[WriteItem], settings: BaseModel | None, http: aiohttp.ClientSession
    ) -> list[WriteResult]:
        return await await_me_maybe(
            self._hooks["prasan_write"](system=self.name, batch=batch, settings=settings, http=http)
        )

    async def healthcheck(self, settings: BaseModel | None, http: aiohttp.ClientSession) -> Health:
        if not self.implements("prasan_healthcheck"):
            return Health(ok=True, detail="no health check declared")
        return await await_me_maybe(
            self._hooks["prasan_healthcheck"](system=self.name, settings=settings, http=http)
        )


class PluginRegistry:
    """The plugin manager plus one facade per system name."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.systems: dict[str, SystemPlugin] = {}
        for impl in pm.hook.prasan_systems.get_hookimpls():
            for description in impl.function() or []:
                if description.name in self.systems:
                    other = pm.get_name(self.systems[description.name].plugin)
                    raise ConfigError(
                        f"system {description.name!r} is provided by two plugins: "
                        f"{other!r} and {pm.get_name(impl.plugin)!r}"
                    )
                self.systems[description.name] = SystemPlugin(pm, impl.plugin, description)

    def get(self, system: str) -> SystemPlugin:
        try:
            return self.systems[system]
        except KeyError:
            raise KeyError(f"no plugin provides system {system!r}") from None

    def __contains__(self, system: object) -> bool:
        return system in self.systems

    def names(self) -> list[str]:
        return sorted(self.systems)


def _names_from_env(variable: str) -> set[str] | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def get_plugin_manager(
    *, load_entrypoints: bool = True, extra_plugins: Iterable[tuple[str, object]] = ()
) -> PluginRegistry:
    """Build a fresh manager: entry-point plugins (minus PRASAN_DISABLED_PLUGINS, limited to
    PRASAN_LOAD_PLUGINS when set), then `extra_plugins` (tests pass theirs here), then check that
    every implementation matches a specification."""
    pm = pluggy.PluginManager("prasan")
    pm.add_hookspecs(hookspecs)
    allowed = _names_from_env("PRASAN_LOAD_PLUGINS")
    disabled = _names_from_env("PRASAN_DISABLED_PLUGINS") or set()
    if load_entrypoints:
        from importlib.metadata import entry_points

        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            if entry_point.name in disabled or (allowed is not None and entry_point.name not in allowed):
                continue
            if pm.get_plugin(entry_point.name) is None:
                pm.register(entry_point.load(), name=entry_point.name)
    for name, plugin in extra_plugins:
        pm.register(plugin, name=name)
    pm.check_pending()
    return PluginRegistry(pm)
