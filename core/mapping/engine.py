"""The compiled mapping: YAML rules turned once into small objects that map records both ways.

Each rule becomes one object with `map_in` and `map_out`; paths, converters and code-list lookups are
resolved at compile time, so mapping a record is a loop over those objects. Every rule runs even after
one has failed, so that a `MappingError` lists all the problems of a record.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Callable

from canonical_model.rejection import Rejection
from core.mapping.converters import (
    Converter,
    ConverterSpecError,
    ConverterTable,
    build_converter,
    compose,
    identity,
)
from core.mapping.errors import MappingError, MappingProblem, MappingSpecError
from core.mapping.paths import MISSING, getter, parse_path, setter
from core.mapping.spec import MappingSpec, OutSpec, RuleSpec, UnpivotSpec, load_spec, read_text

Problems = list[MappingProblem]


class _CompileError(Exception):
    def __init__(self, rule: str, reason: str) -> None:
        self.rule, self.reason = rule, reason


def _pipeline(raw: Any, ctx: _Context) -> Converter | None:
    if raw is None:
        return None
    steps = raw if isinstance(raw, list) else [raw]
    if not steps:
        return None
    try:
        return compose([build_converter(step, ctx.reference, ctx.converters)[1] for step in steps])
    except ConverterSpecError as exc:
        raise _CompileError(exc.rule, exc.reason) from None


def _apply(
    fn: Callable[..., Any], value: Any, rule: Any, problems: Problems, shown: Any = MISSING, ctx: Any = None
) -> Any:
    """Run a converter; a refusal becomes a problem of this rule and the value MISSING."""
    try:
        return fn(value) if ctx is None else fn(value, ctx)
    except (ValueError, TypeError, ArithmeticError) as exc:  # a Rejection is a ValueError
        _refused(exc, value, rule, problems, shown)
    return MISSING


def _refused(exc: Exception, value: Any, rule: Any, problems: Problems, shown: Any = MISSING) -> None:
    if isinstance(exc, Rejection):
        if exc.field:  # a multi-field converter says which of its fields failed
            problems.append(rule.problem(exc.rule, exc.reason, exc.value, exc.field))
        else:
            problems.append(rule.problem(exc.rule, exc.reason, value if shown is MISSING else shown))
    else:
        problems.append(rule.problem("mapping.invalid_value", str(exc) or type(exc).__name__, value))


class _Rule:
    """What every compiled rule knows: where it came from and how to describe a problem."""

    line: int
    target: str
    source: str | None
    # For `canonical`: where map_out finds the value, and whether its absence is a problem.
    out_get: Callable[[dict[str, Any]], Any]
    required: bool
    has_default: bool

    def problem(self, rule: str, reason: str, value: Any = None, source: str | None = None) -> MappingProblem:
        return MappingProblem(self.line, self.target, source or self.source, value, rule, reason)

    def map_in(self, record: dict[str, Any], out: dict[str, Any], problems: Problems) -> None:
        raise NotImplementedError

    def map_out(self, payload: dict[str, Any], out: dict[str, Any], problems: Problems) -> None:
        raise NotImplementedError

    def canonical(self, payload: dict[str, Any], problems: Problems, what: str = "field") -> Any:
        """The canonical value map_out writes back, or MISSING when there is none (a problem when the
        mapping requires it)."""
        value = self.out_get(payload)
        if value is MISSING or value is None:
            if self.required and not self.has_default:
                problems.append(self.problem("mapping.missing_field", f"canonical {what} is missing", None))
            return MISSING
        return value


class _Context:
    def __init__(
        self, reference: Any, null_markers: list[str], want_out: bool, converters: ConverterTable | None = None
    ) -> None:
        self.reference = reference
        self.converters = converters
        self.nulls = frozenset(marker.strip() for marker in null_markers)
        self.want_out = want_out

    def is_empty(self, value: Any) -> bool:
        return value is None or (isinstance(value, str) and value.strip() in self.nulls)


class _FieldRule(_Rule):
    def __init__(self, spec: RuleSpec, ctx: _Context) -> None:
        self.line, self.target = spec.line, spec.target
        self.set = setter(spec.target)
        self.is_empty = ctx.is_empty
        self.const, self.has_const = spec.const, spec.has_const
        self.default, self.has_default = spec.default, spec.has_default
        self.required = spec.required if spec.required is not None else not (spec.has_default or spec.has_const)
        conv = _pipeline(spec.convert, ctx)
        self.forward = conv.forward if conv else identity
        self.partial = bool(conv and conv.partial)
        self.sources: tuple[str, ...] = conv.sources if conv else ()
        if self.sources and spec.source is not None:
            raise _CompileError("mapping.spec", "a multi-field converter names its own fields; drop `source`")
        if not self.sources and spec.source is None and not spec.has_const:
            raise _CompileError("mapping.spec", "a rule needs `source`, `const`, `each`, `unpivot` or a multi-field converter")
        self.source = spec.source if spec.source is not None else (",".join(self.sources) or None)
        self.get = getter(spec.source) if spec.source is not None else None
        self.source_getters = [(name, getter(name)) for name in self.sources]
        self.context_getters = [(name, getter(name)) for name in (conv.context if conv else ())]
        if self.context_getters and self.sources:
            raise _CompileError("mapping.spec", "a converter that reads other fields cannot follow a multi-field one")
        self.out_fn: Callable[[Any], Any] | None = None
        if ctx.want_out:
            self._compile_out(spec, conv, ctx)
        if not self.has_const and not self.sources:
            # The commonest rule, one native field through its converters: called directly, without the
            # dispatch of map_in (a record passes a dozen such rules).
            self.map_in = self._map_in_field  # type: ignore[method-assign]

    def _compile_out(self, spec: RuleSpec, conv: Converter | None, ctx: _Context) -> None:
        out = spec.out
        self.out_get = getter(spec.target)
        self.out_const: Any = MISSING
        if out is False:
            return
        if isinstance(out, OutSpec):
            native = out.target or spec.source
            if native is None:
                raise _CompileError("mapping.spec", "`out:` needs `target` (the native field) for this rule")
            self.out_set = setter(native, exact_fallback=True)
            if out.source:
                self.out_get = getter(out.source)
            if "const" in out.model_fields_set:
                self.out_const = out.const
                self.out_fn = identity
                return
            custom = _pipeline(out.convert, ctx)
            self.out_fn = custom.forward if custom else identity
            return
        if self.sources and conv is not None and conv.inverse is not None:
            # An invertible composed value (a parsed template) writes each of its native fields.
            setters = [(name, setter(name, exact_fallback=True)) for name in self.sources]

            def write_parts(record: dict[str, Any], parts: dict[str, Any]) -> None:
                for name, put in setters:
                    if name in parts:
                        put(record, parts[name])

            self.out_set = write_parts
            self.out_fn = conv.inverse
            return
        if self.has_const or self.sources:
            if out is True:
                raise _CompileError("mapping.one_way", "this rule cannot run backwards; give `out:` a convert or const")
            return  # constants, hashes and concatenations have no native field to write back
        if conv is not None and conv.inverse is None:
            if out is True:
                raise _CompileError("mapping.one_way", "this converter has no inverse; give `out:` a convert")
            return
        self.out_set = setter(spec.source, exact_fallback=True)  # type: ignore[arg-type]
        self.out_fn = conv.inverse if conv else identity

    def _absent(self, out: dict[str, Any], problems: Problems, raw: Any) -> None:
        if self.has_default:
            self.set(out, copy.deepcopy(self.default))
        elif self.required:
            problems.append(self.problem("mapping.missing_field", "required field is missing or empty", raw))

    def map_in(self, record: dict[str, Any], out: dict[str, Any], problems: Problems) -> None:
        if self.has_const:
            self.set(out, copy.deepcopy(self.const))
            return
        if self.sources:
            parts: dict[str, Any] = {}
            missing = []
            for name, get in self.source_getters:
                value = get(record)
                if value is MISSING or self.is_empty(value):
                    missing.append(name)
                    value = None
                parts[name] = value
            if len(missing) == len(parts):
                self._absent(out, problems, None)
                return
            if missing and not self.partial:
                if self.required:
                    for name in missing:
                        problems.append(
                            self.problem("mapping.missing_field", "field needed by a composed value is missing", None, name)
                        )
                elif self.has_default:
                    self._absent(out, problems, None)
                return
            value = _apply(self.forward, parts, self, problems)
        else:
            self._map_in_field(record, out, problems)
            return
        if value is not MISSING:
            self.set(out, value)

    def _map_in_field(self, record: dict[str, Any], out: dict[str, Any], problems: Problems) -> None:
        """One native field (with the other fields its converters read as context) through its converters."""
        raw = self.get(record)  # type: ignore[misc]
        if raw is MISSING or self.is_empty(raw):
            self._absent(out, problems, None if raw is MISSING else raw)
            return
        try:
            if self.context_getters:
                ctx = {name: (None if (v := get(record)) is MISSING else v) for name, get in self.context_getters}
                value = self.forward(raw, ctx)
            else:
                value = self.forward(raw)
        except (ValueError, TypeError, ArithmeticError) as exc:  # a Rejection is a ValueError
            _refused(exc, raw, self, problems)
            return
        if value is None:
            self._absent(out, problems, raw)
        elif value is not MISSING:
            self.set(out, value)

    def map_out(self, payload: dict[str, Any], out: dict[str, Any], problems: Problems) -> None:
        if self.out_fn is None:
            return
        if self.out_const is not MISSING:
            self.out_set(out, copy.deepcopy(self.out_const))
            return
        value = self.canonical(payload, problems)
        if value is MISSING:
            return
        native = _apply(self.out_fn, value, self, problems)
        if native is not MISSING:
            self.out_set(out, native)


def _prefixed(problems: Problems, target: str, source: str | None, index: int) -> Problems:
    def join(base: str | None, inner: str | None) -> str | None:
        if base is None:
            return inner
        return f"{base}[{index}]" + (f".{inner}" if inner else "")

    return [
        MappingProblem(p.line, join(target, p.target) or target, join(source, p.source_field), p.value, p.rule, p.reason)
        for p in problems
    ]


class _EachRule(_Rule):
    """A native list mapped item by item with its own rules; problems name `list[i].field`."""

    def __init__(self, spec: RuleSpec, ctx: _Context, compile_rules: Callable[..., list[_Rule]]) -> None:
        self.line, self.target, self.source = spec.line, spec.target, spec.each
        self.get, self.set = getter(spec.each), setter(spec.target)  # type: ignore[arg-type]
        self.out_get, self.out_set = getter(spec.target), setter(spec.each, exact_fallback=True)  # type: ignore[arg-type]
        self.required = spec.required if spec.required is not None else not spec.has_default
        self.default, self.has_default = spec.default, spec.has_default
        self.skip_out = spec.out is False
        self.is_empty = ctx.is_empty
        self.rules = compile_rules(spec.fields)

    def _run(self, items: Any, direction: str, problems: Problems, here: str, there: str | None) -> list[Any] | None:
        if not isinstance(items, list):
            problems.append(self.problem("mapping.not_a_list", "expected a list", items))
            return None
        result = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                problems.append(self.problem("mapping.not_an_object", f"list item {index} is not an object", item))
                continue
            mapped: dict[str, Any] = {}
            inner: Problems = []
            for rule in self.rules:
                getattr(rule, direction)(item, mapped, inner)
            if inner:
                problems.extend(_prefixed(inner, here, there, index))
            result.append(mapped)
        return result

    def map_in(self, record: dict[str, Any], out: dict[str, Any], problems: Problems) -> None:
        items = self.get(record)
        if items is MISSING or self.is_empty(items):
            if self.has_default:
                self.set(out, copy.deepcopy(self.default))
            elif self.required:
                problems.append(self.problem("mapping.missing_field", "required list is missing", None))
            return
        result = self._run(items, "map_in", problems, self.target, self.source)
        if result is not None:
            self.set(out, result)

    def map_out(self, payload: dict[str, Any], out: dict[str, Any], problems: Problems) -> None:
        if self.skip_out:
            return
        items = self.canonical(payload, problems, "list")
        if items is MISSING:
            return
        result = self._run(items, "map_out", problems, self.target, self.source)
        if result is not None:
            self.out_set(out, result)


_GROUP = re.compile(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>")


class _UnpivotRule(_Rule):
    """Wide per-year columns to a list of items (OFDP `normalize`), and the pivot back on map_out."""

    def __init__(self, spec: RuleSpec, ctx: _Context) -> None:
        un: UnpivotSpec = spec.unpivot  # type: ignore[assignment]
        self.line, self.target = spec.line, spec.target
        self.source = un.pattern or ", ".join(un.columns or {})
        self.set, self.out_get = setter(spec.target), getter(spec.target)
        self.container_get = getter(un.source) if un.source else None
        self.container_set = setter(un.source, exact_fallback=True) if un.source else None
        self.value_key = un.value
        self.required = spec.required if spec.required is not None else not spec.has_default
        self.default, self.has_default = spec.default, spec.has_default
        self.is_empty = ctx.is_empty
        value_conv = _pipeline(un.convert, ctx)
        if value_conv is not None and (value_conv.sources or value_conv.context):
            raise _CompileError("mapping.spec", "unpivot cells take single-value converters only")
        self.value_in = value_conv.forward if value_conv else identity
        self.value_out = value_conv.inverse if value_conv else identity
        self.key_conv = {name: _pipeline(raw, ctx) for name, raw in un.keys.items()}
        self.columns: dict[str, dict[str, Any]] | None = None
        self.pattern = None
        self.template = un.column
        if un.columns is not None:
            self.columns = {col: self._keys_in(dict(keys), col) for col, keys in un.columns.items()}
            self.key_names = tuple(dict.fromkeys(k for keys in self.columns.values() for k in keys))
            self.column_of = {tuple(keys.get(k) for k in self.key_names): col for col, keys in self.columns.items()}
        else:
            try:
                self.pattern = re.compile(un.pattern)  # type: ignore[arg-type]
            except re.error as exc:
                raise _CompileError("mapping.bad_pattern", f"unpivot pattern: {exc}") from None
            self.key_names = tuple(self.pattern.groupindex)
            if not self.key_names:
                raise _CompileError("mapping.bad_pattern", "unpivot pattern needs a named group, e.g. (?P<fiscal_year>...)")
            self.seen: dict[str, dict[str, Any] | None] = {}
        unknown = set(self.key_conv) - set(self.key_names)
        if unknown:
            raise _CompileError("mapping.spec", f"unpivot keys {sorted(unknown)} are not in the columns or pattern")
        self.writes_out = ctx.want_out and spec.out is not False
        if self.writes_out:
            if self.value_out is None or any(c is not None and c.inverse is None for c in self.key_conv.values()):
                raise _CompileError("mapping.one_way", "unpivot converters must be invertible (or set `out: false`)")
            if self.pattern is not None and not self.template:
                raise _CompileError("mapping.spec", "unpivot by pattern needs `column:` (e.g. 'งบประมาณ {fiscal_year}') for map_out")

    def _keys_in(self, keys: dict[str, Any], column: str) -> dict[str, Any]:
        for name, conv in self.key_conv.items():
            if conv is not None and name in keys:
                try:
                    keys[name] = conv.forward(keys[name])
                except ValueError as exc:
                    raise _CompileError("mapping.bad_args", f"column {column!r}: {exc}") from None
        return keys

    def _match(self, column: str, problems: Problems) -> dict[str, Any] | None:
        if column in self.seen:  # headers repeat on every row; match each one once
            return self.seen[column]
        found = self.pattern.match(column) if isinstance(column, str) else None  # type: ignore[union-attr]
        keys = None
        if found:
            keys = {}
            for name, text in found.groupdict().items():
                conv = self.key_conv.get(name)
                if conv is None:
                    keys[name] = text
                    continue
                converted = _apply(conv.forward, text, self, problems, shown=column)
                if converted is MISSING:
                    return None  # not cached: each record with this header reports it
                keys[name] = converted
        self.seen[column] = keys
        return keys

    def map_in(self, record: dict[str, Any], out: dict[str, Any], problems: Problems) -> None:
        container = self.container_get(record) if self.container_get else record
        items: list[dict[str, Any]] = []
        filled = 0
        if isinstance(container, dict):
            pairs = (
                ((col, keys) for col, keys in self.columns.items() if col in container)
                if self.columns is not None
                else ((col, self._match(col, problems)) for col in list(container))
            )
            for column, keys in pairs:
                if keys is None:
                    continue
                cell = container[column]
                if self.is_empty(cell):
                    continue
                filled += 1
                value = _apply(self.value_in, cell, self, problems)
                if value is MISSING:
                    problems[-1] = MappingProblem(
                        self.line, self.target, column, cell, problems[-1].rule, problems[-1].reason
                    )
                    continue
                item = dict(keys)
                item[self.value_key] = value
                items.append(item)
        if items:
            self.set(out, items)
        elif self.has_default:
            self.set(out, copy.deepcopy(self.default))
        elif self.required and not filled:
            problems.append(self.problem("mapping.missing_field", "no filled column matches the unpivot rule", None))

    def map_out(self, payload: dict[str, Any], out: dict[str, Any], problems: Problems) -> None:
        if not self.writes_out:
            return
        items = self.canonical(payload, problems, "list")
        if items is MISSING:
            return
        if not isinstance(items, list):
            problems.append(self.problem("mapping.not_a_list", "expected a list", items))
            return
        wide: dict[str, Any] = {}
        for item in items:
            if not isinstance(item, dict):
                problems.append(self.problem("mapping.not_an_object", "list item is not an object", item))
                continue
            column = self._column_for(item, problems)
            if column is None:
                continue
            value = item.get(self.value_key)
            if value is None:
                continue
            native = _apply(self.value_out, value, self, problems)  # type: ignore[arg-type]
            if native is not MISSING:
                wide[column] = native
        if self.container_set is not None:
            self.container_set(out, wide)
        else:
            out.update(wide)

    def _column_for(self, item: dict[str, Any], problems: Problems) -> str | None:
        if self.columns is not None:
            column = self.column_of.get(tuple(item.get(k) for k in self.key_names))
            if column is None:
                shown = {k: item.get(k) for k in self.key_names}
                problems.append(self.problem("mapping.no_column", "no declared column for this item", shown))
            return column
        native = {}
        for name in self.key_names:
            value = item.get(name)
            conv = self.key_conv.get(name)
            if conv is not None and value is not None:
                value = _apply(conv.inverse, value, self, problems)  # type: ignore[arg-type]
                if value is MISSING:
                    return None
            native[name] = value
        return self.template.format(**native)  # type: ignore[union-attr]


class Mapping:
    """One system's records <-> one canonical entity type, compiled from a YAML mapping file."""

    def __init__(
        self,
        spec: MappingSpec,
        *,
        reference: Any = None,
        source: str | None = None,
        converters: ConverterTable | None = None,
    ) -> None:
        self.spec = spec
        self.name, self.version, self.system = spec.mapping, spec.version, spec.system
        self.entity_type, self.direction = spec.entity_type, spec.direction
        self._ctx = _Context(reference, spec.null_markers, spec.direction != "in", converters)
        errors: Problems = []
        self._rules = self._compile(spec.fields, errors)
        if errors:
            raise MappingSpecError(errors, source=source)

    def _compile(self, specs: list[RuleSpec] | None, errors: Problems) -> list[_Rule]:
        rules: list[_Rule] = []
        for spec in specs or []:
            try:
                for path in (spec.target, spec.source, spec.each):
                    if path is not None and path is not spec.source:
                        parse_path(path)
                if spec.each is not None:
                    rules.append(_EachRule(spec, self._ctx, lambda sub: self._compile(sub, errors)))
                elif spec.unpivot is not None:
                    rules.append(_UnpivotRule(spec, self._ctx))
                else:
                    rules.append(_FieldRule(spec, self._ctx))
            except _CompileError as exc:
                errors.append(MappingProblem(spec.line, spec.target, spec.source, None, exc.rule, exc.reason))
            except ValueError as exc:  # bad paths
                errors.append(MappingProblem(spec.line, spec.target, spec.source, None, "mapping.bad_path", str(exc)))
        return rules

    @classmethod
    def from_yaml(
        cls, path_or_text: str | Path, reference: Any = None, converters: ConverterTable | None = None
    ) -> Mapping:
        """From YAML text, or from a file when given a Path or a string ending in .yaml/.yml.
        `converters` adds plugins' converters to the core set (`ConverterTable`)."""
        text, source = read_text(path_or_text)
        return cls(load_spec(text, source=source), reference=reference, source=source, converters=converters)

    @classmethod
    def from_file(
        cls, path: str | Path, reference: Any = None, converters: ConverterTable | None = None
    ) -> Mapping:
        return cls.from_yaml(Path(path), reference=reference, converters=converters)

    @property
    def provenance(self) -> dict[str, Any]:
        """Recorded with each entity version, so a stored figure can be traced to the rules that made it."""
        return {"mapping": self.name, "version": self.version, "system": self.system}

    def try_map_in(self, record: dict[str, Any]) -> tuple[dict[str, Any] | None, Problems]:
        if self.direction == "out":
            raise RuntimeError(f"mapping {self.name} is declared `direction: out`")
        out: dict[str, Any] = {}
        problems: Problems = []
        if not isinstance(record, dict):
            problems.append(MappingProblem(0, "", None, record, "mapping.not_an_object", "a record is an object"))
            return None, problems
        for rule in self._rules:
            rule.map_in(record, out, problems)
        return (None, problems) if problems else (out, problems)

    def try_map_out(self, payload: dict[str, Any]) -> tuple[dict[str, Any] | None, Problems]:
        if self.direction == "in":
            raise RuntimeError(f"mapping {self.name} is declared `direction: in`")
        out: dict[str, Any] = {}
        problems: Problems = []
        for rule in self._rules:
            rule.map_out(payload, out, problems)
        return (None, problems) if problems else (out, problems)

    def map_in(self, record: dict[str, Any]) -> dict[str, Any]:
        """Native record -> canonical payload (not yet validated by the entity model)."""
        out, problems = self.try_map_in(record)
        if problems:
            raise MappingError(problems, mapping=self.name, system=self.system, entity_type=self.entity_type)
        return out  # type: ignore[return-value]

    def map_out(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Canonical payload -> native record; one-way rules are skipped (see core.mapping.converters)."""
        out, problems = self.try_map_out(payload)
        if problems:
            raise MappingError(problems, mapping=self.name, system=self.system, entity_type=self.entity_type)
        return out  # type: ignore[return-value]
