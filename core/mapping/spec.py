"""The mapping file: YAML read with the line of every mapping node, validated by pydantic models.

Converter steps are kept as raw YAML here (`Any`) and checked by the compiler, which knows the
converter registry and can say "unknown converter `mony` at line 12" instead of a union error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.mapping.errors import MappingProblem, MappingSpecError


class LineDict(dict):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class _LineLoader(yaml.SafeLoader):
    pass


# YAML 1.1 reads `no`, `yes`, `on`, `off` as booleans: a field named `no` (เลขที่) would silently become
# False. Mapping files take only `true` and `false` as booleans.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.MarkedYAMLError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutSpec(_Strict):
    """How a rule runs in map_out when its own converters cannot be inverted, or must differ."""

    convert: Any = None
    const: Any = None
    source: str | None = None  # canonical path to read (default: the rule's target)
    target: str | None = None  # native field to write (default: the rule's source)


class UnpivotSpec(_Strict):
    """OFDP-style `normalize`: wide per-year columns become a list of items, and back."""

    columns: dict[str, dict[str, Any]] | None = None
    pattern: str | None = None
    column: str | None = None  # native column name built on map_out, e.g. "งบประมาณ {fiscal_year}"
    value: str = "amount"
    convert: Any = None
    keys: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None  # nested object holding the wide columns (default: the record itself)

    @model_validator(mode="after")
    def _one_style(self) -> UnpivotSpec:
        if (self.columns is None) == (self.pattern is None):
            raise ValueError("unpivot needs exactly one of `columns` or `pattern`")
        return self


class RuleSpec(_Strict):
    line: int = 0
    target: str
    source: str | None = None
    const: Any = None
    default: Any = None
    required: bool | None = None
    convert: Any = None
    out: bool | OutSpec | None = None
    each: str | None = None
    fields: list[RuleSpec] | None = None
    unpivot: UnpivotSpec | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> RuleSpec:
        kinds = [k for k in ("source", "const", "each", "unpivot") if k in self.model_fields_set]
        if len(kinds) > 1:
            raise ValueError(f"a rule takes one of source, const, each, unpivot; not {', '.join(kinds)}")
        if self.each is not None and not self.fields:
            raise ValueError("`each` needs `fields` (the rules for one list item)")
        if self.fields is not None and self.each is None:
            raise ValueError("`fields` only goes with `each`")
        if "const" in self.model_fields_set and self.convert is not None:
            raise ValueError("a constant is written as the canonical value; it takes no `convert`")
        return self

    @property
    def has_const(self) -> bool:
        return "const" in self.model_fields_set

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set


class MappingSpec(_Strict):
    mapping: str
    version: int | str
    system: str
    entity_type: str
    direction: Literal["both", "in", "out"] = "both"
    description: str | None = None
    # Values that mean "nothing here" in the native records; "-" is the Thai null marker.
    null_markers: list[str] = Field(default_factory=lambda: ["", "-"])
    fields: list[RuleSpec]


def _inject_lines(raw: Any) -> Any:
    """Copy rule mappings into plain dicts carrying their own YAML line as `line`."""
    if isinstance(raw, LineDict):
        plain = {k: v for k, v in raw.items()}
        if "fields" in plain and isinstance(plain["fields"], list):
            plain["fields"] = [_rule_with_line(item) for item in plain["fields"]]
        return plain
    return raw


def _rule_with_line(item: Any) -> Any:
    if not isinstance(item, LineDict):
        return item
    plain = dict(item)
    plain["line"] = item.line
    if isinstance(plain.get("fields"), list):
        plain["fields"] = [_rule_with_line(sub) for sub in plain["fields"]]
    return plain


def line_of(raw: Any, loc: tuple[Any, ...]) -> int:
    """The deepest YAML line reachable along a pydantic error location."""
    line = getattr(raw, "line", 1)
    node = raw
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.key_lines.get(part, node.line)
            node = node[part]
            if isinstance(node, LineDict):
                line = node.line
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        elif isinstance(node, LineDict):
            continue  # pydantic adds union and validator tags to locations; they are not keys
    return line


def load_spec(text: str, *, source: str | None = None) -> MappingSpec:
    try:
        raw = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        # The context (an unclosed `{` ...) is where a person should look; the problem mark is often EOF.
        mark = exc.context_mark or exc.problem_mark
        line = mark.line + 1 if mark else 0
        raise MappingSpecError(
            [MappingProblem(line, "", None, None, "mapping.yaml", f"not valid YAML: {exc.problem}")], source=source
        ) from exc
    if not isinstance(raw, LineDict):
        raise MappingSpecError(
            [MappingProblem(1, "", None, None, "mapping.yaml", "a mapping file is a YAML mapping with `fields:`")],
            source=source,
        )
    try:
        return MappingSpec.model_validate(_inject_lines(raw))
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(err.get("loc", ()))
            rule = "mapping.unknown_key" if err.get("type") == "extra_forbidden" else "mapping.spec"
            where = ".".join(str(p) for p in loc)
            problems.append(MappingProblem(line_of(raw, loc), where, None, None, rule, f"{where}: {err['msg']}"))
        raise MappingSpecError(problems, source=source) from exc


def read_text(path_or_text: str | Path) -> tuple[str, str | None]:
    """A path (existing file) or YAML text; the only file read in the mapping package."""
    if isinstance(path_or_text, Path):
        return path_or_text.read_text(encoding="utf-8-sig"), str(path_or_text)
    if "\n" not in path_or_text and path_or_text.endswith((".yaml", ".yml")):
        path = Path(path_or_text)
        return path.read_text(encoding="utf-8-sig"), str(path)
    return path_or_text, None
