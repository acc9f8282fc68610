"""Closed by default: every HTTP route is declared with the access it needs, in one place.

A route is added only through `declare(router, method, path, handler, access)`, which marks its handler.
`check_every_route_declared(app)` refuses an application holding a route that was added any other way
(create_app calls it, and again when the app starts, so a route slipped in afterwards is caught too),
and the authentication middleware turns away a request for an unmarked handler. Forgetting a line can
therefore only hide a route, never expose one.

Access levels, from open to closed:

    public    no credentials (health, metrics, the API description, the citizens' pages)
    producer  an agency system's API key, checked by the ingest handler itself (it must authenticate
              before it says anything about the system named in the path)
    analyst   an admin token of role analyst or above: area aggregates and reconciliation, every area
    viewer    an admin token of role viewer or above
    operator  role operator or above
    admin     role admin
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ACCESS_ATTRIBUTE = "prasan_access"


class Access(enum.StrEnum):
    PUBLIC = "public"
    PRODUCER = "producer"
    ANALYST = "analyst"
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def needs_admin_token(self) -> bool:
        return self in (Access.ANALYST, Access.VIEWER, Access.OPERATOR, Access.ADMIN)


# An analyst (a central agency) reads the area figures and the reconciliation flags of every area, and
# nothing of the hub's operation; a viewer reads both.
ROLE_RANK = {Access.ANALYST: 1, Access.VIEWER: 2, Access.OPERATOR: 3, Access.ADMIN: 4}


class UndeclaredRoute(RuntimeError):
    """A route was added to the application without a declared access."""


def access_of(handler: object) -> Access | None:
    return getattr(handler, ACCESS_ATTRIBUTE, None)


def declare(router: web.UrlDispatcher, method: str, path: str, handler: Handler, access: Access, name: str | None = None) -> None:
    """Add a route with the access it needs. The mark goes on a wrapper made for this one declaration,
    never on the handler itself: passing a declared handler to `add_route` again, under another path,
    finds no mark (and is refused), and one function declared twice keeps each route's own access."""

    @functools.wraps(handler)
    async def declared(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    setattr(declared, ACCESS_ATTRIBUTE, access)
    router.add_route(method, path, declared, name=name)


def undeclared_routes(app: web.Application) -> list[str]:
    return [
        f"{route.method} {route.resource.canonical if route.resource else '?'}"
        for route in app.router.routes()
        if access_of(route.handler) is None
    ]


def check_every_route_declared(app: web.Application) -> None:
    missing = undeclared_routes(app)
    if missing:
        raise UndeclaredRoute(f"routes without a declared access (use admin_api.access.declare): {', '.join(missing)}")
