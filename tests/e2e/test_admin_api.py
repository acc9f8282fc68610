"""The admin API doing its job over real HTTP: routes paused and resumed without losing deliveries,
the inbox and entities searched and traced, dead letters replayed once, cursors moved, docs served."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import RunningHub
from tests.e2e.test_hub_end_to_end import chiang_mai_orgs, documents_by_project, p02_rows, to_csv

pytestmark = pytest.mark.e2e
ROUTE = "eplan-projects-to-elaas"


async def call(hub: RunningHub, method: str, path: str, body: Any = None, **params: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {hub.admin_token}"}
    async with hub.http.request(method, f"{hub.url}{path}", json=body, params=params, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def test_pausing_holds_deliveries_and_resuming_sends_them(running_hub: RunningHub) -> None:
    hub = running_hub
    status, route = await call(hub, "POST", f"/api/v1/routes/{ROUTE}/destinations/elaas/pause")
    assert status == 200 and route["paused_destinations"] == ["elaas"] and route["origin"] == "override"
    status, answer = await hub.post(to_csv(p02_rows(2)), "text/csv; charset=utf-8")
    assert status == 202
    await asyncio.sleep(0.3)  # workers poll every 20 ms: time enough to send, had it not been held
    assert await documents_by_project(hub) == {}
    [stats] = await asyncio.to_thread(hub.hub.store.outbox.outbox_stats)
    assert stats.held == 2 and stats.pending == 0
    status, _ = await call(hub, "POST", f"/api/v1/routes/{ROUTE}/destinations/elaas/resume")
    assert status == 200
    await hub.wait_until(hub.settled, "held deliveries sent after resume")
    assert len(await documents_by_project(hub)) == 2

    assert (await call(hub, "POST", f"/api/v1/routes/{ROUTE}/destinations/eplan/pause"))[0] == 404
    assert (await call(hub, "POST", "/api/v1/routes/no-such-route/pause"))[0] == 404


async def test_route_changes_are_validated_and_urls_must_be_allowed(running_hub: RunningHub) -> None:
    hub = running_hub
    status, route = await call(hub, "GET", f"/api/v1/routes/{ROUTE}")
    assert status == 200 and route["origin"] == "config"
    body = {k: v for k, v in route.items() if k != "origin"}
    status, problem = await call(hub, "PUT", f"/api/v1/routes/{ROUTE}", {**body, "destinations": ["nowhere"]})
    assert status == 400 and "nowhere" in problem["detail"]
    status, problem = await call(hub, "PUT", f"/api/v1/routes/{ROUTE}", {**body, "destinations": ["http://evil.example/"]})
    assert status == 400
    assert (await call(hub, "PUT", "/api/v1/routes/other-name", body))[0] == 400
    status, changed = await call(hub, "PUT", f"/api/v1/routes/{ROUTE}", {**body, "max_attempts": 3})
    assert status == 200 and changed["max_attempts"] == 3 and changed["origin"] == "override"
    assert hub.hub.router.get(ROUTE).max_attempts == 3  # the live router uses it

    status, problem = await call(hub, "PUT", "/api/v1/systems/elaas/url", {"base_url": "http://evil.example:80"})
    assert status == 400 and problem["rule"] == "url.not_allowed"
    hub.hub.settings.destination_url_allowlist = ["http://127.0.0.1"]
    status, answer = await call(hub, "PUT", "/api/v1/systems/elaas/url", {"base_url": hub.elaas_url})
    assert status == 200 and hub.hub.settings.systems["elaas"]["base_url"] == hub.elaas_url
    assert (await call(hub, "PUT", "/api/v1/systems/elaas/url", {"base_url": "http://user:pw@127.0.0.1:1"}))[0] == 400


async def test_inbox_entities_and_the_trace_of_a_figure(running_hub: RunningHub) -> None:
    hub = running_hub
    rows = p02_rows(2)
    status, first = await hub.post(to_csv(rows), "text/csv; charset=utf-8")
    assert status == 202
    rows[0][7] = "123,456.00"  # the first year's budget changes: a second version
    bad = list(rows[1])
    bad[1] = ""
    status, second = await hub.post(to_csv([rows[0], bad]), "text/csv; charset=utf-8")
    assert status == 202 and second["rejected"]
    await hub.wait_until(hub.settled, "delivered")

    status, listed = await call(hub, "GET", "/api/v1/messages", system="eplan", outcome="partial")
    assert status == 200 and [m["message_id"] for m in listed] == [second["message_id"]]
    org = chiang_mai_orgs(1)[0]
    status, listed = await call(hub, "GET", "/api/v1/messages", org_code=org)
    assert {m["message_id"] for m in listed} == {first["message_id"], second["message_id"]}
    status, listed = await call(hub, "GET", "/api/v1/messages", since="2999-01-01T00:00:00Z")
    assert listed == []

    status, message = await call(hub, "GET", f"/api/v1/messages/{second['message_id']}")
    assert status == 200 and "123,456.00" in message["payload_text"]
    assert message["rejections"] and message["rejections"][0]["row"] == 2
    entity_id = second["entities"][0]["id"]
    assert [(b["entity_id"], b["version"]) for b in message["became"]] == [(entity_id, 2)]

    status, found = await call(hub, "GET", "/api/v1/entities", entity_type="plan_project", org_code=org)
    assert [e["id"] for e in found] == [entity_id]
    status, found = await call(hub, "GET", "/api/v1/entities", fiscal_year=2599)
    assert found == []
    status, entity = await call(hub, "GET", f"/api/v1/entities/{entity_id}")
    [xref] = [x for x in entity["xrefs"] if x["system"] == "elaas"]
    status, found = await call(hub, "GET", "/api/v1/entities", system="elaas", external_id=xref["external_id"])
    assert [e["id"] for e in found] == [entity_id]
    assert [v["version"] for v in entity["versions"]] == [1, 2]
    assert {d["state"] for d in entity["deliveries"]} == {"delivered"}

    figure = _first_amount_path(entity["entity"])
    status, trace = await call(hub, "GET", f"/api/v1/entities/{entity_id}/trace", field=figure)
    assert status == 200 and trace["field"] == figure
    steps = trace["steps"]
    assert [s["message_id"] for s in steps] == [first["message_id"], second["message_id"]]
    assert steps[0]["value"] != steps[1]["value"] and steps[1]["value"] == "123456.00"
    assert all(s["mapping_version"] and s["deliveries"][0]["state"] == "delivered" for s in steps)
    assert steps[1]["deliveries"][0]["delivery_key"] == f"elaas:{entity_id}:2"


def _first_amount_path(entity: dict[str, Any]) -> str:
    """The dotted path of the entity's first budget figure, whatever the model calls it."""
    def walk(value: Any, path: str) -> str | None:
        if isinstance(value, dict):
            for key, item in value.items():
                found = walk(item, f"{path}.{key}" if path else key)
                if found:
                    return found
        elif isinstance(value, list):
            for i, item in enumerate(value):
                found = walk(item, f"{path}.{i}")
                if found:
                    return found
        elif isinstance(value, str) and value.replace(".", "", 1).isdigit() and "." in value and float(value) > 1000:
            return path
        return None

    path = walk(entity, "")
    assert path is not None
    return path


async def test_dead_letters_replay_once_in_bulk_and_discard_with_a_reason(running_hub: RunningHub) -> None:
    hub = running_hub
    rows = p02_rows(3)
    fault = {"status": 400, "times": 2, "match": "โครงการทดสอบที่"}
    async with hub.http.post(f"{hub.elaas_url}/_sim/faults", json=fault) as response:
        assert response.status < 300
    await hub.post(to_csv(rows[:1]), "text/csv; charset=utf-8")
    await hub.wait_until(hub.settled, "first dead")
    await hub.post(to_csv(rows[1:2]), "text/csv; charset=utf-8")
    await hub.wait_until(hub.settled, "second dead")
    status, letters = await call(hub, "GET", "/api/v1/dead-letters", destination="elaas")
    assert status == 200 and len(letters) == 2 and "400" in letters[0]["reason"]
    one, two = letters
    status, answer = await call(hub, "POST", f"/api/v1/dead-letters/{one['id']}/replay", {"note": "fixed"})
    assert status == 200 and answer["done"] and answer["delivery_key"] == one["delivery_key"]
    status, again = await call(hub, "POST", f"/api/v1/dead-letters/{one['id']}/replay", {})
    assert status == 200 and not again["done"]  # replaying twice sends nothing new
    await hub.wait_until(hub.settled, "replayed")
    assert len(await documents_by_project(hub)) == 1

    assert (await call(hub, "POST", f"/api/v1/dead-letters/{two['id']}/discard", {}))[0] == 400  # a reason is required
    status, bulk = await call(hub, "POST", "/api/v1/dead-letters/replay", {"destination": "elaas"})
    assert status == 200 and bulk["matched"] == 1 and bulk["replayed"] == 1
    status, bulk = await call(hub, "POST", "/api/v1/dead-letters/replay", {"destination": "elaas"})
    assert bulk["matched"] == 0
    await hub.wait_until(hub.settled, "bulk replayed")
    assert len(await documents_by_project(hub)) == 2
    status, letters = await call(hub, "GET", "/api/v1/dead-letters", include_resolved="true")
    assert {x["resolution"] for x in letters} == {"replayed"}
    assert (await call(hub, "POST", "/api/v1/dead-letters/999999/discard", {"reason": "x"}))[0] == 404
    actions = [e.action for e in await asyncio.to_thread(hub.hub.store.access.audit_entries)]
    assert actions.count("dead_letter.replay") == 2


async def test_cursors_reset_set_and_pull_now(running_hub: RunningHub) -> None:
    hub = running_hub
    path = "/api/v1/cursors/eplan/plan_project"
    status, cursor = await call(hub, "GET", path)
    assert status == 200 and cursor["cursor"] is None
    status, pulled = await call(hub, "POST", f"{path}/pull")
    assert status == 200 and pulled["records"] > 0
    status, cursor = await call(hub, "GET", path)
    assert cursor["cursor"] is not None
    assert (await call(hub, "POST", f"{path}/pull"))[1]["records"] == 0  # nothing new after the cursor
    status, cursor = await call(hub, "PUT", path, {"cursor": None})  # reset: backfill from the start
    assert status == 200 and cursor["cursor"] is None
    assert (await call(hub, "POST", f"{path}/pull"))[1]["records"] == pulled["records"]
    assert (await call(hub, "GET", "/api/v1/cursors/eplan/no_such_type"))[0] == 404
    status, listed = await call(hub, "GET", "/api/v1/cursors")
    assert [(c["system"], c["entity_type"]) for c in listed] == [("eplan", "plan_project")]


async def test_plugins_tokens_clients_and_the_documentation(running_hub: RunningHub) -> None:
    hub = running_hub
    status, plugins = await call(hub, "GET", "/api/v1/plugins")
    assert status == 200 and {p["name"] for p in plugins} == {"eplan", "elaas", "egp", "gfmis", "ebudget", "sola"}
    assert all(p["version"] and p["capabilities"] and "ok" in p["health"] for p in plugins)

    status, created = await call(hub, "POST", "/api/v1/tokens", {"name": "ops", "role": "operator"})
    assert status == 201 and created["token"].startswith("prsadm_")
    assert (await call(hub, "POST", "/api/v1/tokens", {"name": "ops", "role": "viewer"}))[0] == 409
    assert (await call(hub, "POST", "/api/v1/tokens", {"name": "x", "role": "root"}))[0] == 400
    assert (await call(hub, "DELETE", "/api/v1/tokens/e2e-admin"))[0] == 409  # not itself
    assert (await call(hub, "DELETE", "/api/v1/tokens/ops"))[0] == 200

    body = {"name": "amphoe", "system": "eplan", "allowed_provinces": ["50"], "hmac": True}
    status, client = await call(hub, "POST", "/api/v1/clients", body)
    assert status == 201 and client["key"].startswith("prs_") and client["hmac_secret"] and client["signed_requests"]
    assert (await call(hub, "POST", "/api/v1/clients", {"name": "n", "system": "eplan"}))[0] == 400  # no scope
    # Only systems that accept inbound data get clients: e-LAAS takes no pushes, "nosuch" does not exist.
    for system in ("elaas", "nosuch"):
        status, refused = await call(hub, "POST", "/api/v1/clients", {"name": f"c-{system}", "system": system, "all_orgs": True})
        assert status == 400 and repr(system) in refused["detail"], refused
    status, listed = await call(hub, "GET", "/api/v1/clients")
    assert all("key" not in c and "hmac_secret" not in c for c in listed)
    assert not {c["name"] for c in listed} & {"c-elaas", "c-nosuch"}
    status, patched = await call(hub, "PATCH", "/api/v1/clients/amphoe", {"allowed_orgs": ["6500101"], "disabled": True})
    assert status == 200 and patched["allowed_orgs"] == ["6500101"] and patched["disabled"]

    async with hub.http.get(f"{hub.url}/api/v1/openapi.json") as response:
        document = await response.json()
    assert document["openapi"].startswith("3.1")
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    for route in hub.app.router.routes():
        if getattr(route.handler, "prasan_operation", None) is not None:
            assert (route.method, route.resource.canonical) in operations
    async with hub.http.get(f"{hub.url}/api/v1/docs") as response:
        page = await response.text()
    assert response.status == 200 and "/api/v1/dead-letters/{dead_letter_id}/replay" in page and "<script" not in page


async def test_what_the_path_names_but_the_store_lacks_is_a_404_naming_it(running_hub: RunningHub) -> None:
    hub, absent = running_hub, "f" * 32
    lookups = [
        ("GET", f"/api/v1/messages/{absent}", None, "no message with this id"),
        ("GET", f"/api/v1/entities/{absent}", None, "no entity with this id"),
        ("GET", f"/api/v1/entities/{absent}/trace", None, "no entity with this id"),
        ("GET", f"/api/v1/entities/{absent}/chain", None, "no entity with this id"),
        ("GET", "/api/v1/dead-letters/999999", None, "no dead letter with this id"),
        ("PATCH", "/api/v1/clients/nobody", {"disabled": True}, "no client with this name"),
        ("PATCH", "/api/v1/clients/nobody", {"allowed_orgs": ["6500101"]}, "no client with this name"),
        ("DELETE", f"/api/v1/links/{absent}/{'e' * 32}", None, "no link between these records"),
    ]
    for method, path, body, detail in lookups:
        status, answer = await call(hub, method, path, body)
        assert (status, answer["title"], answer["detail"]) == (404, "Not Found", detail), (method, path, body)
