"""A real Prometheus server on 127.0.0.1 scrapes a real hub, evaluates the repository's alert rules,
and answers through its HTTP API while e-LAAS keeps failing.

The rules file Prometheus loads is config/prometheus/alerts.yml with only the `for:` durations cut to
one second (the expressions are the real ones, checked below), so the test needs seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from prasan.testing.simulator import free_port

from core.paths import SHIPPED_CONFIG_DIR
from tests.e2e.conftest import RunningHub
from tests.e2e.test_hub_end_to_end import p02_rows, to_csv
from tests.observability.conftest import prometheus_binary

pytestmark = pytest.mark.e2e

ALERTS = SHIPPED_CONFIG_DIR / "prometheus" / "alerts.yml"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: what is under test here is Prometheus reading the hub, not the database engine."""
    return f"sqlite:///{tmp_path / 'hub.db'}"


def fast_rules(target: Path) -> dict[str, str]:
    """Copy alerts.yml with every `for:` at 1s; returns the expressions by alert name."""
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    exprs = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = "1s"
            exprs[rule["alert"]] = rule["expr"]
    target.write_text(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return exprs


async def poll(what: str, check: Callable[[], Awaitable[Any]], limit_s: float = 40.0) -> Any:
    """Poll until `check` returns something truthy; the limit only stops a broken run from hanging."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting for: {what}")
        await asyncio.sleep(0.25)


async def test_prometheus_scrapes_the_hub_and_fires_alerts_when_elaas_fails(
    running_hub: RunningHub, tmp_path: Path
) -> None:
    binary = prometheus_binary("prometheus")
    hub = running_hub
    hub_port = int(hub.url.rsplit(":", 1)[1])
    rules_file = tmp_path / "alerts.yml"
    exprs = fast_rules(rules_file)
    original = {r["alert"]: r["expr"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]}
    assert exprs == original
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(rules_file)],
        "scrape_configs": [
            {"job_name": "prasan", "metrics_path": "/metrics", "static_configs": [{"targets": [f"127.0.0.1:{hub_port}"]}]}
        ],
    }
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api/v1"
    log_file = (tmp_path / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:

            async def query(expr: str) -> list[dict[str, Any]]:
                try:
                    async with http.get(f"{api}/query", params={"query": expr}) as response:
                        if response.status != 200:
                            return []
                        return (await response.json())["data"]["result"]
                except aiohttp.ClientError:
                    return []  # not listening yet

            async def firing() -> dict[str, dict[str, Any]]:
                async with http.get(f"{api}/alerts") as response:
                    alerts = (await response.json())["data"]["alerts"]
                return {a["labels"]["alertname"]: a for a in alerts if a["state"] == "firing"}

            # The hub is up and scraped, and its series started at zero before anything failed.
            await poll("the first scrape of the hub", lambda: query('up{job="prasan"} == 1'))
            await poll("delivery series at zero", lambda: query('prasan_deliveries_total{destination="elaas"} == 0'))

            # e-LAAS answers 503 to every write: retries, then dead letters once attempts run out. The
            # outage budget is switched off (no 24-hour window, no holding a destination that is down)
            # so that the dead-letter alert can be seen firing within the test.
            hub.hub.settings.delivery.retry_window_s = 0
            hub.hub.settings.delivery.down_after_failures = 0
            fault = {"status": 503, "times": 10_000, "retry_after": 0}
            async with hub.http.post(f"{hub.elaas_url}/_sim/faults", json=fault) as response:
                assert response.status < 300
            status, answer = await hub.post(to_csv(p02_rows(3)), "text/csv; charset=utf-8")
            assert status == 202 and answer["accepted"] == 3

            dead = await poll("dead letters in Prometheus", lambda: query('prasan_dead_letters{destination="elaas"} == 3'))
            assert dead[0]["metric"]["job"] == "prasan"
            exhausted = await poll(
                "exhausted deliveries",
                lambda: query('sum(prasan_deliveries_total{destination="elaas", outcome="exhausted"}) == 3'),
            )
            assert exhausted
            retries = await query('sum(prasan_deliveries_total{destination="elaas", outcome="retry"})')
            assert float(retries[0]["value"][1]) >= 3 * 7  # 8 attempts each: 7 retries, then exhausted
            received = await query('prasan_records_received_total{system="eplan", outcome="changed"}')
            assert float(received[0]["value"][1]) == 3

            alerts = await poll(
                "PrasanDeadLetters and PrasanDestinationFailing firing",
                lambda: _both(firing(), {"PrasanDeadLetters", "PrasanDestinationFailing"}),
            )
            assert alerts["PrasanDeadLetters"]["labels"]["destination"] == "elaas"
            assert float(alerts["PrasanDeadLetters"]["value"]) == 3
            assert alerts["PrasanDestinationFailing"]["labels"]["destination"] == "elaas"
            assert "PrasanHubDown" not in alerts and "PrasanDatabaseUnreachable" not in alerts
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log_file.close()


async def _both(alerts: Awaitable[dict[str, dict[str, Any]]], names: set[str]) -> dict[str, dict[str, Any]] | None:
    found = await alerts
    return found if names <= set(found) else None
