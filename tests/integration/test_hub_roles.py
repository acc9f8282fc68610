"""PRASAN_ROLE splits one hub into processes sharing a database: api (scheduler) and worker (delivery)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.hub import Hub
from core.settings import HubSettings


@pytest.mark.parametrize(
    ("role", "workers", "scheduler"),
    [("all", True, True), ("api", False, True), ("worker", True, False)],
)
async def test_each_role_runs_only_its_part(tmp_path: Path, role: str, workers: bool, scheduler: bool) -> None:
    hub = Hub(HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", role=role))
    await hub.start()
    try:
        assert bool(hub.workers) is workers
        assert hub.scheduler_running is scheduler
    finally:
        await hub.stop()
