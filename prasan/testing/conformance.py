"""The conformance checks of `PluginConformance`; see the package docstring (`prasan.testing`)."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import traceback
import types
import typing
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn, TypeVar

import aiohttp
import pytest
import structlog
from pydantic import SecretStr, ValidationError

from canonical_model import ENTITY_TYPES
from core.contract import AgencySystem, Stream, await_me_maybe, read_batches
from core.errors import ConfigError, PermanentError, TransientError
from core.hookspecs import hookimpl
from core.plugin_manager import PluginRegistry, load_plugins, validate_settings
from core.plugin_types import Capability, Delivered, MappedRecord, NativeRecord, Rejected, Retryable, WriteItem
from core.reference_data import load_reference_data
from prasan.testing.faults import FaultServer, closed_url
from prasan.testing.simulator import serve

T = TypeVar("T")

#: the secret the kit puts in every secret setting, to look for in logs, messages and reprs
KIT_SECRET = f"kit-secret-{uuid.uuid4().hex[:16]}"
SECRET_WORDS = ("key", "token", "password", "secret")
#: a base URL for checks that make no request (settings validation, parse)
PLACEHOLDER_URL = "http://127.0.0.1:9"
#: the system's `timeout_s` during the timeout scenario, and how long the fault server holds its answer
FAULT_TIMEOUT_S = 0.5
FAULT_DELAY_S = 5.0
#: how long the kit waits, in the timeout scenario, before it calls the system hung
TIMEOUT_BOUND_S = 2.0


@dataclass(frozen=True)
class Sample:
    """One payload a push system accepts, with its media type and charset."""

    payload: bytes
    media_type: str
    charset: str | None = None


@dataclass(frozen=True)
class Scenario:
    """One fault the system must classify: what the fault server answers, and the expected class."""

    id: str
    expect: str  # "config", "retryable" or "rejected"
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None
    delay_s: float = 0.0
    refused: bool = False


SCENARIOS: dict[str, Scenario] = {
    s.id: s
    for s in (
        Scenario("401", "config", 401),
        Scenario("403", "config", 403),
        # A redirect must not be followed: the credentials would go to another host, a POST become a GET.
        Scenario("302", "config", 302, {"Location": "http://127.0.0.1:9/elsewhere"}),
        Scenario("429", "retryable", 429, {"Retry-After": "7"}, retry_after=7.0),
        Scenario("503", "retryable", 503),
        Scenario("timeout", "retryable", 200, delay_s=FAULT_DELAY_S),
        Scenario("refused", "retryable", refused=True),
        Scenario("400", "rejected", 400),
        Scenario("422", "rejected", 422),
    )
}
EXPECTED = {
    "config": "raise ConfigError (401/403 hold the destination for an operator)",
    "retryable": "answer Retryable for every item, or raise TransientError",
    "rejected": "answer Rejected for every item, or raise PermanentError",
}


@dataclass
class Outcome:
    """What one call of the system did: raised, or answered (write results / read records)."""

    raised: BaseException | None = None
    answered: list[Any] | None = None
    hung: bool = False

    def describe(self) -> str:
        if self.hung:
            return "did not answer in time"
        if self.raised is not None:
            return f"raised {type(self.raised).__name__}: {self.raised}"
        text = repr(self.answered)
        return f"answered {text[:400]}{'...' if len(text) > 400 else ''}"

    def texts(self) -> list[str]:
        """Every message the outcome carries (exception chain, result reasons)."""
        found = []
        if self.raised is not None:
            found.append("".join(traceback.format_exception(self.raised)))
        for answer in self.answered or []:
            found.append(repr(answer))
        return found


def fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


def _union_args(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _is_secret_str(annotation: Any) -> bool:
    """SecretStr, or SecretStr | None."""
    args = _union_args(annotation)
    return SecretStr in args and set(args) <= {SecretStr, type(None)}


def _looks_secret(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_WORDS)


class _OneSystem:
    """A plugin that registers one system class (a class given to the kit that no installed plugin has)."""

    def __init__(self, cls: type[AgencySystem]) -> None:
        self.cls = cls

    @hookimpl
    def prasan_register(self, register: Any) -> None:
        register.add_system(self.cls)


_ENTRY_POINTS: list[PluginRegistry] = []
_REGISTRIES: dict[tuple[Any, Any], PluginRegistry] = {}


def _entry_point_registry() -> PluginRegistry:
    if not _ENTRY_POINTS:
        _ENTRY_POINTS.append(load_plugins())
    return _ENTRY_POINTS[0]


class _LineCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = f"{record.name} {record.levelname} {record.getMessage()}"
        except Exception:  # a malformed call still counts: keep its raw parts
            line = f"{record.name} {record.levelname} {record.msg!r} {record.args!r}"
        if record.exc_info:
            line += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.lines.append(line)


@contextmanager
def captured_log_lines() -> Iterator[list[str]]:
    """Every structlog event (as the plugin handed it to the logger, before the hub's scrubbing) and every
    stdlib logging record, at any level, as text lines; the list is filled when the block ends."""
    lines: list[str] = []
    collector = _LineCollector()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    config = structlog.get_config()
    # Every level reaches the capture, whatever level the hub's logging was configured with.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET), cache_logger_on_first_use=False
    )
    try:
        with structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars, structlog.processors.format_exc_info]
        ) as events:
            yield lines
    finally:
        structlog.configure(
            wrapper_class=config["wrapper_class"], cache_logger_on_first_use=config["cache_logger_on_first_use"]
        )
        root.removeHandler(collector)
        root.setLevel(old_level)
        lines.extend(collector.lines)
        lines.extend(repr(event) for event in events)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


class PluginConformance:
    """The conformance kit: subclass it in the plugin's tests (see the package docstring)."""

    #: the AgencySystem subclass, or the name of an installed system
    system: ClassVar[type[AgencySystem] | str]
    #: raw settings beyond the simulator's (`simulator_settings(url)` wins over these)
    settings: ClassVar[dict[str, Any]] = {}
    #: payloads of a push system
    samples: ClassVar[list[Sample]] = []
    #: (entity type, canonical JSON body) pairs a write system is given
    entities: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    #: the plugin object (a module with `prasan_register`) to register instead of the system alone,
    #: when the system needs what its plugin registers (converters, code lists); named after the system
    plugin: ClassVar[object | None] = None
    #: False when what the system writes is not the shape it reads or is pushed (the round trip skips)
    native_round_trip: ClassVar[bool] = True
    #: longest one call (a write, a read) may take before the kit calls it hung
    call_timeout_s: ClassVar[float] = 10.0

    # --- resolving and running the system, as the hub does ---------------------------------------
    def _target_name(self) -> str:
        target = type(self).system
        return target if isinstance(target, str) else target.name

    def _registry(self) -> PluginRegistry:
        target, plugin = type(self).system, type(self).plugin
        key = (target, plugin)
        if key not in _REGISTRIES:
            name = self._target_name()
            if plugin is not None:
                registry = load_plugins(load_entrypoints=False, extra_plugins=[(name, plugin)])
            else:
                registry = _entry_point_registry()
                found = registry.systems.get(name)
                if not isinstance(target, str) and (found is None or found.cls is not target):
                    registry = load_plugins(load_entrypoints=False, extra_plugins=[(name, _OneSystem(target))])
            _REGISTRIES[key] = registry
        return _REGISTRIES[key]

    def _registered(self) -> tuple[PluginRegistry, type[AgencySystem]]:
        registry = self._registry()
        name = self._target_name()
        if name not in registry:
            failures = "; ".join(f"{f.plugin} ({f.stage}): {f.error}" for f in registry.failures) or "none reported"
            fail(f"no plugin provides system {name!r} (plugin failures: {failures})")
        return registry, registry.get(name).cls

    def _system_class(self) -> type[AgencySystem]:
        target = type(self).system
        return target if not isinstance(target, str) else self._registered()[1]

    def _raw_settings(self, base_url: str) -> dict[str, Any]:
        cls = self._system_class()
        return {**copy.deepcopy(type(self).settings), **cls.simulator_settings(base_url)}

    def _secret_fields(self) -> list[str]:
        model = self._system_class().Settings
        if model is None:
            return []
        return [
            name
            for name, info in model.model_fields.items()
            if SecretStr in _union_args(info.annotation)
            or (_looks_secret(name) and str in _union_args(info.annotation))
        ]

    def _with_secrets(self, raw: dict[str, Any], *, replace: bool) -> dict[str, Any]:
        """`raw` with the kit's secret in every secret setting (`replace`), or in those `raw` leaves unset."""
        out = dict(raw)
        for name in self._secret_fields():
            if replace or out.get(name) in (None, ""):
                out[name] = KIT_SECRET
        return out

    @asynccontextmanager
    async def _running(self, raw: dict[str, Any]) -> AsyncIterator[AgencySystem]:
        """The system configured from `raw` by the registry and started, as the hub runs it."""
        registry, _ = self._registered()
        name = self._target_name()
        systems = registry.configure(load_reference_data(), {name: raw})
        if name in systems.problems:
            fail(f"the hub refuses the settings the kit built: {'; '.join(map(str, systems.problems[name]))}")
        system = systems.get(name)
        async with aiohttp.ClientSession() as http:
            await system.start(http)
            try:
                yield system
            finally:
                await system.close()

    @asynccontextmanager
    async def _simulator(self) -> AsyncIterator[str]:
        app = self._system_class().simulator()
        if app is None:
            fail(f"{self._target_name()} can be read or written: give it a simulator() (see prasan.testing)")
        runner, url = await serve(app)
        try:
            yield url
        finally:
            await runner.cleanup()

    def _content(self, index: int, entity_type: str, body: dict[str, Any]) -> dict[str, Any]:
        """An entity of `entities` as the hub stores and delivers it (validated, envelope fields left out)."""
        model = ENTITY_TYPES.get(entity_type)
        if model is None:
            fail(f"entities[{index}]: {entity_type!r} is not a canonical entity type")
        try:
            return model.model_validate(body).content()
        except ValidationError as exc:
            fail(f"entities[{index}] is not a valid canonical {entity_type}: {exc}")

    def _entities(self) -> list[tuple[str, dict[str, Any]]]:
        if not type(self).entities:
            fail(f"{self._target_name()} writes: give `entities` (entity type, canonical body) to check its writes")
        return list(type(self).entities)

    async def _items(self, system: AgencySystem, run: str) -> list[WriteItem]:
        """A WriteItem per entity (two at least for a system that writes in batches), under fresh keys."""
        entities = self._entities()
        if Capability.BATCH_WRITE in type(system).capabilities() and len(entities) == 1:
            entities = entities * 2
        items = []
        for index, (entity_type, body) in enumerate(entities):
            content = self._content(index, entity_type, body)
            try:
                native = await await_me_maybe(system.map_out(entity_type, content))
            except Exception as exc:
                fail(f"entities[{index}]: map_out raised {type(exc).__name__}: {exc}")
            entity_id = f"kit-{run}-{index}"
            items.append(WriteItem(f"{system.name}:{entity_id}:1", entity_id, entity_type, 1, native))
        return items

    async def _write_all(self, system: AgencySystem, items: list[WriteItem]) -> list[Any]:
        """`items` written as the delivery worker writes them: chunks of `write_batch_size`."""
        size = type(system).write_batch_size
        results: list[Any] = []
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            answers = list(await system.write(chunk))
            if len(answers) != len(chunk):
                fail(f"write answered {len(answers)} results for {len(chunk)} items")
            results.extend(answers)
        return results

    async def _bounded(self, coroutine: Coroutine[Any, Any, Any], bound: float) -> Outcome:
        try:
            return Outcome(answered=list(await asyncio.wait_for(coroutine, bound)))
        except TimeoutError:
            return Outcome(hung=True)
        except Exception as exc:
            return Outcome(raised=exc)

    async def _fault_outcome(self, scenario: Scenario) -> Outcome:
        """Point the system at the fault server (or at a closed port) and write, or read when it only reads."""
        cls = self._system_class()
        model = cls.Settings
        timeout_setting = model is not None and "timeout_s" in model.model_fields
        async with FaultServer(scenario.status, scenario.headers, scenario.delay_s) as server:
            url = closed_url() if scenario.refused else server.url
            raw = self._with_secrets(self._raw_settings(url), replace=True)
            if timeout_setting and scenario.delay_s:
                raw["timeout_s"] = FAULT_TIMEOUT_S
            bound = TIMEOUT_BOUND_S if scenario.delay_s else type(self).call_timeout_s
            async with self._running(raw) as system:
                if Capability.WRITE in cls.capabilities():
                    items = await self._items(system, f"fault-{scenario.id}-{uuid.uuid4().hex[:8]}")
                    return await self._bounded(self._write_all(system, items), bound)
                return await self._bounded(self._read_all(system, cls.streams[0]), bound)

    async def _read_all(self, system: AgencySystem, stream: Stream) -> list[NativeRecord]:
        return [record for batch in await read_batches(system, stream, None) for record in batch.records]

    def _mapped_entities(self, mapped: Any, where: str) -> list[Any]:
        """`map_in`'s answer validated as the hub validates it; the entities."""
        if not isinstance(mapped, list):
            fail(f"{where}: map_in must answer a list of MappedRecord, not {type(mapped).__name__}")
        entities = []
        for item in mapped:
            if not isinstance(item, MappedRecord):
                fail(f"{where}: map_in answered {type(item).__name__}, not MappedRecord")
            model = ENTITY_TYPES.get(item.entity_type)
            if model is None:
                fail(f"{where}: map_in produced entity type {item.entity_type!r}, which is not canonical")
            try:
                entity = item.payload if isinstance(item.payload, model) else model.model_validate(item.payload)
            except ValidationError as exc:
                fail(f"{where}: map_in produced an invalid {item.entity_type}: {exc}")
            if not entity.org_code:
                fail(f"{where}: the mapped {item.entity_type} has no org_code")
            if not item.external_id:
                fail(f"{where}: the mapped {item.entity_type} has no external_id")
            entities.append(entity)
        return entities

    async def _map_records(self, system: AgencySystem, records: list[NativeRecord], where: str) -> int:
        if not records:
            fail(f"{where}: no records")
        mapped_count = 0
        for record in records:
            if record.problems:  # rejected before mapping, as the hub does
                continue
            try:
                mapped = await await_me_maybe(system.map_in(record))
            except Exception as exc:
                fail(f"{where}, row {record.row}: map_in raised {type(exc).__name__}: {exc}")
            mapped_count += len(self._mapped_entities(mapped, f"{where}, row {record.row}"))
        if not mapped_count:
            fail(f"{where}: no record mapped into a canonical entity")
        return mapped_count

    # --- 1. describes itself ----------------------------------------------------------------------
    def test_describes_itself(self) -> None:
        cls = self._system_class()
        problems = cls.declaration_problems()
        if problems:
            fail(f"{cls.__name__} is declared wrongly: {'; '.join(problems)}")
        for attribute in ("name", "title", "owner_agency", "version"):
            value = getattr(cls, attribute, None)
            if not isinstance(value, str) or not value.strip():
                fail(f"declare {attribute} (a non-empty string)")
        if not cls.capabilities():
            fail("the system declares nothing it can do: give formats, streams or writes")
        unknown = [entity_type for entity_type in cls.writes if entity_type not in ENTITY_TYPES]
        if unknown:
            fail(f"writes {unknown}, which are not canonical entity types ({', '.join(ENTITY_TYPES)})")
        for stream in cls.streams:
            if not isinstance(stream, Stream) or stream.entity_type not in ENTITY_TYPES:
                fail(f"stream {stream!r} does not read a canonical entity type")
        described = cls.describe()
        if described.capabilities != cls.capabilities() or described.name != cls.name:
            fail("describe() disagrees with the declarations")
        registry, registered = self._registered()
        if registered is not cls:
            fail(f"the registry's {cls.name!r} is {registered!r}, not {cls!r}")

    # --- 2. settings validated, secrets hidden ----------------------------------------------------
    def test_settings_are_validated_and_secrets_hidden(self) -> None:
        cls = self._system_class()
        model = cls.Settings
        if model is None:
            pytest.skip("the system has no settings")
        if model.model_config.get("extra") != "forbid":
            fail("Settings must refuse unknown keys (extra='forbid': subclass SystemSettings or HttpSettings)")
        for name, info in model.model_fields.items():
            if not info.description:
                fail(f"setting {name!r} needs a description")
            if _looks_secret(name) and not _is_secret_str(info.annotation):
                fail(
                    f"setting {name!r} looks secret: declare it SecretStr (or SecretStr | None), "
                    f"not {info.annotation}"
                )
        raw = self._raw_settings(PLACEHOLDER_URL)
        settings, problems = validate_settings(cls, raw)
        if problems:
            fail(f"simulator_settings(url) merged with `settings` must be valid: {'; '.join(map(str, problems))}")
        _, problems = validate_settings(cls, {**raw, "kit_unknown_setting": 1})
        if not any(problem.setting == "kit_unknown_setting" for problem in problems):
            fail(f"an unknown setting must be reported by name; got {[str(p) for p in problems]}")
        for name, info in model.model_fields.items():
            if info.is_required():
                alias = info.validation_alias if isinstance(info.validation_alias, str) else None
                names = {name, info.alias, alias} - {None}
                _, problems = validate_settings(cls, {k: v for k, v in raw.items() if k not in names})
                if not any(problem.setting in names for problem in problems):
                    fail(f"a missing {name!r} must be reported naming it; got {[str(p) for p in problems]}")
        secret_raw = self._with_secrets(raw, replace=True)
        if secret_raw != raw:
            settings, problems = validate_settings(cls, secret_raw)
            if problems:
                fail(f"settings with a secret value must be valid: {'; '.join(map(str, problems))}")
        shown = {
            "repr(settings)": repr(settings),
            "str(settings)": str(settings),
            "settings.model_dump_json()": settings.model_dump_json(),
            "str(settings.model_dump())": str(settings.model_dump()),
        }
        for where, text in shown.items():
            if KIT_SECRET in text:
                fail(f"{where} shows a secret setting's value: {text[:300]}")

    # --- 3. records map into valid canonical entities ---------------------------------------------
    def test_records_map_to_valid_canonical_entities(self) -> None:
        capabilities = self._system_class().capabilities()
        if not capabilities & {Capability.PUSH, Capability.READ}:
            pytest.skip("the system is neither pushed to nor read: it has no records to map in")
        _run(self._check_map_in(capabilities))

    async def _check_map_in(self, capabilities: frozenset[Capability]) -> None:
        cls = self._system_class()
        if Capability.PUSH in capabilities:
            if not type(self).samples:
                fail("the system accepts pushed payloads: give `samples` (Sample(payload, media_type, charset))")
            async with self._running(self._raw_settings(PLACEHOLDER_URL)) as system:
                for index, sample in enumerate(type(self).samples):
                    where = f"samples[{index}] ({sample.media_type})"
                    try:
                        records = await await_me_maybe(system.parse(sample.payload, sample.media_type, sample.charset))
                    except Exception as exc:
                        fail(f"{where}: parse raised {type(exc).__name__}: {exc}")
                    await self._map_records(system, list(records), where)
        if Capability.READ in capabilities:
            async with self._simulator() as url, self._running(self._raw_settings(url)) as system:
                for stream in cls.streams:
                    where = f"stream {stream.entity_type} read from the simulator"
                    try:
                        records = await asyncio.wait_for(self._read_all(system, stream), type(self).call_timeout_s)
                    except Exception as exc:
                        fail(f"{where}: read raised {type(exc).__name__}: {exc}")
                    await self._map_records(system, records, where)

    # --- 4. map-out, and the round trip back in ---------------------------------------------------
    def test_entities_map_out(self) -> None:
        cls = self._system_class()
        if Capability.WRITE not in cls.capabilities():
            pytest.skip("the system is not written to")
        _run(self._check_map_out())

    async def _check_map_out(self) -> None:
        async with self._running(self._raw_settings(PLACEHOLDER_URL)) as system:
            for index, (entity_type, body) in enumerate(self._entities()):
                if entity_type not in type(system).writes:
                    fail(f"entities[{index}] is a {entity_type}, which the system does not declare it writes")
                content = self._content(index, entity_type, body)
                native = await self._map_out(system, index, entity_type, content)
                if not isinstance(native, dict) or not native:
                    fail(f"entities[{index}]: map_out must give a non-empty native record, not {native!r}")
                again = await self._map_out(system, index, entity_type, copy.deepcopy(content))
                if _dumps(again) != _dumps(native):
                    fail(
                        f"entities[{index}]: map_out gave two different records for one entity; a retry under the "
                        f"same delivery key must send the same record:\n{_dumps(native)}\n{_dumps(again)}"
                    )

    async def _map_out(self, system: AgencySystem, index: int, entity_type: str, content: dict[str, Any]) -> Any:
        try:
            return await await_me_maybe(system.map_out(entity_type, content))
        except Exception as exc:
            fail(f"entities[{index}]: map_out raised {type(exc).__name__}: {exc}")

    def test_map_out_round_trips_through_map_in(self) -> None:
        capabilities = self._system_class().capabilities()
        if Capability.WRITE not in capabilities:
            pytest.skip("the system is not written to")
        if not capabilities & {Capability.PUSH, Capability.READ}:
            pytest.skip("the system only writes: it has no map_in to map its records back")
        if not type(self).native_round_trip:
            pytest.skip("native_round_trip = False: what the system writes is not the shape it reads")
        _run(self._check_round_trip())

    async def _check_round_trip(self) -> None:
        async with self._running(self._raw_settings(PLACEHOLDER_URL)) as system:
            for index, (entity_type, body) in enumerate(self._entities()):
                content = self._content(index, entity_type, body)
                native = await self._map_out(system, index, entity_type, content)
                used = await self._fields_used(system, entity_type, content, native)
                if not used:
                    fail(f"entities[{index}]: map_out gives the same record whatever the entity holds")
                try:
                    mapped = await await_me_maybe(system.map_in(NativeRecord(row=1, data=copy.deepcopy(native))))
                except Exception as exc:
                    fail(f"entities[{index}]: map_in of the mapped-out record raised {type(exc).__name__}: {exc}")
                where = f"entities[{index}] mapped out and back in"
                entities = [e for e in self._mapped_entities(mapped, where) if e.entity_type == entity_type]
                if not entities:
                    fail(f"{where}: gave no {entity_type}")
                back = entities[0].content()
                differ = {
                    name: (content.get(name), back.get(name)) for name in used if back.get(name) != content.get(name)
                }
                if differ:
                    text = "; ".join(f"{name}: {sent!r} came back as {got!r}" for name, (sent, got) in differ.items())
                    fail(f"{where}: the fields map_out uses did not come back ({text})")

    async def _fields_used(
        self, system: AgencySystem, entity_type: str, content: dict[str, Any], native: Any
    ) -> list[str]:
        """The entity's fields map_out uses: those without which it gives another record (or fails)."""
        used = []
        for name, value in content.items():
            if name == "entity_type" or value in (None, "", [], {}):
                continue
            without = {k: copy.deepcopy(v) for k, v in content.items() if k != name}
            try:
                other = await await_me_maybe(system.map_out(entity_type, without))
            except Exception:
                used.append(name)
                continue
            if _dumps(other) != _dumps(native):
                used.append(name)
        return used

    # --- 5. a repeated delivery key has no second effect ------------------------------------------
    def test_repeated_delivery_key_has_no_second_effect(self) -> None:
        if Capability.WRITE not in self._system_class().capabilities():
            pytest.skip("the system is not written to")
        _run(self._check_idempotency())

    async def _check_idempotency(self) -> None:
        async with self._simulator() as url:
            async with self._running(self._raw_settings(url)) as system:
                items = await self._items(system, f"repeat-{uuid.uuid4().hex[:8]}")
                for attempt in ("first", "repeated"):
                    outcome = await self._bounded(self._write_all(system, items), type(self).call_timeout_s)
                    if outcome.answered is None or not all(isinstance(r, Delivered) for r in outcome.answered):
                        fail(f"the {attempt} write to the simulator must deliver every item; it {outcome.describe()}")
            entries = await _sim_log(url)
        keys = [item.delivery_key for item in items]
        for key in keys:
            applied = [entry for entry in entries if entry["idempotency_key"] == key and _applied(entry)]
            if len(applied) != 1:
                seen = [_brief(e) for e in entries if e["idempotency_key"] == key]
                others = [_brief(e) for e in entries if e["idempotency_key"] not in keys and _applied(e)]
                fail(
                    f"written twice, delivery key {key!r} had {len(applied)} effects at the simulator (one expected; "
                    f"entries under the key: {seen}; effects under other keys or none: {others}). Pass each item's "
                    f"delivery_key as its idempotency key, and have the simulator log every write (one entry per "
                    f"item of a batch) in the standard format (prasan.testing)"
                )

    # --- 6. status classification -----------------------------------------------------------------
    @pytest.mark.parametrize("scenario", list(SCENARIOS))
    def test_status_classification(self, scenario: str) -> None:
        cls = self._system_class()
        capabilities = cls.capabilities()
        if not capabilities & {Capability.WRITE, Capability.READ}:
            pytest.skip("the system is only pushed to: the hub makes no request to it")
        case = SCENARIOS[scenario]
        if case.delay_s and (cls.Settings is None or "timeout_s" not in cls.Settings.model_fields):
            pytest.skip("Settings has no timeout_s for the kit to shorten (the hub's write_timeout_s bounds a write)")
        outcome = _run(self._fault_outcome(case))
        verb = "write" if Capability.WRITE in capabilities else "read"
        problem = _judge(case, outcome, verb)
        if problem:
            what = "a connection refused" if case.refused else (
                f"an answer slower than timeout_s={FAULT_TIMEOUT_S}" if case.delay_s else f"HTTP {case.status}"
            )
            fail(f"on {what}, {verb} must {EXPECTED[case.expect]}; it {problem}")

    # --- 7. no secret in logs or messages ---------------------------------------------------------
    def test_no_secret_in_logs_or_messages(self) -> None:
        cls = self._system_class()
        if not self._secret_fields():
            pytest.skip("the system has no secret setting (SecretStr, or named *key*, *token*, *password*, *secret*)")
        texts: list[tuple[str, str]] = []
        with captured_log_lines() as lines:
            secrets = _run(self._secret_run(cls, texts))
        texts += [("a log line", line) for line in lines]
        for secret in secrets:
            for where, text in texts:
                if secret in text:
                    fail(f"a secret setting's value is in {where}: {text[:500]}")

    async def _secret_run(self, cls: type[AgencySystem], texts: list[tuple[str, str]]) -> set[str]:
        """Run the system's work against its simulator and every fault scenario with secret settings;
        collect the messages; answer the secret values to look for."""
        capabilities = cls.capabilities()
        secrets = {KIT_SECRET}
        if Capability.PUSH in capabilities and type(self).samples:
            async with self._running(self._with_secrets(self._raw_settings(PLACEHOLDER_URL), replace=True)) as system:
                for sample in type(self).samples:
                    try:
                        parsed = system.parse(sample.payload, sample.media_type, sample.charset)
                        for record in await await_me_maybe(parsed):
                            await await_me_maybe(system.map_in(record))
                    except Exception as exc:
                        texts.append(("an exception", "".join(traceback.format_exception(exc))))
        if not capabilities & {Capability.WRITE, Capability.READ}:
            return secrets
        if cls.simulator() is not None:
            async with self._simulator() as url:
                raw = self._with_secrets(self._raw_settings(url), replace=False)
                secrets |= {str(raw[name]) for name in self._secret_fields() if len(str(raw.get(name) or "")) >= 6}
                async with self._running(raw) as system:
                    if Capability.WRITE in capabilities:
                        items = await self._items(system, f"secret-{uuid.uuid4().hex[:8]}")
                        outcome = await self._bounded(self._write_all(system, items), type(self).call_timeout_s)
                    else:
                        outcome = await self._bounded(self._read_all(system, cls.streams[0]), type(self).call_timeout_s)
                texts += [("the simulator run's exception or results", text) for text in outcome.texts()]
        for case in SCENARIOS.values():
            outcome = await self._fault_outcome(case)
            texts += [(f"the {case.id} scenario's exception or results", text) for text in outcome.texts()]
        return secrets


def _applied(entry: dict[str, Any]) -> bool:
    """A first apply: a 2xx entry not replayed from an earlier request."""
    return 200 <= int(entry["status"]) < 300 and not entry["replayed"]


def _brief(entry: dict[str, Any]) -> dict[str, Any]:
    keep = ("method", "path", "idempotency_key", "status", "replayed")
    return {name: entry.get(name) for name in keep}


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


async def _sim_log(url: str) -> list[dict[str, Any]]:
    """The simulator's `/_sim/log` entries, checked against the standard format."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/_sim/log") as response:
        if response.status != 200:
            fail(
                "the simulator must serve GET /_sim/log (the standard log, prasan.testing); "
                f"it answered {response.status}"
            )
        body = await response.json()
    entries = body.get("entries") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        fail('GET /_sim/log must answer {"entries": [...]} (the standard log, prasan.testing)')
    for entry in entries:
        required = ("idempotency_key", "status", "replayed")
        missing = [name for name in required if not isinstance(entry, dict) or name not in entry]
        if missing:
            fail(f"a /_sim/log entry lacks {missing} (the standard log, prasan.testing): {entry}")
    return entries


def _judge(case: Scenario, outcome: Outcome, verb: str) -> str | None:
    """What is wrong with `outcome` for `case` (None: it is what the contract asks)."""
    if outcome.hung:
        if case.delay_s:
            return f"did not give up within {TIMEOUT_BOUND_S}s although timeout_s={FAULT_TIMEOUT_S}"
        return "did not answer in time"
    raised, answered = outcome.raised, outcome.answered
    if case.expect == "config":
        return None if isinstance(raised, ConfigError) else outcome.describe()
    if case.expect == "rejected":
        if isinstance(raised, PermanentError):
            return None
        if verb == "write" and raised is None and answered and all(isinstance(r, Rejected) for r in answered):
            return None
        return outcome.describe()
    # retryable
    if isinstance(raised, TransientError):
        waits = [raised.retry_after]
    elif verb == "write" and raised is None and answered and all(isinstance(r, Retryable) for r in answered):
        waits = [r.retry_after for r in answered]
    else:
        return outcome.describe()
    if case.retry_after is not None and not all(w is not None and abs(w - case.retry_after) <= 1 for w in waits):
        return f"{outcome.describe()}, without retry_after={case.retry_after:g} from the Retry-After header"
    return None
