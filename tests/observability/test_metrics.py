"""GET /metrics and /readyz of a real hub after real syncs with the simulators, checked by promtool."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from core.hub import Hub
from core.paths import SHIPPED_CONFIG_DIR
from tests.e2e.conftest import RunningHub
from tests.e2e.test_hub_end_to_end import p02_rows, to_csv
from tests.observability.conftest import prometheus_binary
from tests.observability.metrics_text import exposed_names, parse, value

pytestmark = pytest.mark.e2e

ALERTS = SHIPPED_CONFIG_DIR / "prometheus" / "alerts.yml"
DASHBOARD = SHIPPED_CONFIG_DIR / "grafana" / "prasan.json"
# Synthesised by Prometheus itself, not by the hub.
PROMETHEUS_OWN = {"up"}


async def scrape(hub: RunningHub) -> str:
    async with hub.http.get(f"{hub.url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return await response.text()


async def sync(hub: RunningHub, rows: list[list[str]]) -> dict:
    status, answer = await hub.post(to_csv(rows), "text/csv; charset=utf-8")
    assert status == 202, answer
    await hub.wait_until(hub.settled, "deliveries settled")
    return answer


async def test_metrics_after_a_sync_count_what_happened_and_pass_promtool(running_hub: RunningHub) -> None:
    hub = running_hub
    rows = p02_rows(5)
    rows[2][1] = "5500199"  # no such organisation: one rejected row
    answer = await sync(hub, rows)
    assert answer["accepted"] == 4
    text = await scrape(hub)

    promtool = prometheus_binary("promtool")
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0 and checked.stdout.strip() == "" and checked.stderr.strip() == "", (
        checked.stdout + checked.stderr
    )

    samples = parse(text)
    received = "prasan_records_received_total"
    assert value(samples, received, system="eplan", entity_type="plan_project", outcome="changed") == 4
    assert value(samples, received, system="eplan", entity_type="unknown", outcome="rejected") == 1
    assert value(samples, "prasan_mapping_rejections_total", system="eplan", rule="org.unknown") == 1
    deliveries = "prasan_deliveries_total"
    assert value(samples, deliveries, destination="elaas", route="eplan-projects-to-elaas", outcome="delivered") == 4
    assert value(samples, deliveries, destination="elaas", outcome="retry") == 0
    assert value(samples, "prasan_end_to_end_latency_seconds_count", destination="elaas") == 4
    assert value(samples, "prasan_end_to_end_latency_seconds_sum", destination="elaas") > 0
    assert value(samples, "prasan_delivery_duration_seconds_count", destination="elaas") >= 1
    assert value(samples, "prasan_outbox_backlog", destination="elaas") == 0
    assert value(samples, "prasan_outbox_oldest_pending_age_seconds", destination="elaas") == 0
    assert value(samples, "prasan_dead_letters", destination="elaas") == 0
    assert value(samples, "prasan_ledger_waiting_projects") == 0  # all four filed at e-LAAS, so in the ledger
    assert value(samples, "prasan_ledger_waiting_oldest_age_seconds") == 0
    assert value(samples, "prasan_database_up") == 1
    assert value(samples, "prasan_http_requests_total", method="POST", route="/api/v1/inbound/{system}", status="202") == 1
    [build] = [s for s in samples if s.name == "prasan_build_info"]
    assert build.value == 1 and build.labels["version"] and build.labels["python"]

    # No label holds an id: not by name, and no value is one of this sync's ids or keys.
    ids = {answer["message_id"], *(e["id"] for e in answer["entities"])}
    for entity in answer["entities"]:
        view = await asyncio.to_thread(hub.hub.store.entities.get_entity, entity["id"])
        ids.update(d.delivery_key for d in view.deliveries)
    assert len(ids) == 1 + 4 + 4
    for sample in samples:
        assert sample.name.startswith("prasan_"), sample.name
        for label, label_value in sample.labels.items():
            assert not re.search(r"(^|_)(id|key)$", label), (sample.name, label)
            assert not any(i in label_value for i in ids), (sample.name, label, label_value)


async def test_dashboard_and_alerts_use_only_metrics_the_hub_exposes(running_hub: RunningHub) -> None:
    await sync(running_hub, p02_rows(2))
    exposed = exposed_names(await scrape(running_hub))

    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    dashboard_exprs = [t["expr"] for p in panels for t in p["targets"]]
    dashboard_exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    alert_exprs = [r["expr"] for g in yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"] for r in g["rules"]]

    for origin, exprs in (("dashboard", dashboard_exprs), ("alerts", alert_exprs)):
        used = {name for expr in exprs for name in re.findall(r"\b[a-z_][a-z0-9_]*(?=\s*[{\[)]|\s*$)", expr)}
        metric_names = {n for n in used if n.startswith("prasan_")} | (used & PROMETHEUS_OWN)
        assert len(metric_names) >= 8, (origin, metric_names)
        missing = {n for n in metric_names if n not in exposed and n not in PROMETHEUS_OWN}
        assert not missing, f"{origin} uses metrics the hub does not expose: {sorted(missing)}"
        # Every name that looks like ours is a real metric (catches a typo outside a selector too).
        loose = {n for expr in exprs for n in re.findall(r"\bprasan_[a-z0-9_]+", expr)}
        assert loose <= exposed, f"{origin}: {sorted(loose - exposed)}"

    # The dashboard covers sync health per system and per destination and route.
    titles = " ".join(p["title"].lower() for p in panels)
    for topic in ("received", "deliveries", "backlog", "latency", "dead letters", "last successful pull", "error"):
        assert topic in titles, topic
    joined = " ".join(dashboard_exprs)
    assert "by (destination, route, outcome)" in joined and "$system" in joined and "$destination" in joined


async def test_dead_letters_show_per_destination_and_in_every_hub_process(running_hub: RunningHub) -> None:
    hub = running_hub
    rows = p02_rows(3)
    fault = {"status": 400, "times": 5, "match": rows[0][4]}  # e-LAAS refuses this one project only
    async with hub.http.post(f"{hub.elaas_url}/_sim/faults", json=fault) as response:
        assert response.status < 300
    await sync(hub, rows)
    samples = parse(await scrape(hub))
    assert value(samples, "prasan_dead_letters", destination="elaas") == 1
    assert value(samples, "prasan_deliveries_total", destination="elaas", outcome="rejected") == 1
    assert value(samples, "prasan_deliveries_total", destination="elaas", outcome="delivered") == 2
    # The refused project waits for the ledger's catch-up (decision 0017); the two filed ones do not.
    assert value(samples, "prasan_ledger_waiting_projects") == 1
    assert value(samples, "prasan_ledger_waiting_oldest_age_seconds") > 0

    # A second hub process on the same database has counted nothing itself, yet reports the same
    # database gauges: they come from SQL, not from this process's memory.
    other = Hub.build(hub.hub.settings)
    try:
        theirs = parse((await asyncio.to_thread(other.observer.render)).decode())
    finally:
        await asyncio.to_thread(other.store.dispose)
    assert value(theirs, "prasan_dead_letters", destination="elaas") == 1
    assert value(theirs, "prasan_deliveries_total", destination="elaas", outcome="rejected") == 0

    # A pending delivery shows as backlog with its age, in both processes.
    async with hub.http.post(f"{hub.elaas_url}/_sim/faults", json={"status": 503, "times": 1000, "retry_after": 30}) as r:
        assert r.status < 300
    status, _ = await hub.post(to_csv(p02_rows(4)[3:]), "text/csv; charset=utf-8")
    assert status == 202

    async def retrying() -> bool:
        return value(parse(await scrape(hub)), "prasan_deliveries_total", destination="elaas", outcome="retry") >= 1

    await hub.wait_until(retrying, "a 503 answered")
    await asyncio.sleep(0.05)
    samples = parse(await scrape(hub))
    assert value(samples, "prasan_outbox_backlog", destination="elaas", state="pending") == 1
    assert value(samples, "prasan_outbox_oldest_pending_age_seconds", destination="elaas") > 0


async def test_pull_metrics_and_last_success_come_from_the_database(running_hub: RunningHub) -> None:
    hub = running_hub
    before = time.time()
    read = await hub.hub.pulls.pull("eplan", "plan_project")
    assert read > 0
    assert await hub.hub.pulls.pull("eplan", "plan_project") == 0  # nothing new, still a success
    samples = parse(await scrape(hub))
    assert value(samples, "prasan_pulls_total", system="eplan", outcome="success") == 2
    assert value(samples, "prasan_records_read_total", system="eplan", entity_type="plan_project") == read
    assert value(samples, "prasan_pull_duration_seconds_count", system="eplan") == 2
    last = value(samples, "prasan_pull_last_success_timestamp_seconds", system="eplan", entity_type="plan_project")
    assert before - 1 <= last <= time.time() + 1

    # Survives a restart: a fresh hub on the same database reports the same time.
    other = Hub.build(hub.hub.settings)
    try:
        theirs = parse((await asyncio.to_thread(other.observer.render)).decode())
    finally:
        await asyncio.to_thread(other.store.dispose)
    assert value(theirs, "prasan_pull_last_success_timestamp_seconds", system="eplan") == last

    # A failed pull is counted and leaves the last success alone.
    eplan = hub.hub.settings.systems["eplan"]
    hub.hub.systems.reconfigure("eplan", {**eplan, "base_url": "http://127.0.0.1:9"})  # nothing listens there
    try:
        with pytest.raises(Exception):
            await hub.hub.pulls.pull("eplan", "plan_project")
    finally:
        hub.hub.systems.reconfigure("eplan", eplan)
    samples = parse(await scrape(hub))
    assert value(samples, "prasan_pulls_total", system="eplan", outcome="failure") == 1
    assert value(samples, "prasan_pull_last_success_timestamp_seconds", system="eplan") == last


@pytest.mark.hub_settings(push_expectations={"eplan": {"interval_s": 3600}})
async def test_a_pushing_system_has_a_last_received_time_and_pulls_do_not_count(running_hub: RunningHub) -> None:
    hub = running_hub
    samples = parse(await scrape(hub))
    assert value(samples, "prasan_push_expected_interval_seconds", system="eplan") == 3600
    assert not [s for s in samples if s.name == "prasan_push_last_received_timestamp_seconds"]  # nothing yet
    assert await hub.hub.pulls.pull("eplan", "plan_project") > 0  # a pull is not a push
    samples = parse(await scrape(hub))
    assert not [s for s in samples if s.name == "prasan_push_last_received_timestamp_seconds"]

    before = time.time()
    await sync(hub, p02_rows(2))
    samples = parse(await scrape(hub))
    pushed = value(samples, "prasan_push_last_received_timestamp_seconds", system="eplan")
    assert before - 1 <= pushed <= time.time() + 1
    await hub.hub.pulls.pull("eplan", "plan_project")
    assert value(parse(await scrape(hub)), "prasan_push_last_received_timestamp_seconds", system="eplan") == pushed


async def test_readyz_summarises_database_migrations_scheduler_and_cached_plugin_health(
    running_hub: RunningHub,
) -> None:
    hub = running_hub
    answer = await hub.get_json(f"{hub.url}/readyz")
    checks = answer["checks"]
    assert answer["status"] == "ready"
    assert checks["database"] == "ok" and checks["migrations"] == "ok" and checks["scheduler"] == "ok"
    assert checks["plugins"]["status"] == "ok"
    assert set(checks["plugins"]["systems"]) == {"eplan", "elaas", "egp", "gfmis", "ebudget", "sola"}
    assert all(s["ok"] for s in checks["plugins"]["systems"].values())
    assert (await hub.get_json(f"{hub.url}/healthz")) == {"status": "ok"}

    samples = parse(await scrape(hub))
    assert value(samples, "prasan_plugin_up", system="elaas") == 1
    checked = value(samples, "prasan_plugin_health_checked_timestamp_seconds", system="elaas")
    # Scrapes read the cache: no health check runs again while it is fresh.
    for _ in range(3):
        assert value(parse(await scrape(hub)), "prasan_plugin_health_checked_timestamp_seconds", system="elaas") == checked

    # An unreachable system makes the summary degraded, not the hub unready.
    elaas = hub.hub.settings.systems["elaas"]
    hub.hub.systems.reconfigure("elaas", {**elaas, "base_url": "http://127.0.0.1:9"})
    try:
        await hub.hub.plugin_health.refresh()
    finally:
        hub.hub.systems.reconfigure("elaas", elaas)
    response = await hub.http.get(f"{hub.url}/readyz")
    answer = await response.json()
    assert response.status == 200 and answer["checks"]["plugins"]["status"] == "degraded"
    assert answer["checks"]["plugins"]["systems"]["elaas"]["ok"] is False
    assert value(parse(await scrape(hub)), "prasan_plugin_up", system="elaas") == 0


async def test_readyz_is_not_ready_when_migrations_are_behind(running_hub: RunningHub, tmp_path: Path) -> None:
    hub = running_hub
    real = hub.hub.store.head_revision
    hub.hub.store.head_revision = lambda: "a-newer-revision"  # type: ignore[method-assign]
    try:
        async with hub.http.get(f"{hub.url}/readyz") as response:
            answer = await response.json()
    finally:
        hub.hub.store.head_revision = real  # type: ignore[method-assign]
    assert response.status == 503
    assert answer["checks"]["migrations"].endswith("expected a-newer-revision")
