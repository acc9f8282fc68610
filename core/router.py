"""Routes: which destinations a changed entity from a source system must reach.

Declared in `config/routes.yaml`, validated at start (unknown systems, a system that cannot write the
entity type, duplicate names are errors), and evaluated as a pure function per entity, so the store can
call it inside the ingest transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import ConfigError
from core.store.records import Destination, IncomingEntity


class RouteFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_types: list[str] | None = Field(None, description="only organisations of these types")
    provinces: list[str] | None = Field(None, description="only organisations in these DOPA provinces")
    org_codes: list[str] | None = Field(None, description="only these organisations")
    fiscal_years: list[int] | None = Field(None, description="only these fiscal years")
    funding_sources: list[str] | None = Field(
        None, description="only records whose funding_source is one of these (e.g. เงินอุดหนุนเฉพาะกิจ)"
    )


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$", description="stable name used in metrics")
    source: str = Field(description="system the records come from")
    entity_types: list[str] = Field(min_length=1, description="entity types this route carries")
    destinations: list[str] = Field(min_length=1, description="systems that receive them")
    filters: RouteFilter = Field(default_factory=RouteFilter)
    max_attempts: int = Field(
        8, ge=1, le=100, description="least number of attempts before a retried delivery may be dead-lettered "
        "(it also needs its first failure to be older than delivery.retry_window_s)",
    )
    paused: bool = Field(False, description="a paused route holds its deliveries until it is resumed")
    paused_destinations: list[str] = Field(
        default_factory=list, description="destinations on this route whose deliveries are held until resumed"
    )

    @field_validator("destinations")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a destination is listed twice")
        return value


OrgLookup = Callable[[str], Mapping[str, Any] | None]


class Router:
    def __init__(self, routes: Iterable[Route], org_lookup: OrgLookup | None = None) -> None:
        self._org_lookup = org_lookup or (lambda code: None)
        self.replace(routes)

    def replace(self, routes: Iterable[Route]) -> None:
        """Swap the whole route table at once (routes changed at run time); the ingestor keeps its
        reference to this router, so the new table applies to the next message."""
        routes = list(routes)
        names = [route.name for route in routes]
        if len(set(names)) != len(names):
            raise ConfigError(f"route names must be unique: {names}")
        by_source: dict[tuple[str, str], list[Route]] = {}
        for route in routes:
            for entity_type in route.entity_types:
                by_source.setdefault((route.source, entity_type), []).append(route)
        # Two plain assignments: a message being routed on another thread sees the old or the new table.
        self._by_source = by_source
        self.routes = routes

    def get(self, name: str) -> Route | None:
        return next((route for route in self.routes if route.name == name), None)

    @classmethod
    def from_file(cls, path: Path, org_lookup: OrgLookup | None = None) -> Router:
        if not path.is_file():
            return cls([], org_lookup)
        return cls.from_data(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, org_lookup, str(path))

    @classmethod
    def from_data(cls, data: Mapping[str, Any], org_lookup: OrgLookup | None = None, origin: str = "routes") -> Router:
        try:
            routes = [Route.model_validate(item) for item in data.get("routes", [])]
        except ValidationError as exc:
            raise ConfigError(f"{origin}: {exc}") from exc
        return cls(routes, org_lookup)

    def check_against(self, systems: Mapping[str, Any]) -> None:
        """Every route names systems that exist, that can read or write what it carries."""
        for route in self.routes:
            check_route(route, systems)

    def _matches(self, route: Route, entity: IncomingEntity) -> bool:
        filters = route.filters
        if filters.fiscal_years is not None and entity.fiscal_year not in filters.fiscal_years:
            return False
        if filters.org_codes is not None and entity.org_code not in filters.org_codes:
            return False
        if filters.funding_sources is not None and entity.payload.get("funding_source") not in filters.funding_sources:
            return False
        if filters.org_types is None and filters.provinces is None:
            return True
        org = self._org_lookup(entity.org_code or "") or {}
        if filters.org_types is not None and org.get("org_type") not in filters.org_types:
            return False
        if filters.provinces is not None and org.get("province_code") not in filters.provinces:
            return False
        return True

    def destinations(self, source: str, entity: IncomingEntity) -> list[Destination]:
        """One destination per system, the first matching route naming it winning; a route that
        sends it now wins over a paused one, whose delivery would be held."""
        found: dict[str, Destination] = {}
        held: dict[str, Destination] = {}
        for route in self._by_source.get((source, entity.entity_type), ()):
            if not self._matches(route, entity):
                continue
            for system in route.destinations:
                paused = route.paused or system in route.paused_destinations
                target = held if paused else found
                if system not in target:
                    target[system] = _destination(system, route.name, route.max_attempts, paused)
        for system, destination in held.items():
            found.setdefault(system, destination)
        return list(found.values())


# A Destination is frozen: the few distinct ones are shared by every record routed, not built for each
# (a frozen dataclass's construction was 2 µs of a record's ingest).
_destination = functools.lru_cache(maxsize=1024)(Destination)


def check_route(route: Route, systems: Mapping[str, Any]) -> None:
    """A route names systems that exist, never itself, and destinations that can write what it carries."""
    if route.source not in systems:
        raise ConfigError(f"route {route.name!r}: unknown source system {route.source!r}")
    for destination in route.destinations:
        if destination not in systems:
            raise ConfigError(f"route {route.name!r}: unknown destination {destination!r}")
        if destination == route.source:
            raise ConfigError(f"route {route.name!r}: a system cannot be its own destination")
        writes = set(systems[destination].description.writes)
        missing = set(route.entity_types) - writes
        if missing:
            raise ConfigError(f"route {route.name!r}: {destination!r} cannot write {sorted(missing)}")
    unknown_paused = set(route.paused_destinations) - set(route.destinations)
    if unknown_paused:
        raise ConfigError(f"route {route.name!r}: paused destinations {sorted(unknown_paused)} are not on the route")
