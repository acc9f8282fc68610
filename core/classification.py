"""Classifications that grow at run time: the system that is the authority on a scheme adds the nodes
it names that the hub has not seen, to that fiscal year's classification, instead of having its lines
rejected.

The national programme tree (กระทรวง › หน่วยรับงบประมาณ › แผนงาน › ผลผลิต/โครงการ) changes with every
Budget Act, and the shipped list was derived from FY 2559 alone; e-budgeting (the Budget Bureau) is the
authority on it (`classification_authorities` in the hub settings). A budget line from it that names a
ministry, budgetary unit, plan or output/project unknown in its fiscal year carries that node as an
addition (`ClassificationAddition`), which the store keeps with the message, audited as done by
`system:<name>`, for an operator to review (GET /api/v1/classification/additions). Any other system
naming an unknown node gets no addition, and an unknown agency as owner stays `org.unknown_agency`,
unless its authority added it.

Every hub process loads the additions at start and again on each admin refresh (only when their count
or last change moved), and applies what it stored itself at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import structlog

from canonical_model.codelists import CodeList, CodeListError, CodeNode, YearlyCodeList
from canonical_model.envelope import field_or_none
from canonical_model.rejection import Rejection
from core.store.records import ClassificationAddition, ConfigOverride, IncomingEntity

log = structlog.get_logger("prasan.classification")

NATIONAL = "national-classification"
# What of a native record is kept as the source of an addition: its scalar fields, bounded, so that a
# row with a long nested list (bbgfproject's per-province `compare`) does not fill the table.
MAX_NATIVE_FIELDS = 40
MAX_NATIVE_CHARS = 500


def native_values(data: Mapping[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in data.items():
        if len(kept) >= MAX_NATIVE_FIELDS:
            break
        if isinstance(value, (dict, list, tuple)) or not isinstance(name, str):
            continue
        if value is not None and not isinstance(value, (bool, int, str)):
            value = str(value)  # Decimal amounts stay exact as text
        if isinstance(value, str):
            value = value[:MAX_NATIVE_CHARS]
        kept[name[:100]] = value
    return kept


class Classifications:
    """The classifications an authority may extend, by fiscal year, as this process knows them."""

    def __init__(self, store: Any, code_lists: Mapping[str, CodeList], authorities: Mapping[str, Iterable[str]]) -> None:
        self.store = store
        unknown = sorted(set(authorities) - set(code_lists))
        if unknown:
            log.warning("classification_authority_unknown_scheme", schemes=unknown)
        # scheme -> systems that are its authority
        self.authorities = {scheme: frozenset(systems) for scheme, systems in authorities.items() if scheme in code_lists}
        schemes = {*self.authorities, *([NATIONAL] if NATIONAL in code_lists else [])}
        self._base = {scheme: code_lists[scheme] for scheme in schemes}
        # Swapped whole (never changed in place), so the ingest threads always read one consistent state.
        self._lists: dict[str, YearlyCodeList] = {scheme: YearlyCodeList(cl) for scheme, cl in self._base.items()}
        self._fingerprint: tuple[int, datetime | None] | None = None
        self._lock = threading.Lock()

    def yearly(self, scheme: str) -> YearlyCodeList | None:
        return self._lists.get(scheme)

    def in_fiscal_year(self, scheme: str, fiscal_year: int) -> CodeList | None:
        """Which nodes of `scheme` exist in `fiscal_year`: the shipped ones and those added for that year."""
        found = self._lists.get(scheme)
        return None if found is None else found.in_fiscal_year(fiscal_year)

    def is_agency(self, code: str) -> bool:
        """A budgetary unit of the national classification, shipped or added in any fiscal year: an
        agency does not stop owning its lines because a later Act has not been read yet."""
        national = self._lists.get(NATIONAL)
        node = national.get(code) if national is not None else None
        return node is not None and node.level == "budgetary_unit"

    # --- proposing, while mapping (pure, in memory) ----------------------------------------------

    def additions_for(
        self, system: str, entity: Any, row: int, external_id: str, native: Mapping[str, Any]
    ) -> tuple[ClassificationAddition, ...]:
        """The nodes this entity names that its fiscal year's classification lacks, when `system` is the
        authority on their scheme. A node that contradicts the tree (another level or parent than the
        one known) is a Rejection: the authority cannot give one code two places."""
        fiscal_year = field_or_none(entity, "fiscal_year")
        items = field_or_none(entity, "classification") or []
        if fiscal_year is None or not items:
            return ()
        found: list[ClassificationAddition] = []
        for scheme, systems in self.authorities.items():
            if system not in systems:
                continue
            cited = [(i, item) for i, item in enumerate(items) if item.scheme == scheme]
            if cited:
                found.extend(self._for_scheme(scheme, fiscal_year, cited, system, row, external_id, native))
        return tuple(found)

    def _for_scheme(
        self, scheme: str, fiscal_year: int, cited: list[tuple[int, Any]], system: str, row: int,
        external_id: str, native: Mapping[str, Any],
    ) -> list[ClassificationAddition]:  # fmt: skip
        year = self._lists[scheme].in_fiscal_year(fiscal_year)
        levels = year.levels
        by_level: dict[str, tuple[int, Any]] = {}
        for i, item in cited:
            if item.level not in levels:
                raise Rejection(
                    "classification.unknown_level", f"{scheme} has the levels {levels}", item.level,
                    f"classification.{i}.level",
                )  # fmt: skip
            by_level.setdefault(item.level, (i, item))
        found: list[ClassificationAddition] = []
        native_kept: dict[str, Any] | None = None
        for depth, level in enumerate(levels):
            if level not in by_level:
                continue
            i, item = by_level[level]
            parent_item = by_level.get(levels[depth - 1]) if depth > 0 else None
            parent = parent_item[1].code if parent_item is not None else None
            known = year.get(item.code)
            if known is not None:
                if known.level != level or (parent_item is not None and known.parent != parent):
                    raise Rejection(
                        "classification.conflict",
                        f"{item.code!r} is a {known.level} under {known.parent!r} in the FY {fiscal_year} "
                        f"{scheme}, not a {level} under {parent!r}",
                        item.code, f"classification.{i}.code",
                    )  # fmt: skip
                continue
            if depth > 0 and parent_item is None:
                raise Rejection(
                    "classification.parent_missing",
                    f"{item.code!r} is new to the FY {fiscal_year} {scheme}; a new {level} needs the "
                    f"{levels[depth - 1]} above it on the same line",
                    item.code, f"classification.{i}.code",
                )  # fmt: skip
            if not item.name:
                raise Rejection(
                    "classification.name_missing", f"{item.code!r} is new to the FY {fiscal_year} {scheme}; "
                    "a new node needs its name", item.code, f"classification.{i}.name",
                )  # fmt: skip
            if native_kept is None:
                native_kept = native_values(native)
            found.append(
                ClassificationAddition(
                    scheme=scheme, fiscal_year=fiscal_year, level=level, code=item.code, name_th=item.name,
                    parent=parent, system=system, row=row, external_id=external_id, native=native_kept,
                )
            )  # fmt: skip
        return found

    # --- applying what the store holds -----------------------------------------------------------

    def applied(self, entities: Iterable[IncomingEntity]) -> None:
        """Take in the additions of entities just stored, so this process knows them before its next
        refresh. The next refresh reloads from the store anyway (another process may have stored the
        same node first, and its record is the one kept)."""
        additions = [add for entity in entities for add in entity.classification_additions]
        if not additions:
            return
        with self._lock:
            self._lists = _merged(self._lists, additions)
            self._fingerprint = None

    def load(self) -> None:
        """Load the stored additions when they changed (blocking; call through a thread)."""
        fingerprint = self.store.config.classification_fingerprint()
        if fingerprint == self._fingerprint:
            return
        stored = self.store.config.classification_additions()
        additions = [a for a in (_addition_of(o) for o in stored) if a is not None and a.scheme in self._base]
        lists = _merged({scheme: YearlyCodeList(cl) for scheme, cl in self._base.items()}, additions)
        with self._lock:
            self._lists = lists
            self._fingerprint = fingerprint
        log.debug("classification_additions_loaded", count=len(additions))


def _addition_of(override: ConfigOverride) -> ClassificationAddition | None:
    value = override.value if isinstance(override.value, dict) else {}
    try:
        source = value.get("source") or {}
        return ClassificationAddition(
            scheme=str(value["scheme"]), fiscal_year=int(value["fiscal_year"]), level=str(value["level"]),
            code=str(value["code"]), name_th=str(value["name_th"]), parent=value.get("parent"),
            system=str(source.get("system") or ""), row=int(source.get("row") or 0),
            external_id=str(source.get("external_id") or ""), native={},
        )  # fmt: skip
    except (KeyError, TypeError, ValueError):
        log.error("classification_addition_unreadable", name=override.name)
        return None


def _merged(lists: dict[str, YearlyCodeList], additions: Iterable[ClassificationAddition]) -> dict[str, YearlyCodeList]:
    """`lists` with the additions, year by year, parents first. One that no longer fits (the shipped list
    now holds its code, or its parent is gone) is left out and logged; the others still apply."""
    grouped: dict[tuple[str, int], list[ClassificationAddition]] = {}
    for add in additions:
        grouped.setdefault((add.scheme, add.fiscal_year), []).append(add)
    merged = dict(lists)
    for (scheme, year), adds in sorted(grouped.items()):
        current = merged.get(scheme)
        if current is None:
            continue
        depth = {level: i for i, level in enumerate(current.levels)}
        first: dict[str, ClassificationAddition] = {}
        for add in adds:  # the first entity naming a node is its source; the others name the same node
            first.setdefault(add.code, add)
        nodes = [
            CodeNode(scheme, a.code, a.name_th, a.parent, a.level)
            for a in sorted(first.values(), key=lambda a: depth.get(a.level, len(depth)))
        ]
        try:
            merged[scheme] = current.with_added(year, nodes)
            continue
        except CodeListError:
            pass
        for node in nodes:  # one at a time, to keep all that fit
            try:
                merged[scheme] = merged[scheme].with_added(year, [node])
            except CodeListError as exc:
                log.error("classification_addition_skipped", scheme=scheme, fiscal_year=year, code=node.code, problems=exc.problems[:3])
    return merged
