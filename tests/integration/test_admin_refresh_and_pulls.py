"""System URL changes reach every hub process; a stored URL off the allow-list is not applied; the
last successful pull moves only when a pull succeeds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.hub import Hub
from core.settings import HubSettings, SecuritySettings
from core.store import Store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return request.getfixturevalue("postgres_schema_url")


def _settings(url: str, allowlist: list[str]) -> HubSettings:
    return HubSettings(
        database_url=url,
        scheduler_enabled=False,
        role="scheduler",
        destination_url_allowlist=allowlist,
        security=SecuritySettings(route_refresh_s=0.05),
        systems={"elaas": {"base_url": "http://127.0.0.1:9001", "api_key": "k"}},
    )


async def test_a_url_changed_in_one_process_reaches_another_after_its_refresh(shared_url: str) -> None:
    allow = ["http://127.0.0.1"]
    one, two = Hub.build(_settings(shared_url, allow)), Hub.build(_settings(shared_url, allow))
    await one.start()
    await two.start()
    try:
        one.admin.system_urls.set("elaas", "http://127.0.0.1:9002", actor="test")
        assert one.settings.systems["elaas"]["base_url"] == "http://127.0.0.1:9002"
        assert one.systems.get("elaas").settings.base_url == "http://127.0.0.1:9002"  # the running system too
        deadline = asyncio.get_running_loop().time() + 10
        while two.settings.systems["elaas"]["base_url"] != "http://127.0.0.1:9002":
            assert asyncio.get_running_loop().time() < deadline, "the second hub never picked up the URL"
            await asyncio.sleep(0.05)
    finally:
        await two.stop()
        await one.stop()


async def test_a_stored_url_no_longer_on_the_allow_list_is_not_applied(shared_url: str) -> None:
    first = Hub.build(_settings(shared_url, ["http://127.0.0.1", "http://10.0.0.5"]))
    await first.start()
    first.admin.system_urls.set("elaas", "http://10.0.0.5:8080", actor="test")
    await first.stop()

    narrowed = Hub.build(_settings(shared_url, ["http://127.0.0.1"]))  # 10.0.0.5 was taken off the list
    await narrowed.start()
    try:
        assert narrowed.settings.systems["elaas"]["base_url"] == "http://127.0.0.1:9001"  # the configured one
        assert narrowed.systems.get("elaas").settings.base_url == "http://127.0.0.1:9001"
    finally:
        await narrowed.stop()


def test_last_success_moves_only_when_a_pull_succeeds(store: Store) -> None:
    store.config.set_cursor("eplan", "plan_project", "page-1")
    assert ("eplan", "plan_project") not in store.gauge_snapshot().last_pulled_at  # a cursor is not a pull
    store.config.mark_pulled("eplan", "plan_project")
    succeeded = store.gauge_snapshot().last_pulled_at[("eplan", "plan_project")]

    # The next pull ingests its first page (the cursor moves) and then fails: no mark_pulled.
    store.config.set_cursor("eplan", "plan_project", "page-2")
    # An operator edits the cursor, too.
    store.config.set_cursor("eplan", "plan_project", "page-1", actor="token:ops")
    assert store.gauge_snapshot().last_pulled_at[("eplan", "plan_project")] == succeeded

    store.config.mark_pulled("eplan", "plan_project")
    assert store.gauge_snapshot().last_pulled_at[("eplan", "plan_project")] > succeeded
