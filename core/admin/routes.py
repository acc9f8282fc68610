"""Routes at run time: config/routes.yaml is the baseline; changes, pauses and resumes made through the
admin API or the CLI are stored in the database (config overrides, kind "route") and applied to the
live router. Every hub process re-reads them every `security.route_refresh_s` seconds, so a change
made in one process or by the CLI reaches all of them.

Pauses reach the outbox the same way: each refresh (and each change) reconciles the outbox with the
table just read, holding the queued deliveries of paused routes and destinations and releasing every
other held one. A single hold/release at the moment of the change would not do: another process with
an older table may still queue rows as held after a resume (or as pending after a pause), and a held
version blocks every later version of that entity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from core.errors import ConfigError
from core.router import Route, Router, check_route

log = structlog.get_logger("prasan.admin.routes")
KIND = "route"


class RouteNotFound(KeyError):
    pass


class RouteService:
    def __init__(self, store: Any, router: Router, systems: Mapping[str, Any]) -> None:
        self.store = store
        self.router = router
        self.systems = systems
        self.baseline = {route.name: route for route in router.routes}
        self._applied: dict[str, Any] | None = None

    def load(self) -> None:
        """Apply the stored changes over the baseline (blocking; call through a thread)."""
        stored = {o.name: o.value for o in self.store.config.overrides(KIND)}
        if stored == self._applied:
            return
        routes = dict(self.baseline)
        for name, value in stored.items():
            try:
                route = Route.model_validate(value)
                check_route(route, self.systems)
            except (ValueError, ConfigError) as exc:
                # A stored change that no longer fits (a plugin was removed) must not stop the hub.
                log.error("route_override_invalid", route=name, error=str(exc))
                continue
            routes[name] = route
        self.router.replace(routes.values())
        self._applied = stored
        self.store.outbox.paused = paused_pairs(self.router.routes)

    def reconcile(self) -> tuple[int, int]:
        """Hold and release outbox rows to match the pause state of the applied table (blocking)."""
        held, released = self.store.outbox.reconcile_holds(paused_pairs(self.router.routes), list(self.systems))
        if held or released:
            log.info("deliveries_reconciled_with_pauses", held=held, released=released)
        return held, released

    def refresh(self) -> None:
        """Re-read the stored changes and reconcile the outbox with them (blocking)."""
        self.load()
        self.reconcile()

    def source_of(self, name: str) -> str:
        return "override" if self._applied and name in self._applied else "config"

    def list(self) -> list[Route]:
        return list(self.router.routes)

    def get(self, name: str) -> Route:
        route = self.router.get(name)
        if route is None:
            raise RouteNotFound(name)
        return route

    def put(self, route: Route, actor: str) -> Route:
        """Create or replace a route; validated against the installed systems before it is stored."""
        check_route(route, self.systems)
        before = self.router.get(route.name)
        self.store.config.put_override(
            KIND,
            route.name,
            route.model_dump(mode="json"),
            actor=actor,
            action="route.put",
            before=None if before is None else before.model_dump(mode="json"),
        )
        self.load()
        self.reconcile()
        return self.get(route.name)

    def set_paused(self, name: str, paused: bool, actor: str, destination: str | None = None) -> Route:
        """Pause or resume a whole route, or one destination on it. Deliveries are held, not dropped."""
        before = self.get(name)
        if destination is not None and destination not in before.destinations:
            raise RouteNotFound(f"{name}/{destination}")
        if destination is None:
            after = before.model_copy(update={"paused": paused})
        else:
            others = [d for d in before.paused_destinations if d != destination]
            after = before.model_copy(update={"paused_destinations": others + ([destination] if paused else [])})
        action = ("route.pause" if paused else "route.resume") + ("" if destination is None else "_destination")
        self.store.config.put_override(
            KIND, name, after.model_dump(mode="json"), actor=actor, action=action, before=before.model_dump(mode="json")
        )
        self.load()
        self.reconcile()
        return self.get(name)



def paused_pairs(routes: Iterable[Route]) -> frozenset[tuple[str, str]]:
    """(route, destination) for every destination a route table holds: all of a paused route's, and
    the paused destinations of the others."""
    return frozenset(
        (route.name, destination)
        for route in routes
        for destination in route.destinations
        if route.paused or destination in route.paused_destinations
    )
