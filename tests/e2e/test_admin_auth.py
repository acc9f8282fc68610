"""Every admin route, listed from the application's router, refuses a missing token, a wrong one, a
producer key and a role too weak for it; routes without an operation are exactly the public ones."""

from __future__ import annotations

import asyncio
import re

import pytest

from admin_api.access import ROLE_RANK, access_of
from tests.e2e.conftest import RunningHub

pytestmark = pytest.mark.e2e

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    ("POST", "/api/v1/inbound/{system}"),  # producer keys, checked by the handler
    ("POST", "/api/v1/imports/{system}"),  # producer keys too (tests/e2e/test_http_imports.py)
    ("GET", "/api/v1/imports/{system}/{import_id}"),
    ("GET", "/api/v1/imports/{system}/{import_id}/rejects"),
    # The public API, declared public where it is declared (tag "public"), is listed by its paths so that a
    # route made public by mistake still shows here.
    ("GET", "/api/v1/public/areas"),
    ("GET", "/api/v1/public/areas/{province_code}"),
    ("GET", "/api/v1/public/organisations/{org_code}/projects"),
    ("GET", "/api/v1/public/projects/{project_id}"),
    ("GET", "/api/v1/public/ocds/{org_code}"),
    ("GET", "/api/v1/public/ocds/releases/{egp_project_number}"),
    ("GET", "/api/v1/public/areas/{province_code}/totals.csv"),
    ("GET", "/api/v1/public/areas/{province_code}/totals.xlsx"),
    # the citizens' pages (admin_api/pages.py)
    ("GET", "/"),
    ("GET", "/p/{province}"),
    ("GET", "/o/{org_code}"),
    ("GET", "/project/{project_id}"),
}
WEAKER = {"viewer": "analyst", "operator": "viewer", "admin": "operator"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if m.group(0) == "{dead_letter_id}" else "x", path)


@pytest.mark.hub_settings(security={"rate_limit_per_s": 1000, "rate_limit_burst": 1000})
async def test_every_admin_route_refuses_no_token_a_wrong_token_and_a_weaker_role(running_hub: RunningHub) -> None:
    hub = running_hub
    store = hub.hub.store
    tokens = {}
    for role in map(str, ROLE_RANK):
        _, tokens[role] = await asyncio.to_thread(store.access.add_admin_token, f"t-{role}", role, actor="test")
    _, revoked = await asyncio.to_thread(store.access.add_admin_token, "t-revoked", "admin", actor="test")
    await asyncio.to_thread(store.access.revoke_admin_token, "t-revoked", actor="test")

    admin_routes, public = [], set()
    for route in hub.app.router.routes():
        if route.method == "HEAD":
            continue
        path = route.resource.canonical
        access = access_of(route.handler)
        assert access is not None, f"{route.method} {path} declares no access"
        if not access.needs_admin_token:
            public.add((route.method, path))
        else:
            admin_routes.append((route.method, path, str(access)))
    assert public <= PUBLIC, f"routes without an admin operation that are not meant to be public: {public - PUBLIC}"
    assert len(admin_routes) >= 30

    async def status(method: str, path: str, token: str | None) -> int:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        async with hub.http.request(method, f"{hub.url}{_concrete(path)}", headers=headers, json={}) as response:
            if response.status in (401, 403):
                assert response.content_type == "application/problem+json"
            return response.status

    for method, path, role in admin_routes:
        where = f"{method} {path}"
        assert await status(method, path, None) == 401, where
        assert await status(method, path, "prsadm_not-a-token") == 401, where
        assert await status(method, path, hub.eplan_key) == 401, where  # a producer key is no admin token
        assert await status(method, path, revoked) == 401, where
        if role in WEAKER:
            assert await status(method, path, tokens[WEAKER[role]]) == 403, where
        if method == "GET":  # reads only: the right role gets past authentication
            assert await status(method, path, tokens[role]) not in (401, 403), where


async def test_changes_through_the_api_are_audited_with_before_and_after(running_hub: RunningHub) -> None:
    hub = running_hub
    auth = {"Authorization": f"Bearer {hub.admin_token}"}
    async with hub.http.post(f"{hub.url}/api/v1/routes/eplan-projects-to-elaas/pause", headers=auth) as response:
        assert response.status == 200 and (await response.json())["paused"] is True
    async with hub.http.get(f"{hub.url}/api/v1/audit", headers=auth, params={"action": "route.pause"}) as response:
        [entry] = await response.json()
    assert entry["actor"] == "token:e2e-admin" and entry["target"] == "route:eplan-projects-to-elaas"
    assert entry["before"]["paused"] is False and entry["after"]["paused"] is True
    assert entry["at"]
