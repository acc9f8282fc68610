"""prasan_pull_interval_seconds comes only from a process whose scheduler runs the pulls, so that a
process without one cannot make PrasanSystemNotSynced's "never pulled" branch fire."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningHub

SCHEDULES = {"eplan": {"interval_s": 60, "entity_type": "plan_project"}}


@pytest.mark.hub_settings(pull_schedules=SCHEDULES)
async def test_a_process_without_a_scheduler_exports_no_pull_interval(running_hub: RunningHub) -> None:
    assert not running_hub.hub.scheduler_running
    async with running_hub.http.get(f"{running_hub.url}/metrics") as response:
        text = await response.text()
    assert "prasan_database_up 1.0" in text
    samples = [line for line in text.splitlines() if line.startswith("prasan_pull_interval_seconds")]
    assert samples == []
