"""PRASAN_ROLE splits one hub into processes sharing a database: scheduler (pulls) and worker (delivery); "api" is the former name of scheduler."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.hub import Hub
from core.settings import HubSettings
from tests.unimportable_plugin import install_unimportable_plugin


@pytest.mark.parametrize(
    ("role", "workers", "scheduler"),
    [("all", True, True), ("scheduler", False, True), ("api", False, True), ("worker", True, False)],
)
async def test_each_role_runs_only_its_part(tmp_path: Path, role: str, workers: bool, scheduler: bool) -> None:
    elaas = {"api_key": "k"}  # the default route delivers to e-LAAS: without its key a worker would refuse to start
    hub = Hub.build(HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", role=role, systems={"elaas": elaas}))
    await hub.start()
    try:
        assert bool(hub.workers) is workers
        assert hub.scheduler_running is scheduler
    finally:
        await hub.stop()


async def test_a_route_to_an_unconfigured_destination_stops_the_start_unless_told_to_hold(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    refused = Hub.build(HubSettings(database_url=url))
    with pytest.raises(ConfigError, match=r"system 'elaas', setting api_key \(Field required\)"):
        await refused.start()

    held = Hub.build(HubSettings(database_url=url, delivery={"hold_unconfigured": True}))
    await held.start()
    try:
        # No worker for e-LAAS: its deliveries wait, unsent, using no attempt.
        assert "elaas" not in {worker.destination for worker in held.workers}
        ready, checks = await held.readiness(wait_for_first_check_s=5)
        assert ready  # the hub still takes data in
        assert checks["plugins"]["status"] == "degraded"
        assert "api_key" in checks["plugins"]["held_destinations"]["elaas"]
        assert checks["plugins"]["systems"]["elaas"]["ok"] is False
        assert "not configured" in checks["plugins"]["systems"]["elaas"]["detail"]
        assert 'prasan_destination_held{destination="elaas",reason="unconfigured"} 1.0' in held.observer.render().decode()
    finally:
        await held.stop()


async def test_a_plugin_that_fails_to_load_is_reported_and_the_rest_of_the_hub_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_unimportable_plugin(monkeypatch, "moe", "prasan_moe")
    hub = Hub.build(HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", systems={"elaas": {"api_key": "k"}}))
    await hub.start()
    try:
        assert hub.workers and hub.registry.names() == ["ebudget", "egp", "elaas", "eplan", "gfmis", "sola"]
        ready, checks = await hub.readiness(wait_for_first_check_s=0)
        assert ready and "prasan_moe" in checks["plugins"]["failed"]["moe"]
        assert 'prasan_plugin_load_failed{plugin="moe",stage="import"} 1.0' in hub.observer.render().decode()
    finally:
        await hub.stop()
