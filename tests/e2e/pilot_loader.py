"""The pilot's scenario (prasan/cli/pilot.py) loaded into a running test hub, as `prasan pilot` plays it
against the demo: for tests that need its records in place rather than the steps themselves."""

from __future__ import annotations

import asyncio

from prasan.cli import pilot
from tests.e2e.conftest import RunningHub


async def load_pilot(hub: RunningHub) -> str:
    """Play the scenario; returns the plan project's id."""
    clients = {"eplan": hub.eplan_key}
    for system in ("ebudget", "egp", "gfmis"):
        _, clients[system] = await asyncio.to_thread(hub.hub.store.access.add_client, f"pilot-{system}", system)
    demo = {
        "hub_url": hub.url,
        "admin_token": hub.admin_token,
        "clients": clients,
        "simulators": {"ebudget": hub.hub.settings.systems["ebudget"]["base_url"]},
    }
    chain = await asyncio.to_thread(pilot.run, demo, lambda *_: None)
    await hub.wait_until(hub.settled, "the scenario's deliveries settled")
    return str(chain["root"]["id"])
