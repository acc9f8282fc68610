"""Named value converters, each with its inverse, selected from YAML by name with arguments.

A converter turns one native value into its canonical form (map_in) and, when that is possible, back
(map_out). It is built once per rule when the mapping is compiled, so argument checks, imports and
code-list lookups by scheme happen at load time and the per-record work is a plain function call.

Converters without an inverse (`hash`, `template`, `concat`, `fiscal_year` from an e-GP number or a
GF-MIS fund) make their rule one-way: map_out skips it unless the rule has an explicit `out:` block.
The core set is registered here with `register_converter`; plugins contribute theirs through the
registrar (`core.contract.Registrar.add_converter`), namespaced `<plugin>.<name>`, and the hub hands
mappings a `ConverterTable` holding both.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from canonical_model.rejection import Rejection

Fn = Callable[[Any], Any]


@dataclass(frozen=True)
class Converter:
    forward: Fn
    inverse: Fn | None
    # Multi-source converters read several native fields; the engine passes {field: value}.
    sources: tuple[str, ...] = ()
    # ...and `partial` ones accept some of those fields missing (a hash over what there is).
    partial: bool = False
    # Other native fields a converter consults (a plan name is looked up under its agency); when set,
    # `forward` is called as forward(value, {field: value}).
    context: tuple[str, ...] = ()


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ConverterType:
    name: str
    args: type[Args]
    build: Callable[[Any, Any], Converter]
    primary: str | None
    needs_reference: bool


class ConverterSpecError(ValueError):
    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


REGISTRY: dict[str, ConverterType] = {}
_building_with: contextvars.ContextVar[ConverterTable | None] = contextvars.ContextVar("converter_table", default=None)


class ConverterClash(ValueError):
    """Two plugins (or a plugin and the core set) contribute a converter under the same name."""


class ConverterTable:
    """The core converters plus the ones plugins contributed; a name is given out once."""

    def __init__(self) -> None:
        self._extra: dict[str, ConverterType] = {}
        self._owners: dict[str, str] = {}

    def add(self, owner: str, kind: ConverterType) -> None:
        if kind.name in REGISTRY:
            raise ConverterClash(f"plugin {owner!r} contributes converter {kind.name!r}, a core converter")
        if kind.name in self._extra:
            raise ConverterClash(
                f"converter {kind.name!r} is contributed by two plugins: {self._owners[kind.name]!r} and {owner!r}"
            )
        self._extra[kind.name] = kind
        self._owners[kind.name] = owner

    def get(self, name: str) -> ConverterType | None:
        return REGISTRY.get(name) or self._extra.get(name)

    def names(self) -> list[str]:
        return sorted({*REGISTRY, *self._extra})

    def owner(self, name: str) -> str:
        return self._owners.get(name, "core")


def register_converter(
    name: str, args: type[Args], *, primary: str | None = None, needs_reference: bool = False
) -> Callable[[Callable[[Any, Any], Converter]], Callable[[Any, Any], Converter]]:
    """Register `build(args, reference) -> Converter` under `name`; `primary` is the argument that a
    scalar shorthand sets (`{code: dla-lao}` means `{code: {scheme: dla-lao}}`)."""

    def decorate(build: Callable[[Any, Any], Converter]) -> Callable[[Any, Any], Converter]:
        REGISTRY[name] = ConverterType(name, args, build, primary, needs_reference)
        return build

    return decorate


def build_converter(step: Any, reference: Any, table: ConverterTable | None = None) -> tuple[str, Converter]:
    """One pipeline step from YAML: `name`, `{name: null}`, `{name: scalar}` or `{name: {args}}`;
    names are looked up in `table` (the core set when None)."""
    if isinstance(step, str):
        name, raw_args = step, None
    elif isinstance(step, dict) and len(step) == 1:
        name, raw_args = next(iter(step.items()))
    else:
        raise ConverterSpecError(
            "mapping.bad_converter", f"a converter is a name or a one-key mapping {{name: args}}, not {step!r}"
        )
    kind = table.get(name) if table is not None else REGISTRY.get(name)
    if kind is None:
        known = ", ".join(table.names() if table is not None else sorted(REGISTRY))
        raise ConverterSpecError("mapping.unknown_converter", f"unknown converter {name!r} (known: {known})")
    if raw_args is None:
        raw_args = {}
    elif isinstance(raw_args, dict) and kind.primary and not set(raw_args) <= set(kind.args.model_fields):
        # `{map: {ซื้อ: purchase}}`: a table given directly is the primary argument.
        if kind.args.model_fields[kind.primary].annotation not in (dict[Any, Any], dict[str, Any]):
            pass  # leave it to validation, which names the unknown keys
        else:
            raw_args = {kind.primary: raw_args}
    elif not isinstance(raw_args, dict):
        if kind.primary is None:
            raise ConverterSpecError("mapping.bad_args", f"converter {name!r} takes a mapping of arguments")
        raw_args = {kind.primary: raw_args}
    try:
        args = kind.args.model_validate(dict(raw_args))
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'args'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise ConverterSpecError("mapping.bad_args", f"converter {name!r}: {detail}") from exc
    if kind.needs_reference and reference is None:
        raise ConverterSpecError(
            "mapping.reference_missing", f"converter {name!r} needs ReferenceData: pass reference= to the Mapping"
        )
    # A converter that builds others (template parts) reaches the same table through this.
    token = _building_with.set(table)
    try:
        return name, kind.build(args, reference)
    except ConverterSpecError:
        raise
    except (KeyError, ValueError) as exc:
        raise ConverterSpecError("mapping.bad_args", f"converter {name!r}: {exc}") from exc
    finally:
        _building_with.reset(token)


def compose(steps: list[Converter]) -> Converter:
    """A pipeline: forwards in order, inverses in reverse order (None if any step is one-way)."""
    if len(steps) == 1:
        return steps[0]
    if any(step.sources for step in steps[1:]):
        raise ConverterSpecError("mapping.bad_converter", "a multi-field converter must come first in a pipeline")
    context = tuple(dict.fromkeys(name for step in steps for name in step.context))
    forward: Callable[..., Any]
    if context:
        calls = [(step.forward, bool(step.context)) for step in steps]

        def forward(value: Any, ctx: dict[str, Any]) -> Any:
            for fn, wants in calls:
                value = fn(value, ctx) if wants else fn(value)
            return value
    else:
        forwards = [step.forward for step in steps]

        def forward(value: Any) -> Any:
            for fn in forwards:
                value = fn(value)
            return value

    inverse: Fn | None = None
    if all(step.inverse is not None for step in steps):
        inverses = [step.inverse for step in reversed(steps)]

        def inverse(value: Any) -> Any:
            for fn in inverses:
                value = fn(value)  # type: ignore[misc]
            return value

    return Converter(forward, inverse, steps[0].sources, steps[0].partial, context)


def identity(value: Any) -> Any:
    return value


# --- text and codes -------------------------------------------------------------------------------


class NoArgs(Args):
    pass


@register_converter("text", NoArgs)
def _text(args: NoArgs, reference: Any) -> Converter:
    from canonical_model.thai_text import normalize_text

    def forward(value: Any) -> str:
        if not isinstance(value, str):
            raise Rejection("text.type", "expected text", value)
        return normalize_text(value)

    return Converter(forward, identity)


class CodeArgs(Args):
    scheme: str | None = None
    pad: int | None = Field(None, ge=1, le=32)


@register_converter("code", CodeArgs, primary="scheme")
def _code(args: CodeArgs, reference: Any) -> Converter:
    from canonical_model.codes import SCHEMES, validate_code
    from canonical_model.thai_text import normalize_code

    if args.scheme is not None and args.scheme not in SCHEMES:
        raise ConverterSpecError("mapping.bad_args", f"unknown code scheme {args.scheme!r} (known: {sorted(SCHEMES)})")
    scheme, pad = args.scheme, args.pad

    def forward(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise Rejection("code.type", "a code is text (or a whole number when leading zeros cannot be lost)", value)
        text = normalize_code(str(value))
        if pad:
            text = text.zfill(pad)
        return validate_code(scheme, text) if scheme else text

    return Converter(forward, identity)


class MapArgs(Args):
    values: dict[Any, Any]
    strict: bool = True
    out: dict[Any, Any] | None = None  # explicit inverse table when `values` is many-to-one


@register_converter("map", MapArgs, primary="values")
def _map(args: MapArgs, reference: Any) -> Converter:
    """An inline table: native spellings to canonical values (enums, aliases of code-list names)."""
    from canonical_model.thai_text import normalize_text

    table = {(normalize_text(k) if isinstance(k, str) else k): v for k, v in args.values.items()}
    back: dict[Any, Any] = dict(args.out or {})
    if args.out is None:
        for native, canonical in args.values.items():
            back.setdefault(canonical, native)  # the first spelling listed is the one written out
    strict = args.strict

    def forward(value: Any) -> Any:
        key = normalize_text(value) if isinstance(value, str) else value
        if key in table:
            return table[key]
        if strict:
            raise Rejection("mapping.unmapped_value", f"value not in the mapping table ({len(table)} known)", value)
        return value

    def inverse(value: Any) -> Any:
        if value in back:
            return back[value]
        if strict:
            raise Rejection("mapping.unmapped_value", "canonical value has no native spelling", value)
        return value

    return Converter(forward, inverse)


# --- numbers ---------------------------------------------------------------------------------------


class IntArgs(Args):
    min: int | None = None
    max: int | None = None


@register_converter("int", IntArgs)
def _int(args: IntArgs, reference: Any) -> Converter:
    from canonical_model.thai_digits import to_arabic_digits

    low, high = args.min, args.max

    def forward(value: Any) -> int:
        if isinstance(value, bool):
            raise Rejection("int.type", "expected a whole number", value)
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", text := to_arabic_digits(value.strip()).replace(",", "")):
            number = int(text)
        elif isinstance(value, (float, Decimal)) and value == int(value):
            number = int(value)
        else:
            raise Rejection("int.invalid", "expected a whole number", value)
        if (low is not None and number < low) or (high is not None and number > high):
            raise Rejection("int.range", f"expected a whole number between {low} and {high}", value)
        return number

    return Converter(forward, identity)


class MoneyArgs(Args):
    allow_negative: bool = False
    # JSON parsers hand over floats (`5649361479.8`); accept them through their shortest repr only
    # when the source is known to be machine-made.
    floats: bool = False
    out: Literal["plain", "thousands", "int", "decimal"] = "plain"


@register_converter("money", MoneyArgs)
def _money(args: MoneyArgs, reference: Any) -> Converter:
    from canonical_model.money import format_money, parse_money

    allow_negative, floats, out = args.allow_negative, args.floats, args.out

    def forward(value: Any) -> Decimal:
        if floats and isinstance(value, float):
            value = repr(value)
        return parse_money(value, allow_negative=allow_negative)

    def inverse(value: Any) -> Any:
        amount = value if isinstance(value, Decimal) else parse_money(value, allow_negative=True)
        if out == "decimal":
            return amount
        if out == "int" and amount == amount.to_integral_value():
            return int(amount)
        return format_money(amount, thousands=out == "thousands")

    return Converter(forward, inverse)


class PercentArgs(Args):
    out: Literal["plain", "decimal"] = "plain"


@register_converter("decimal_percent", PercentArgs)
def _percent(args: PercentArgs, reference: Any) -> Converter:
    from canonical_model.thai_digits import to_arabic_digits

    as_decimal = args.out == "decimal"

    def forward(value: Any) -> Decimal:
        if isinstance(value, bool) or isinstance(value, float):
            raise Rejection("percent.type", "a percentage is text or a whole number, not a float", value)
        text = to_arabic_digits(str(value)).strip().removesuffix("%").strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise Rejection("percent.invalid", "not a percentage", value) from None
        if not number.is_finite() or "e" in text.lower():
            raise Rejection("percent.invalid", "not a plain percentage", value)
        if not 0 <= number <= 100:
            raise Rejection("percent.range", "a percentage is between 0 and 100", value)
        return number

    def inverse(value: Any) -> Any:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return number if as_decimal else format(number, "f")

    return Converter(forward, inverse)


# --- years and dates -------------------------------------------------------------------------------


class FiscalYearArgs(Args):
    era: Literal["be", "ce", "two_digit_be", "egp_project_number", "gfmis_fund"] = "be"
    out: Literal["int", "str"] | None = None


@register_converter("fiscal_year", FiscalYearArgs, primary="era")
def _fiscal_year(args: FiscalYearArgs, reference: Any) -> Converter:
    from canonical_model import fiscal_year as fy

    era = args.era
    as_str = args.out == "str" if args.out else era == "two_digit_be"
    forward: Fn
    inverse: Fn | None
    if era in ("be", "ce"):
        def forward(value: Any) -> int:
            return fy.parse_fiscal_year(value, era=era)

        offset = 543 if era == "ce" else 0

        def inverse(value: Any) -> Any:
            year = int(value) - offset
            return str(year) if as_str else year
    elif era == "two_digit_be":
        forward = fy.fiscal_year_from_two_digit_be

        def inverse(value: Any) -> Any:
            short = int(value) % 100
            return f"{short:02d}" if as_str else short
    elif era == "egp_project_number":
        forward, inverse = fy.fiscal_year_from_egp_project_number, None
    else:
        forward, inverse = fy.fiscal_year_from_gfmis_fund, None
    return Converter(forward, inverse)


class ThaiDateArgs(Args):
    style: Literal["abbr_2digit", "full", "slash_be", "iso_be", "iso"] = "iso_be"


@register_converter("thai_date", ThaiDateArgs, primary="style")
def _thai_date(args: ThaiDateArgs, reference: Any) -> Converter:
    from canonical_model.thai_dates import format_thai_date, parse_thai_date

    style = args.style

    def forward(value: Any) -> dt.date | None:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return parse_thai_date(value)

    def inverse(value: Any) -> str:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        return day.isoformat() if style == "iso" else format_thai_date(day, style)

    return Converter(forward, inverse)


# --- reference data --------------------------------------------------------------------------------


class CodelistArgs(Args):
    scheme: str
    match: Literal["code", "name"] = "code"
    level: str | None = None
    # National plan names repeat under every agency: the native field holding the parent's code.
    parent_field: str | None = None
    result: Literal["code", "name"] = "code"  # what map_in yields: the node's code or its official name
    out: Literal["code", "name"] | None = None  # what map_out writes (default: what was matched)


def _named(table: dict[str, Any], name: str, what: str) -> Any:
    """The reference data's `what` called `name`; a mapping naming one the hub lacks is refused, with
    the names it has."""
    if name not in table:
        raise ConverterSpecError("mapping.bad_args", f"no {what} {name!r} (known: {sorted(table)})")
    return table[name]


@register_converter("codelist", CodelistArgs, primary="scheme", needs_reference=True)
def _codelist(args: CodelistArgs, reference: Any) -> Converter:
    """Looks a code or a Thai name up in a code list and yields the node's code."""
    code_list = _named(reference.code_lists, args.scheme, "code list")
    from canonical_model.thai_text import normalize_code, normalize_text

    scheme, level, by_name = args.scheme, args.level, args.match == "name"
    write_name = (args.out or args.match) == "name"

    if level is not None and level not in code_list.levels:
        raise ConverterSpecError("mapping.bad_args", f"{scheme} has no level {level!r} (levels: {code_list.levels})")
    parent_field = args.parent_field
    yields_name = args.result == "name"

    def lookup(value: Any, parent: str | None) -> str:
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise Rejection("codelist.type", "expected a code or a name", value)
        if by_name:
            node = code_list.by_name(normalize_text(str(value)), level, parent)
            if node is None:
                under = f" under {parent}" if parent else ""
                raise Rejection("codelist.unknown_name", f"no {scheme} {level or 'entry'} named so{under}", value)
        else:
            node = code_list.get(normalize_code(str(value)))
            if node is None:
                raise Rejection("codelist.unknown_code", f"no {scheme} entry with this code", value)
            if level is not None and node.level != level:
                raise Rejection("codelist.wrong_level", f"{scheme} {node.code} is a {node.level}, not a {level}", value)
            if parent is not None and node.parent != parent:
                raise Rejection("codelist.wrong_parent", f"{scheme} {node.code} is not under {parent}", value)
        return node.name_th if yields_name else node.code

    forward: Callable[..., str]
    if parent_field:
        def forward(value: Any, ctx: dict[str, Any]) -> str:
            parent = ctx.get(parent_field)
            return lookup(value, normalize_code(str(parent)) if parent not in (None, "") else None)
    else:
        def forward(value: Any) -> str:
            return lookup(value, None)

    def inverse(value: Any) -> str:
        if yields_name and write_name:
            return value  # the official name is already what the native side spells
        node = code_list.by_name(str(value), level) if yields_name else code_list.get(str(value))
        if node is None:
            raise Rejection("codelist.unknown_code", f"no {scheme} entry with this code", value)
        return node.name_th if write_name else node.code

    return Converter(forward, inverse, context=(parent_field,) if parent_field else ())


class CrosswalkArgs(Args):
    name: str
    direction: Literal["forward", "reverse"] = "forward"


def _reverse_table(crosswalk: Any) -> dict[str, str]:
    if hasattr(crosswalk, "reverse_table"):
        return dict(crosswalk.reverse_table())
    table: dict[str, str] = {}
    for row in crosswalk.rows:
        get = row.get if isinstance(row, dict) else (lambda key, _row=row: getattr(_row, key, None))
        source = get("source") or get("source_code")
        target = get("target") or get("target_code")
        if source is not None and target is not None:
            table.setdefault(str(target), str(source))
    return table


@register_converter("crosswalk", CrosswalkArgs, primary="name", needs_reference=True)
def _crosswalk(args: CrosswalkArgs, reference: Any) -> Converter:
    crosswalk = _named(reference.crosswalks, args.name, "crosswalk")
    name = args.name
    reverse: dict[str, str] | None = None

    def translate(value: Any) -> str:
        return crosswalk.translate(str(value))

    def translate_back(value: Any) -> str:
        nonlocal reverse
        if reverse is None:
            reverse = _reverse_table(crosswalk)
        if str(value) not in reverse:
            raise Rejection("crosswalk.unmapped", f"no row of crosswalk {name} leads to this code", value)
        return reverse[str(value)]

    if args.direction == "forward":
        return Converter(translate, translate_back)
    return Converter(translate_back, translate)


# --- composed values -------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


class TemplateArgs(Args):
    template: str
    parts: dict[str, Any] = Field(default_factory=dict)  # converter per placeholder, e.g. {bb_code: {code: bb-budget}}


@register_converter("template", TemplateArgs, primary="template")
def _template(args: TemplateArgs, reference: Any) -> Converter:
    """`"{bb_code}:{objc_level1_name}"`: every placeholder is a native field path, all required.

    The inverse parses an id back with the template (literal text between placeholders as separators),
    so it is exact only when no part contains the separator that follows it; the result is a dict of
    native fields, which map_out writes one by one.
    """
    from canonical_model.thai_text import normalize_code

    fields = tuple(dict.fromkeys(_PLACEHOLDER.findall(args.template)))
    if not fields:
        raise ConverterSpecError("mapping.bad_args", "template has no {field} placeholder")
    unknown = set(args.parts) - set(fields)
    if unknown:
        raise ConverterSpecError("mapping.bad_args", f"template parts {sorted(unknown)} are not placeholders")
    convs: dict[str, Converter] = {}
    for name, steps in args.parts.items():
        built = compose([build_converter(step, reference, _building_with.get())[1] for step in (steps if isinstance(steps, list) else [steps])])
        if built.sources or built.context:
            raise ConverterSpecError("mapping.bad_args", f"template part {name!r}: only single-value converters")
        convs[name] = built
    template = args.template

    def render(match: re.Match[str], parts: dict[str, Any]) -> str:
        name = match.group(1)
        value = parts[name]
        if name in convs:
            try:
                value = convs[name].forward(value)
            except Rejection as rej:
                raise Rejection(rej.rule, rej.reason, rej.value, name) from None
        return normalize_code(str(value))

    def forward(parts: dict[str, Any]) -> str:
        return _PLACEHOLDER.sub(lambda m: render(m, parts), template)

    pieces = _PLACEHOLDER.split(template)  # literal, name, literal, name, ..., literal
    regex = "".join(
        re.escape(piece) if i % 2 == 0 else (f"(?P<p{i}>.+)" if i == len(pieces) - 2 else f"(?P<p{i}>.+?)")
        for i, piece in enumerate(pieces)
    )
    parser = re.compile(f"^{regex}$", re.DOTALL)
    order = [(f"p{i}", pieces[i]) for i in range(1, len(pieces), 2)]
    inverse: Fn | None = None
    if all(conv.inverse is not None for conv in convs.values()):
        def inverse(value: Any) -> dict[str, Any]:
            found = parser.match(str(value))
            if not found:
                raise Rejection("mapping.template_mismatch", f"does not have the shape {template}", value)
            result: dict[str, Any] = {}
            for group, name in order:
                text = found.group(group)
                result[name] = convs[name].inverse(text) if name in convs else text  # type: ignore[misc]
            return result

    return Converter(forward, inverse, fields)


class ConcatArgs(Args):
    fields: list[str] = Field(min_length=1)
    sep: str = " "


@register_converter("concat", ConcatArgs, primary="fields")
def _concat(args: ConcatArgs, reference: Any) -> Converter:
    from canonical_model.thai_text import normalize_text

    sep = args.sep

    def forward(parts: dict[str, Any]) -> str:
        texts = (normalize_text(str(v)) for v in parts.values() if v is not None)
        return sep.join(t for t in texts if t)

    return Converter(forward, None, tuple(args.fields), partial=True)


class HashArgs(Args):
    fields: list[str] = Field(min_length=1)
    length: int = Field(32, ge=8, le=64)
    prefix: str = ""


@register_converter("hash", HashArgs, primary="fields")
def _hash(args: HashArgs, reference: Any) -> Converter:
    """A stable fallback key when a system gives no id: sha256 over the normalised fields, in order.

    Text is normalised (NFC, whitespace, Thai digits to Arabic, case folded) so that the same record
    retyped with a stray tab or in Thai digits keeps its key; absent fields hash as empty.
    """
    from canonical_model.thai_digits import to_arabic_digits
    from canonical_model.thai_text import normalize_text

    length, prefix = args.length, args.prefix

    def forward(parts: dict[str, Any]) -> str:
        canon = [to_arabic_digits(normalize_text(str(v))).casefold() if v is not None else "" for v in parts.values()]
        digest = hashlib.sha256("\x1f".join(canon).encode("utf-8")).hexdigest()
        return prefix + digest[:length]

    return Converter(forward, None, tuple(args.fields), partial=True)
