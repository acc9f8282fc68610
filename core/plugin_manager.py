"""Loads the plugins, collects what each registered, and configures the systems once at start.

Built-in plugins register through the entry-point group `prasan.plugins`, the same path that third-party
packages take, so the built-ins prove that path works. A plugin that cannot be imported, whose
registration fails or whose systems are declared wrongly is reported (`failures`) and left out; the
rest of the hub runs. Two plugins claiming one system name or one converter name is an error at start
that names both, since either answer would silently be the wrong one for somebody.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pluggy
import structlog
from pydantic import ValidationError

from core import hookspecs
from core.contract import AgencySystem, Contribution, Registrar, SystemContext
from core.errors import ConfigError
from core.mapping.converters import ConverterClash, ConverterTable, ConverterType
from core.plugin_types import SystemDescription
from core.reference_data import ReferenceData, ReferenceDataError, load_code_list_file, with_code_lists
from core.settings import PayloadLimits

log = structlog.get_logger("prasan.plugins")

ENTRY_POINT_GROUP = "prasan.plugins"


@dataclass(frozen=True)
class RegisteredSystem:
    """A system class as registered, with the plugin that provided it."""

    cls: type[AgencySystem]
    plugin: str

    @property
    def name(self) -> str:
        return self.cls.name

    @property
    def description(self) -> SystemDescription:
        return self.cls.describe()


@dataclass(frozen=True)
class PluginFailure:
    plugin: str
    stage: str  # import, register or declaration
    error: str


class PluginRegistry:
    """What every loaded plugin registered: systems by name, converters, code lists, and failures."""

    def __init__(self, pm: pluggy.PluginManager, failures: Iterable[PluginFailure] = ()) -> None:
        self.pm = pm
        self.failures: list[PluginFailure] = list(failures)
        self.systems: dict[str, RegisteredSystem] = {}
        self.converters = ConverterTable()
        self.code_lists: dict[str, tuple[str, Any]] = {}
        for plugin_name, plugin in pm.list_name_plugin():
            contribution = self._contribution_of(plugin_name, plugin)
            if contribution is not None:
                self._accept(contribution)

    def _contribution_of(self, plugin_name: str, plugin: object) -> Contribution | None:
        register = Registrar(plugin_name)
        caller = self.pm.subset_hook_caller(
            "prasan_register", remove_plugins=[p for p in self.pm.get_plugins() if p is not plugin]
        )
        try:
            caller(register=register)
        except Exception as exc:  # a broken plugin is reported, the others still run
            self._fail(plugin_name, "register", exc)
            return None
        try:
            problems = [
                f"{system.__name__}: {problem}"
                for system in register.contribution.systems
                for problem in system.declaration_problems()
            ]
        except Exception as exc:  # a declaration so wrong that checking it fails: still only this plugin's
            self._fail(plugin_name, "declaration", exc)
            return None
        if problems:
            self.failures.append(PluginFailure(plugin_name, "declaration", "; ".join(problems)))
            log.error("plugin_declaration_invalid", plugin=plugin_name, problems=problems)
            return None
        try:
            code_lists = {path: load_code_list_file(path) for path in register.contribution.code_lists}
        except ReferenceDataError as exc:
            self._fail(plugin_name, "register", exc)
            return None
        for path, code_list in code_lists.items():
            if not code_list.scheme.startswith(f"{plugin_name}."):
                self.failures.append(
                    PluginFailure(plugin_name, "declaration", f"{path.name}: a plugin's code list is named "
                                  f"'{plugin_name}.<scheme>', not {code_list.scheme!r}")
                )
                return None
        for code_list in code_lists.values():
            self.code_lists[code_list.scheme] = (plugin_name, code_list)
        return register.contribution

    def _fail(self, plugin_name: str, stage: str, exc: BaseException) -> None:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.failures.append(PluginFailure(plugin_name, stage, detail))
        log.error("plugin_failed", plugin=plugin_name, stage=stage, error=detail, exc_info=exc)

    def _accept(self, contribution: Contribution) -> None:
        for cls in contribution.systems:
            if cls.name in self.systems:
                raise ConfigError(
                    f"system {cls.name!r} is provided by two plugins: "
                    f"{self.systems[cls.name].plugin!r} and {contribution.plugin!r}"
                )
            self.systems[cls.name] = RegisteredSystem(cls, contribution.plugin)
        for name, (args, build, primary, needs_reference) in contribution.converters.items():
            try:
                self.converters.add(contribution.plugin, ConverterType(name, args, build, primary, needs_reference))
            except ConverterClash as exc:
                raise ConfigError(str(exc)) from None

    def get(self, system: str) -> RegisteredSystem:
        try:
            return self.systems[system]
        except KeyError:
            raise KeyError(f"no plugin provides system {system!r}") from None

    def __contains__(self, system: object) -> bool:
        return system in self.systems

    def names(self) -> list[str]:
        return sorted(self.systems)

    def reference_with_contributions(self, reference: ReferenceData) -> ReferenceData:
        """The shipped reference data plus the code lists plugins contributed."""
        return with_code_lists(reference, {scheme: code_list for scheme, (_, code_list) in self.code_lists.items()})

    def configure(
        self, reference: ReferenceData, raw_settings: dict[str, dict[str, Any]], limits: PayloadLimits | None = None
    ) -> Systems:
        """Validate every system's settings once and build the systems whose settings are valid; `limits`
        (the hub's `settings.limits`) reach each system through its context."""
        context = SystemContext(
            self.reference_with_contributions(reference), self.converters, limits if limits is not None else PayloadLimits()
        )
        systems = Systems(self, context.reference)
        for name, registered in sorted(self.systems.items()):
            settings, problems = validate_settings(registered.cls, raw_settings.get(name))
            if problems:
                systems.problems[name] = problems
                continue
            try:
                systems.instances[name] = registered.cls(settings, context)
            except Exception as exc:  # a constructor that fails is the plugin's fault, reported by name
                systems.problems[name] = [SettingProblem(name, None, f"could not be set up: {type(exc).__name__}: {exc}")]
                log.error("system_setup_failed", system=name, exc_info=exc)
        return systems


@dataclass(frozen=True)
class SettingProblem:
    system: str
    setting: str | None  # the setting's dotted path; None when the system as a whole failed
    message: str

    def __str__(self) -> str:
        # "api_key: ..." would read as a secret to the log scrubber and be masked; this shape is not.
        where = f"setting {self.setting}" if self.setting else "settings"
        return f"system {self.system!r}, {where} ({self.message})"


def validate_settings(
    cls: type[AgencySystem], raw: dict[str, Any] | None
) -> tuple[Any, list[SettingProblem]]:
    """The system's settings model from `raw`, or what is wrong with it (never the values: they may be
    secrets)."""
    if cls.Settings is None:
        return None, []
    try:
        return cls.Settings.model_validate(raw or {}), []
    except ValidationError as exc:
        return None, [
            SettingProblem(cls.name, ".".join(str(part) for part in error["loc"]) or None, error["msg"])
            for error in exc.errors(include_url=False, include_input=False)
        ]


@dataclass
class Systems:
    """The configured systems of one hub: an instance per system whose settings are valid, and what is
    wrong with the others (they receive no work until fixed: see `core.delivery`)."""

    registry: PluginRegistry
    reference: ReferenceData
    instances: dict[str, AgencySystem] = field(default_factory=dict)
    problems: dict[str, list[SettingProblem]] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.instances

    def get(self, name: str) -> AgencySystem:
        instance = self.instances.get(name)
        if instance is None:
            if name in self.problems:
                raise SystemNotConfigured(name, self.problems[name])
            raise KeyError(f"no plugin provides system {name!r}")
        return instance

    def names(self) -> list[str]:
        return sorted(self.instances)

    def reconfigure(self, name: str, raw: dict[str, Any] | None) -> bool:
        """New settings for a running system (a URL changed through the admin API): applied when
        valid (True), else the old ones stay and the problems are logged."""
        instance = self.instances.get(name)
        if instance is None:
            return False
        settings, problems = validate_settings(type(instance), raw)
        if problems:
            log.error("system_settings_refused", system=name, problems=[str(p) for p in problems])
            return False
        if settings != instance.settings:
            instance.settings = settings
            return True
        return False

    async def start(self, http: aiohttp.ClientSession) -> None:
        """Start every system; one whose start fails is reported like a misconfigured one (its
        deliveries wait, the hub runs) and closed again."""
        for name, instance in sorted(self.instances.items()):
            try:
                await instance.start(http)
            except Exception as exc:
                log.error("system_start_failed", system=name, exc_info=exc)
                del self.instances[name]
                self.problems[name] = [SettingProblem(name, None, f"could not start: {type(exc).__name__}: {exc}")]
                try:
                    await instance.close()
                except Exception:  # already failing; its start's error is the one worth reporting
                    log.exception("system_close_failed", system=name)
                continue
            log.info("system_started", system=name)

    async def close(self) -> None:
        for name, instance in sorted(self.instances.items()):
            try:
                await instance.close()
            except Exception:  # one system's failure to close must not keep the others open
                log.exception("system_close_failed", system=name)


class SystemNotConfigured(ConfigError):
    def __init__(self, system: str, problems: list[SettingProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems), system=system)
        self.problems = problems


def _names_from_env(variable: str) -> set[str] | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def load_plugins(*, load_entrypoints: bool = True, extra_plugins: Iterable[tuple[str, object]] = ()) -> PluginRegistry:
    """Build a fresh registry: entry-point plugins (minus PRASAN_DISABLED_PLUGINS, limited to
    PRASAN_LOAD_PLUGINS when set), then `extra_plugins` (tests pass theirs here)."""
    pm = pluggy.PluginManager("prasan")
    pm.add_hookspecs(hookspecs)
    allowed = _names_from_env("PRASAN_LOAD_PLUGINS")
    disabled = _names_from_env("PRASAN_DISABLED_PLUGINS") or set()
    failures: list[PluginFailure] = []
    if load_entrypoints:
        from importlib.metadata import entry_points

        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            if entry_point.name in disabled or (allowed is not None and entry_point.name not in allowed):
                continue
            if pm.get_plugin(entry_point.name) is not None:
                continue
            try:
                module = entry_point.load()
                pm.register(module, name=entry_point.name)
            except Exception as exc:  # an uninstallable plugin must not take the hub down
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                failures.append(PluginFailure(entry_point.name, "import", detail))
                log.error("plugin_import_failed", plugin=entry_point.name, error=detail, exc_info=exc)
    for name, plugin in extra_plugins:
        pm.register(plugin, name=name)
    failures += _drop_plugins_with_unknown_hooks(pm)
    return PluginRegistry(pm, failures)


def _drop_plugins_with_unknown_hooks(pm: pluggy.PluginManager) -> list[PluginFailure]:
    """A plugin implementing a hook the hub does not have (written for another contract version) is
    reported and left out, rather than stopping every other plugin with it."""
    failures = []
    while True:
        try:
            pm.check_pending()
            return failures
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin) or repr(exc.plugin)
            pm.unregister(exc.plugin)
            failures.append(PluginFailure(name, "register", str(exc)))
            log.error("plugin_hooks_unknown", plugin=name, error=str(exc))
