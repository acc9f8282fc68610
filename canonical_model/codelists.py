"""Code lists (classification trees) and crosswalks between them. Pure: built from plain dicts, no I/O.

A configuration mistake (duplicate code, dangling parent, a crosswalk naming a code that does not exist)
is a `CodeListError` raised when the object is built, so it stops the hub at start. A *value* that is not
in a list or that a crosswalk cannot map is a `Rejection`, because it comes from a record, not from us.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from canonical_model.fiscal_year import fiscal_year_bounds
from canonical_model.rejection import Rejection
from canonical_model.thai_text import normalize_text


def name_key(text: str) -> str:
    """The form two names are compared in (NFC, zero-width gone, whitespace folded, sara am composed)."""
    return normalize_text(text)


class CodeListError(ValueError):
    """A code list or crosswalk is inconsistent. Carries every problem found, not just the first."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.what = what
        self.problems = problems
        shown = "; ".join(problems[:20]) + (
            f"; ... ({len(problems) - 20} more)" if len(problems) > 20 else ""
        )
        super().__init__(f"{what}: {shown}")


def _as_date(value: Any, where: str, problems: list[str]) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: {value!r} is not an ISO date")
        return None


def _entries(data: Mapping[str, Any], key: str, problems: list[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each entry of the list `data[key]` that is a mapping, with where it stands; the others are noted."""
    for i, raw in enumerate(data.get(key) or []):
        where = f"{key}[{i}]"
        if isinstance(raw, Mapping):
            yield where, raw
        else:
            problems.append(f"{where}: not a mapping")


def _as_code(value: Any, where: str, problems: list[str]) -> str:
    # A YAML integer has already lost its leading zeros ("00110" -> 110), so refuse it instead of guessing.
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: code {value!r} must be a non-empty quoted string")
        return str(value)
    return value.strip()


def _valid_on(valid_from: date | None, valid_to: date | None, on: date) -> bool:
    return (valid_from is None or valid_from <= on) and (valid_to is None or on <= valid_to)


@dataclass(frozen=True)
class CodeNode:
    scheme: str
    code: str
    name_th: str
    parent: str | None
    level: str
    valid_from: date | None = None
    valid_to: date | None = None
    # Other spellings real inputs use for the same node (the Budget Bureau API writes "งบอุดหนุน" for
    # "งบเงินอุดหนุน"); by_name matches them, name_th stays the one official name.
    aliases: tuple[str, ...] = ()

    def valid_on(self, on: date) -> bool:
        return _valid_on(self.valid_from, self.valid_to, on)

    def valid_in_fiscal_year(self, fiscal_year: int) -> bool:
        """Valid on at least one day of the BE fiscal year (1 October to 30 September)."""
        first, last = fiscal_year_bounds(fiscal_year)
        return (self.valid_from is None or self.valid_from <= last) and (self.valid_to is None or first <= self.valid_to)


class CodeList:
    """One classification tree of a scheme. Levels run root first; a node's parent sits one level up."""

    def __init__(self, scheme: str, levels: list[str], nodes: Iterable[CodeNode], *, title: str = "") -> None:
        self.scheme = scheme
        self.levels = list(levels)
        self.title = title
        self._nodes: dict[str, CodeNode] = {}
        self._children: dict[str | None, list[CodeNode]] = {}
        self._by_name: dict[str, list[CodeNode]] = {}
        problems: list[str] = []
        if len(set(self.levels)) != len(self.levels) or not self.levels:
            problems.append(f"levels {self.levels} must be a non-empty list without repeats")
        level_index = {name: i for i, name in enumerate(self.levels)}

        for node in nodes:
            if node.scheme != scheme:
                problems.append(f"{node.code}: scheme {node.scheme!r} is not {scheme!r}")
            if node.code in self._nodes:
                problems.append(f"{node.code}: duplicate code")
                continue
            if node.level not in level_index:
                problems.append(f"{node.code}: level {node.level!r} is not one of {self.levels}")
            if node.valid_from and node.valid_to and node.valid_from > node.valid_to:
                problems.append(
                    f"{node.code}: valid_from {node.valid_from} is after valid_to {node.valid_to}"
                )
            self._nodes[node.code] = node

        for node in self._nodes.values():
            if node.parent is None:
                if level_index.get(node.level, 0) != 0:
                    problems.append(
                        f"{node.code}: has no parent but level {node.level!r} is not the top level"
                    )
            elif node.parent not in self._nodes:
                problems.append(f"{node.code}: parent {node.parent!r} does not exist")
            self._children.setdefault(node.parent, []).append(node)
            for name in (node.name_th, *node.aliases):
                self._by_name.setdefault(name_key(name), []).append(node)

        for node in self._nodes.values():
            cycle = self._find_cycle(node)
            if cycle:
                problems.append(f"{node.code}: parents form a cycle {' -> '.join(cycle)}")
                continue
            if node.parent in self._nodes and node.level in level_index:
                parent = self._nodes[node.parent]
                expected = level_index[node.level] - 1
                if expected < 0 or level_index.get(parent.level) != expected:
                    above = self.levels[expected] if expected >= 0 else "(none: top level)"
                    problems.append(
                        f"{node.code}: level {node.level!r} needs a parent at level {above!r}, "
                        f"but {parent.code} is {parent.level!r}"
                    )
        if problems:
            raise CodeListError(f"code list {scheme}", problems)

    def _find_cycle(self, node: CodeNode) -> list[str]:
        seen: list[str] = []
        current: CodeNode | None = node
        while current is not None:
            if current.code in seen:
                return [*seen, current.code]
            seen.append(current.code)
            current = self._nodes.get(current.parent) if current.parent is not None else None
        return []

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CodeList:
        """Build from the parsed YAML shape: ``scheme``, ``levels`` (ids or {id, name_th}), ``nodes``."""
        problems: list[str] = []
        scheme = str(data.get("scheme") or "")
        if not scheme:
            problems.append("missing 'scheme'")
        levels = [lv["id"] if isinstance(lv, Mapping) else str(lv) for lv in data.get("levels") or []]
        nodes: list[CodeNode] = []
        for where, raw in _entries(data, "nodes", problems):
            code = _as_code(raw.get("code"), where, problems)
            parent = raw.get("parent")
            name = raw.get("name_th")
            if not isinstance(name, str) or not name.strip():
                problems.append(f"{where} ({code}): missing name_th")
                name = ""
            nodes.append(
                CodeNode(
                    scheme=scheme,
                    code=code,
                    name_th=name_key(name),
                    parent=None if parent is None else _as_code(parent, f"{where}.parent", problems),
                    level=str(raw.get("level", "")),
                    valid_from=_as_date(raw.get("valid_from"), f"{where}.valid_from", problems),
                    valid_to=_as_date(raw.get("valid_to"), f"{where}.valid_to", problems),
                    aliases=tuple(name_key(a) for a in raw.get("aliases") or ()),
                )
            )
        if problems:
            raise CodeListError(f"code list {scheme or '?'}", problems)
        return cls(scheme, levels, nodes, title=str(data.get("title") or ""))

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[CodeNode]:
        return iter(self._nodes.values())

    def __contains__(self, code: object) -> bool:
        return code in self._nodes

    def __repr__(self) -> str:
        return f"CodeList({self.scheme!r}, {len(self._nodes)} nodes)"

    def get(self, code: str) -> CodeNode | None:
        return self._nodes.get(code)

    def require(self, code: str, field: str | None = None, *, on: date | None = None) -> CodeNode:
        node = self._nodes.get(code) if isinstance(code, str) else None
        if node is None:
            raise Rejection("codelist.unknown_code", f"{code!r} is not a code of {self.scheme}", code, field)
        if on is not None and not node.valid_on(on):
            raise Rejection(
                "codelist.not_valid_on_date",
                f"{code!r} of {self.scheme} is valid {node.valid_from or '…'} to {node.valid_to or '…'}, "
                f"not on {on}",
                code,
                field,
            )
        return node

    def find_by_name(
        self, name_th: str, level: str | None = None, parent: str | None = None
    ) -> list[CodeNode]:
        found = self._by_name.get(name_key(name_th), [])
        return [
            n for n in found if (level is None or n.level == level) and (parent is None or n.parent == parent)
        ]

    def by_name(self, name_th: str, level: str | None = None, parent: str | None = None) -> CodeNode | None:
        """The one node with this name (or alias), or None; a name shared by several nodes is a Rejection.

        National plan names repeat under every agency that runs the plan, so pass ``parent`` there.
        """
        found = self.find_by_name(name_th, level, parent)
        if len(found) > 1:
            codes = ", ".join(n.code for n in found)
            raise Rejection(
                "codelist.ambiguous_name",
                f"{name_th!r} names {len(found)} nodes of {self.scheme} ({codes}); give a level or parent",
                name_th,
            )
        return found[0] if found else None

    def path(self, code: str) -> list[CodeNode]:
        """Root first, the node itself last."""
        node: CodeNode | None = self.require(code)
        chain: list[CodeNode] = []
        while node is not None:
            chain.append(node)
            node = self._nodes.get(node.parent) if node.parent is not None else None
        return chain[::-1]

    def children(self, code: str | None) -> list[CodeNode]:
        """Direct children in file order; ``None`` gives the roots."""
        if code is not None:
            self.require(code)
        return list(self._children.get(code, []))

    def roots(self) -> list[CodeNode]:
        return self.children(None)

    def at_level(self, level: str) -> list[CodeNode]:
        return [n for n in self._nodes.values() if n.level == level]

    def in_fiscal_year(self, fiscal_year: int) -> CodeList:
        """The nodes that exist in BE fiscal year `fiscal_year`: valid on one of its days, and so is every
        node above them (a plan of an agency that was dissolved that year is gone with it)."""
        kept: dict[str, CodeNode] = {}
        for node in self._nodes.values():  # file order: a parent is judged before the children that follow it
            if node.valid_in_fiscal_year(fiscal_year) and all(
                above.valid_in_fiscal_year(fiscal_year) for above in self.path(node.code)[:-1]
            ):
                kept[node.code] = node
        return CodeList(self.scheme, self.levels, kept.values(), title=self.title)

    def with_nodes(self, extra: Iterable[CodeNode]) -> CodeList:
        """This list and `extra` as one list, checked as a whole (a clash or a dangling parent raises)."""
        return CodeList(self.scheme, self.levels, [*self._nodes.values(), *extra], title=self.title)


class YearlyCodeList:
    """A code list answering "which nodes exist in fiscal year N": the shipped list (its nodes' own
    valid_from/valid_to decide their years; a node without dates is in every year) with a layer of nodes
    per fiscal year on top, added at run time by the system that is the authority on the scheme.

    A layer belongs to its year only: the national programme tree is set anew by each year's Budget Act
    (from FY 2561 it is organised around strategic and integrated plans that earlier years do not have),
    so a plan first seen in FY 2561 says nothing about FY 2562. Immutable: `with_added` returns a new
    object, so a reader on another thread always sees one whole state.
    """

    def __init__(self, base: CodeList, layers: Mapping[int, Iterable[CodeNode]] | None = None) -> None:
        self.base = base
        self.scheme = base.scheme
        self.levels = base.levels
        problems: list[str] = []
        self._layers: dict[int, tuple[CodeNode, ...]] = {}
        self._years: dict[int, CodeList] = {}
        for year in sorted(layers or {}):
            nodes = tuple(_in_year(node, year) for node in (layers or {})[year])
            try:
                self._years[year] = base.in_fiscal_year(year).with_nodes(nodes)
            except CodeListError as exc:
                problems.extend(f"FY {year}: {p}" for p in exc.problems)
                continue
            self._layers[year] = nodes
        if problems:
            raise CodeListError(f"code list {self.scheme} by fiscal year", problems)
        # Every code in any year, for "does this exist at all" without building each year's list.
        self._any_year = {node.code: node for layer in self._layers.values() for node in layer}

    def __repr__(self) -> str:
        added = sum(len(layer) for layer in self._layers.values())
        return f"YearlyCodeList({self.scheme!r}, {len(self.base)} nodes, {added} added in {sorted(self._layers)})"

    def in_fiscal_year(self, fiscal_year: int) -> CodeList:
        """The list of one fiscal year: the shipped nodes valid in it and the nodes added for it."""
        found = self._years.get(fiscal_year)
        if found is None:
            found = self.base.in_fiscal_year(fiscal_year)
            self._years[fiscal_year] = found  # a benign race: two threads build the same value
        return found

    def added(self, fiscal_year: int | None = None) -> list[CodeNode]:
        """The nodes added at run time, of one year or of all of them (year by year)."""
        if fiscal_year is not None:
            return list(self._layers.get(fiscal_year, ()))
        return [node for year in sorted(self._layers) for node in self._layers[year]]

    def years_added(self) -> list[int]:
        return sorted(self._layers)

    def get(self, code: str, fiscal_year: int | None = None) -> CodeNode | None:
        """The node with this code in that fiscal year; without a year, in the shipped list or any layer."""
        if fiscal_year is not None:
            return self.in_fiscal_year(fiscal_year).get(code)
        return self.base.get(code) or self._any_year.get(code)

    def with_added(self, fiscal_year: int, nodes: Iterable[CodeNode]) -> YearlyCodeList:
        """A new list with `nodes` added to the layer of `fiscal_year` (codes already there are skipped)."""
        year = self.in_fiscal_year(fiscal_year)
        fresh = [node for node in nodes if node.code not in year]
        if not fresh:
            return self
        layers = {**self._layers, fiscal_year: (*self._layers.get(fiscal_year, ()), *fresh)}
        return YearlyCodeList(self.base, layers)


def _in_year(node: CodeNode, fiscal_year: int) -> CodeNode:
    """A node of a year's layer carries that year as its validity, so `valid_on` tells the truth about it."""
    first, last = fiscal_year_bounds(fiscal_year)
    return CodeNode(node.scheme, node.code, node.name_th, node.parent, node.level, first, last, node.aliases)


@dataclass(frozen=True)
class CrosswalkRow:
    source_code: str
    target_code: str
    valid_from: date | None = None
    valid_to: date | None = None
    note: str = ""

    def valid_on(self, on: date) -> bool:
        return _valid_on(self.valid_from, self.valid_to, on)


@dataclass(frozen=True)
class Crosswalk:
    """A versioned table from one scheme's codes to another's; rows of one code must not overlap in time."""

    name: str
    version: str
    source_scheme: str
    target_scheme: str
    rows: tuple[CrosswalkRow, ...]
    status: str = ""
    _by_source: dict[str, tuple[CrosswalkRow, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(self.rows))
        problems: list[str] = []
        by_source: dict[str, list[CrosswalkRow]] = {}
        for row in self.rows:
            if row.valid_from and row.valid_to and row.valid_from > row.valid_to:
                problems.append(
                    f"{row.source_code}: valid_from {row.valid_from} is after valid_to {row.valid_to}"
                )
            by_source.setdefault(row.source_code, []).append(row)
        for source, rows in by_source.items():
            for i, a in enumerate(rows):
                for b in rows[i + 1 :]:
                    if _overlap(a, b):
                        problems.append(
                            f"{source}: rows to {a.target_code} and {b.target_code} overlap in time "
                            "(one code would translate two ways on the same day)"
                        )
        if problems:
            raise CodeListError(f"crosswalk {self.name}", problems)
        object.__setattr__(self, "_by_source", {k: tuple(v) for k, v in by_source.items()})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Crosswalk:
        problems: list[str] = []
        for key in ("name", "version", "source_scheme", "target_scheme"):
            if not data.get(key):
                problems.append(f"missing {key!r}")
        rows: list[CrosswalkRow] = []
        for where, raw in _entries(data, "rows", problems):
            rows.append(
                CrosswalkRow(
                    source_code=_as_code(raw.get("source_code"), f"{where}.source_code", problems),
                    target_code=_as_code(raw.get("target_code"), f"{where}.target_code", problems),
                    valid_from=_as_date(raw.get("valid_from"), f"{where}.valid_from", problems),
                    valid_to=_as_date(raw.get("valid_to"), f"{where}.valid_to", problems),
                    note=str(raw.get("note") or ""),
                )
            )
        if problems:
            raise CodeListError(f"crosswalk {data.get('name') or '?'}", problems)
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            source_scheme=str(data["source_scheme"]),
            target_scheme=str(data["target_scheme"]),
            rows=tuple(rows),
            status=str(data.get("status") or ""),
        )

    def translate(self, code: str, on: date | None = None, field: str | None = None) -> str:
        """The target code for ``code`` on date ``on``.

        Without a date the answer must not depend on one: a code whose rows point to different targets in
        different periods is refused rather than resolved by a guessed "today".
        """
        rows = self._by_source.get(code, ()) if isinstance(code, str) else ()
        if not rows:
            raise Rejection(
                "crosswalk.unmapped",
                f"{code!r} ({self.source_scheme}) has no row in crosswalk {self.name} v{self.version}",
                code,
                field,
            )
        if on is not None:
            rows = tuple(r for r in rows if r.valid_on(on))
            if not rows:
                raise Rejection(
                    "crosswalk.unmapped",
                    f"{code!r} ({self.source_scheme}) has no row of crosswalk {self.name} v{self.version} "
                    f"in effect on {on}",
                    code,
                    field,
                )
        targets = {r.target_code for r in rows}
        if len(targets) > 1:
            raise Rejection(
                "crosswalk.date_required",
                f"{code!r} maps to {sorted(targets)} in different periods of {self.name}; give a date",
                code,
                field,
            )
        return rows[0].target_code

    def reverse(self) -> Crosswalk:
        """The same table read backwards; only a one-to-one table has one."""
        pairs = {(r.source_code, r.target_code) for r in self.rows}
        problems: list[str] = []
        for side, index in (("source", 0), ("target", 1)):
            seen: dict[str, str] = {}
            for pair in sorted(pairs):
                key, other = pair[index], pair[1 - index]
                if key in seen and seen[key] != other:
                    problems.append(f"{side} {key} pairs with both {seen[key]} and {other}")
                seen.setdefault(key, other)
        if problems:
            raise CodeListError(f"crosswalk {self.name} is not one-to-one, so it has no reverse", problems)
        return Crosswalk(
            name=f"{self.name}.reverse",
            version=self.version,
            source_scheme=self.target_scheme,
            target_scheme=self.source_scheme,
            rows=tuple(
                CrosswalkRow(r.target_code, r.source_code, r.valid_from, r.valid_to, r.note)
                for r in self.rows
            ),
            status=self.status,
        )

    def validate_against(self, source_list: CodeList, target_list: CodeList) -> None:
        """Every code the table names must exist in the lists it claims to join."""
        problems: list[str] = []
        if source_list.scheme != self.source_scheme:
            problems.append(
                f"source list is {source_list.scheme!r}, crosswalk expects {self.source_scheme!r}"
            )
        if target_list.scheme != self.target_scheme:
            problems.append(
                f"target list is {target_list.scheme!r}, crosswalk expects {self.target_scheme!r}"
            )
        for i, row in enumerate(self.rows):
            if row.source_code not in source_list:
                problems.append(f"rows[{i}]: source {row.source_code!r} is not in {source_list.scheme}")
            if row.target_code not in target_list:
                problems.append(f"rows[{i}]: target {row.target_code!r} is not in {target_list.scheme}")
        if problems:
            raise CodeListError(f"crosswalk {self.name}", problems)


def _overlap(a: CrosswalkRow, b: CrosswalkRow) -> bool:
    a_start, b_start = a.valid_from or date.min, b.valid_from or date.min
    a_end, b_end = a.valid_to or date.max, b.valid_to or date.max
    return a_start <= b_end and b_start <= a_end
