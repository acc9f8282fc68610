"""HTTP is closed by default: every route of the application declares its access, a route added any
other way stops the application from being built or started, and nothing but the public routes
answers a request without credentials."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from admin_api.access import Access, UndeclaredRoute, access_of, check_every_route_declared, declare
from admin_api.app import create_app, serve
from admin_api.auth import admin_auth_middleware
from core.hub import Hub
from core.settings import HubSettings
from tests.e2e.conftest import RunningHub

pytestmark = pytest.mark.e2e


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if m.group(0) == "{dead_letter_id}" else "eplan", path)


async def test_every_route_declares_its_access_and_only_public_ones_answer_strangers(running_hub: RunningHub) -> None:
    hub = running_hub
    assert hub.app is not None
    routes = [(route.method, route.resource.canonical, access_of(route.handler)) for route in hub.app.router.routes()]
    assert routes and all(access is not None for _, _, access in routes), [r for r in routes if r[2] is None]
    closed = [(method, path) for method, path, access in routes if access is not Access.PUBLIC and method != "HEAD"]
    assert ("POST", "/api/v1/inbound/{system}") in closed and len(closed) >= 30
    for method, path in closed:
        async with hub.http.request(method, f"{hub.url}{_concrete(path)}", json={}) as response:
            assert response.status == 401, f"{method} {path} answered {response.status} without credentials"


def test_a_route_added_without_declaring_its_access_stops_the_application(tmp_path: Path) -> None:
    hub = Hub.build(HubSettings(database_url=f"sqlite:///{tmp_path}/hub.db", systems={"elaas": {"api_key": "k"}}))
    app = create_app(hub, start_hub=False)

    async def leaky(request: web.Request) -> web.Response:
        return web.json_response({"secret": "data"})

    app.router.add_get("/api/v1/leaky", leaky)
    with pytest.raises(UndeclaredRoute, match="GET /api/v1/leaky"):
        check_every_route_declared(app)


async def test_an_undeclared_route_slipped_in_after_create_app_stops_the_start(tmp_path: Path) -> None:
    hub = Hub.build(HubSettings(database_url=f"sqlite:///{tmp_path}/hub.db", systems={"elaas": {"api_key": "k"}}))
    app = create_app(hub, start_hub=False)
    app.router.add_get("/api/v1/later", lambda request: web.json_response({}))
    with pytest.raises(UndeclaredRoute, match="/api/v1/later"):
        await serve(app, "127.0.0.1", 0)


async def test_the_auth_middleware_refuses_an_undeclared_handler() -> None:
    async def open_door(request: web.Request) -> web.Response:
        return web.json_response({"secret": "data"})

    async def declared(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[admin_auth_middleware])
    app.router.add_get("/open", open_door)  # as if the startup check had been bypassed
    declare(app.router, "GET", "/declared", declared, Access.PUBLIC)
    runner, port = await serve(app, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/open") as response:
                assert response.status == 403 and "declares no access" in await response.text()
            async with http.get(f"http://127.0.0.1:{port}/declared") as response:
                assert response.status == 200
            async with http.get(f"http://127.0.0.1:{port}/nowhere") as response:
                assert response.status == 404
    finally:
        await runner.cleanup()


def test_a_public_handler_added_again_under_another_path_is_not_public(tmp_path: Path) -> None:
    from admin_api.health import readyz  # declared public at /readyz

    hub = Hub.build(HubSettings(database_url=f"sqlite:///{tmp_path}/hub.db", systems={"elaas": {"api_key": "k"}}))
    app = create_app(hub, start_hub=False)
    app.router.add_get("/api/v1/admin/readiness", readyz)
    with pytest.raises(UndeclaredRoute, match="/api/v1/admin/readiness"):
        check_every_route_declared(app)
