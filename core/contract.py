"""The plugin contract: one object per agency system, registered through one pluggy hook.

A plugin package answers `prasan_register(register)` (see `core.hookspecs`) by handing the registrar
its system classes, the converters its mappings use and the code lists it contributes:

    class Elaas(RestSystem):
        name = "elaas"
        title = "e-LAAS"
        owner_agency = "DLA"
        Settings = ElaasSettings
        writes = ("budget_line",)

        def map_out(self, entity_type, entity): ...
        async def write(self, batch): ...

    @hookimpl
    def prasan_register(register):
        register.add_system(Elaas)

Lifecycle, in this order, each step once:

1. Declaration: the class attributes say what the system is and can do (no instance yet).
2. Configuration: the hub validates the system's settings against `Settings` when it starts; invalid or
   missing settings are reported by name (`prasan check`, `/readyz`) and no instance is made.
3. Construction: `__init__(settings, context)` keeps what it is given. No I/O here.
4. `start(http)`: set up clients, warm caches. Called once, before any read or write.
5. Work: `parse`, `read`, `map_in`, `map_out`, `write`, `healthcheck` (any may be a coroutine).
6. `close()`: release what `start` took. Called once on shutdown.

The error policy (the same in the delivery worker, the kit and docs/plugins.md):

- a write answers one result per item: `Delivered`, `Retryable` (backoff, then a dead letter once the
  outage budget is spent: the route's attempts used and the first failure older than
  `delivery.retry_window_s`) or `Rejected` (a dead letter at once, with the reason); a destination
  whose every write fails is held as a whole and probed, using no attempts;
- raising `TransientError` answers `Retryable` for the whole batch (timeouts and unreachable systems too);
- raising `PermanentError` answers `Rejected` for the whole batch;
- raising `ConfigError` (401/403, a setting the system refuses) holds the destination: the batch goes back
  unsent without using an attempt, nothing is dead-lettered, and the destination waits for an operator
  (or `delivery.config_hold_s`) before it is tried again;
- in map-in, a `MappingError`, `Rejection` or validation error rejects the record (the producer's mistake);
  any other exception is a fault of the plugin: logged with its traceback and answered as a server-side
  fault of that record, kept for replay;
- in map-out, a `MappingError` or `Rejection` dead-letters the delivery; any other exception does too,
  logged with its traceback as a plugin fault.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from core.plugin_types import (
    Capability,
    Health,
    MappedRecord,
    NativeRecord,
    ReadBatch,
    SystemDescription,
    WriteItem,
    WriteResult,
)
from core.settings import PayloadLimits

if TYPE_CHECKING:
    from aiohttp import web

    from core.mapping import Mapping
    from core.mapping.converters import ConverterTable
    from core.reference_data import ReferenceData

SYSTEM_NAME_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"


class SystemSettings(BaseModel):
    """Base of a system's settings: unknown keys are refused, every field needs a description."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Stream(BaseModel):
    """One kind of record a system can be read from, with its own schedule and cursor."""

    model_config = ConfigDict(frozen=True)

    entity_type: str = Field(description="canonical entity type the stream's records map into")
    interval_s: float = Field(300.0, gt=0, description="default time between two pulls (hub settings may override)")
    incremental: bool = Field(True, description="the system can resume from a saved cursor")


@dataclass(frozen=True)
class SystemContext:
    """What the hub gives a system at construction: read-only reference data, the converters its
    mappings may use (the core set plus every plugin's, namespaced) and the hub's payload limits, which
    `parse` passes to `prasan.tabular_records` / `loads_strict_json` so that an operator's `limits:`
    reach every format the system reads."""

    reference: ReferenceData
    converters: ConverterTable | None = None
    limits: PayloadLimits = field(default_factory=PayloadLimits)

    def load_mapping(self, path: str | Path) -> Mapping:
        """Compile a mapping file with this hub's reference data and converters."""
        from core.mapping import Mapping

        return Mapping.from_file(path, reference=self.reference, converters=self.converters)


def _overrides(cls: type, method: str) -> bool:
    return getattr(cls, method) is not getattr(AgencySystem, method)


class AgencySystem:
    """Base class of every system a plugin provides. Subclass it (or `core.http_system.RestSystem` for a
    REST service), set the declarations, override the methods for what the system does."""

    # --- declarations ----------------------------------------------------------------------------
    name: ClassVar[str]
    title: ClassVar[str]
    owner_agency: ClassVar[str]
    version: ClassVar[str] = "1"
    #: settings model; None when the system needs none
    Settings: ClassVar[type[SystemSettings] | None] = None
    #: media types accepted on `POST /api/v1/inbound/{name}` (non-empty: the system can push)
    formats: ClassVar[tuple[str, ...]] = ()
    #: what can be pulled (non-empty: the system can be read on a schedule)
    streams: ClassVar[tuple[Stream, ...]] = ()
    #: canonical entity types it accepts (non-empty: the system is a destination)
    writes: ClassVar[tuple[str, ...]] = ()
    #: most records one `write` call takes; 1 means one record per call
    write_batch_size: ClassVar[int] = 1
    #: `write` calls the hub may have running at once for this system
    write_concurrency: ClassVar[int] = 1
    #: longest a `write` call may take; the delivery lease is sized from it
    write_timeout_s: ClassVar[float] = 30.0
    #: module of the system's simulator: its `create_app()` and, optionally, `SIMULATOR_SETTINGS`, the
    #: settings (credentials included) that point the system at it besides `base_url`
    simulator_module: ClassVar[str | None] = None

    def __init__(self, settings: SystemSettings | None, context: SystemContext) -> None:
        self.settings = settings
        self.context = context
        self.reference = context.reference
        self._http: aiohttp.ClientSession | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self, http: aiohttp.ClientSession) -> None:
        """Called once before any work; `http` is the hub's shared client session."""
        self._http = http

    async def close(self) -> None:
        """Called once on shutdown; the shared session itself is closed by the hub."""
        self._http = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError(f"system {self.name!r} was not started")
        return self._http

    # --- push path -------------------------------------------------------------------------------
    def parse(self, payload: bytes, media_type: str, charset: str | None) -> list[NativeRecord]:
        """Turn a pushed payload into native records, in payload order. A row that cannot be read
        carries its `problems`; a payload that cannot be read at all raises `PayloadError` (400)."""
        raise NotImplementedError

    # --- pull path -------------------------------------------------------------------------------
    def read(self, stream: Stream, cursor: str | None) -> Awaitable[ReadBatch] | AsyncIterator[ReadBatch]:
        """Records of `stream` changed since `cursor` (None: from the beginning), as one `ReadBatch` or
        an async iterator of them. The cursor is saved only with the records of its batch."""
        raise NotImplementedError

    # --- field mapping ---------------------------------------------------------------------------
    def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        """The canonical entities one native record contributes; raise `MappingError` to reject it."""
        raise NotImplementedError

    def map_out(self, entity_type: str, entity: dict[str, Any]) -> dict[str, Any]:
        """A canonical entity (its JSON body) as the native record to write."""
        raise NotImplementedError

    # --- write path ------------------------------------------------------------------------------
    async def write(self, batch: list[WriteItem]) -> list[WriteResult]:
        """Write up to `write_batch_size` records; one result per item, in order. Pass each item's
        `delivery_key` to the system as its idempotency key."""
        raise NotImplementedError

    async def healthcheck(self) -> Health:
        """Whether the system can be used now; cheap (one light request) and never raises."""
        return Health(ok=True, detail="no health check declared")

    # --- simulator (tests and `prasan demo`) -----------------------------------------------------
    @classmethod
    def simulator(cls) -> web.Application | None:
        """An aiohttp imitation of the system, with its own storage and quirks, or None. Imported only
        when asked for, so that production never loads it."""
        if cls.simulator_module is None:
            return None
        app: web.Application = importlib.import_module(cls.simulator_module).create_app()
        return app

    @classmethod
    def simulator_settings(cls, base_url: str) -> dict[str, Any]:
        """Settings that point the system at its simulator running at `base_url`."""
        declared = getattr(importlib.import_module(cls.simulator_module), "SIMULATOR_SETTINGS", {}) if cls.simulator_module else {}
        return {"base_url": base_url, **declared}

    # --- derived ---------------------------------------------------------------------------------
    @classmethod
    def capabilities(cls) -> frozenset[Capability]:
        """What the declarations and the overridden methods say the system can do."""
        found: set[Capability] = set()
        if cls.formats:
            found.add(Capability.PUSH)
        if cls.streams:
            found.add(Capability.READ)
            if any(stream.incremental for stream in cls.streams):
                found.add(Capability.INCREMENTAL)
        if cls.writes:
            found.add(Capability.WRITE)
            if cls.write_batch_size > 1:
                found.add(Capability.BATCH_WRITE)
        return frozenset(found)

    @classmethod
    def describe(cls) -> SystemDescription:
        return SystemDescription(
            name=cls.name,
            title=cls.title,
            owner_agency=cls.owner_agency,
            version=cls.version,
            reads=tuple(dict.fromkeys(stream.entity_type for stream in cls.streams)),
            writes=cls.writes,
            formats=cls.formats,
            capabilities=cls.capabilities(),
            settings_model=cls.Settings,
        )

    @classmethod
    def stream_for(cls, entity_type: str) -> Stream:
        for stream in cls.streams:
            if stream.entity_type == entity_type:
                return stream
        raise KeyError(f"system {cls.name!r} has no stream of {entity_type!r}")

    @classmethod
    def declaration_problems(cls) -> list[str]:
        """What is wrong with the class as declared; the plugin registry leaves out a plugin whose
        classes have problems (and reports it)."""
        problems = cls._shape_problems()
        if problems:  # the checks below rely on the shapes
            return problems
        if not re.fullmatch(SYSTEM_NAME_PATTERN, cls.name):
            problems.append(f"name {cls.name!r} must match {SYSTEM_NAME_PATTERN}")
        entity_types = [stream.entity_type for stream in cls.streams]
        if len(set(entity_types)) != len(entity_types):
            problems.append("streams repeat an entity type (a stream's cursor and schedule are per entity type)")
        needs = [
            (Capability.PUSH, ("parse", "map_in")),
            (Capability.READ, ("read", "map_in")),
            (Capability.WRITE, ("map_out", "write")),
        ]
        capabilities = cls.capabilities()
        for capability, methods in needs:
            for method in methods:
                if capability in capabilities and not _overrides(cls, method):
                    problems.append(f"declares {capability.value} but does not implement {method}()")
        if Capability.WRITE in capabilities and _overrides(cls, "write") and not inspect.iscoroutinefunction(cls.write):
            # A plain write would block the event loop, and could not be cancelled at its timeout.
            problems.append("write() must be a coroutine function (async def)")
        if cls.Settings is not None:
            if not (isinstance(cls.Settings, type) and issubclass(cls.Settings, BaseModel)):
                problems.append("Settings must be a pydantic model")
            else:
                if cls.Settings.model_config.get("extra") != "forbid":
                    problems.append("Settings must refuse unknown keys (subclass SystemSettings)")
                for field_name, info in cls.Settings.model_fields.items():
                    if not info.description:
                        problems.append(f"setting {field_name!r} needs a description")
        if cls.write_batch_size < 1 or cls.write_concurrency < 1 or cls.write_timeout_s <= 0:
            problems.append("write_batch_size and write_concurrency must be >= 1, write_timeout_s > 0")
        return problems

    @classmethod
    def _shape_problems(cls) -> list[str]:
        """Declarations of the wrong type, found before anything is computed from them."""
        problems: list[str] = []
        for attribute in ("name", "title", "owner_agency", "version"):
            if not isinstance(getattr(cls, attribute, None), str) or not getattr(cls, attribute):
                problems.append(f"declare {attribute} (a non-empty string)")
        for attribute in ("formats", "writes"):
            value = getattr(cls, attribute, None)
            if not isinstance(value, tuple) or not all(isinstance(item, str) for item in value):
                problems.append(f"{attribute} must be a tuple of strings")
        if not isinstance(cls.streams, tuple) or not all(isinstance(stream, Stream) for stream in cls.streams):
            problems.append("streams must be a tuple of Stream(...)")
        for attribute in ("write_batch_size", "write_concurrency"):
            if type(getattr(cls, attribute, None)) is not int:
                problems.append(f"{attribute} must be an int")
        if not isinstance(cls.write_timeout_s, (int, float)) or isinstance(cls.write_timeout_s, bool):
            problems.append("write_timeout_s must be a number of seconds")
        return problems

async def await_me_maybe(value: Any) -> Any:
    """Methods may be plain or coroutine functions; core awaits whichever it got (datasette's pattern)."""
    if inspect.isawaitable(value):
        return await value
    return value


def resolve_from_thread(value: Any, loop: asyncio.AbstractEventLoop) -> Any:
    """From a pool thread: `value` itself, or, when a plugin method answered an awaitable (a coroutine
    method), its result awaited on the loop while this thread waits. Core calls plugin methods from
    threads so that their work is off the loop; a coroutine method is the plugin's choice to run there."""
    if not inspect.isawaitable(value):
        return value
    return asyncio.run_coroutine_threadsafe(await_me_maybe(value), loop).result()


async def iterate_batches(system: AgencySystem, stream: Stream, cursor: str | None) -> AsyncIterator[ReadBatch]:
    """`system.read`'s batches one at a time, whichever of its allowed shapes it answered with, so that
    each can be stored (with its cursor) before the next page is even asked for."""
    result = system.read(stream, cursor)
    if hasattr(result, "__aiter__"):
        async for batch in result:  # type: ignore[union-attr]
            yield batch
    else:
        yield await await_me_maybe(result)


async def read_batches(system: AgencySystem, stream: Stream, cursor: str | None) -> list[ReadBatch]:
    """`system.read`'s batches as a list (tests and tools; the scheduler stores them as they come)."""
    return [batch async for batch in iterate_batches(system, stream, cursor)]


ConverterBuild = Callable[[Any, Any], Any]


@dataclass
class Contribution:
    """Everything one plugin registered."""

    plugin: str
    systems: list[type[AgencySystem]] = field(default_factory=list)
    converters: dict[str, tuple[type[BaseModel], ConverterBuild, str | None, bool]] = field(default_factory=dict)
    code_lists: list[Path] = field(default_factory=list)


class Registrar:
    """The object a plugin's `prasan_register` hook receives; one per plugin, named after it."""

    def __init__(self, plugin: str) -> None:
        self.contribution = Contribution(plugin)

    @property
    def plugin(self) -> str:
        return self.contribution.plugin

    def add_system(self, system: type[AgencySystem]) -> None:
        """Provide one agency system (a subclass of `AgencySystem`)."""
        if not (isinstance(system, type) and issubclass(system, AgencySystem)):
            raise TypeError(f"plugin {self.plugin!r}: add_system takes an AgencySystem subclass, not {system!r}")
        self.contribution.systems.append(system)

    def add_converter(
        self,
        name: str,
        args: type[BaseModel],
        build: ConverterBuild,
        *,
        primary: str | None = None,
        needs_reference: bool = False,
    ) -> str:
        """Contribute a mapping converter; mappings name it `<plugin>.<name>`. Returns that full name."""
        full = f"{self.plugin}.{name}"
        if full in self.contribution.converters:
            raise ValueError(f"plugin {self.plugin!r} registers converter {full!r} twice")
        self.contribution.converters[full] = (args, build, primary, needs_reference)
        return full

    def add_code_list(self, path: str | Path) -> None:
        """Contribute a code list file (the format of the shipped code lists); it is known to
        mappings and the hub as `<plugin>.<id in the file>`."""
        self.contribution.code_lists.append(Path(path))
