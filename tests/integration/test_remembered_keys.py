"""A verified API key is answered from memory for REMEMBER_KEY_S (core/store/repos/access.py), against the
real store on SQLite and PostgreSQL: a key disabled, rescoped or replaced through the same store stops
at once; through another store on the same database (another process) within REMEMBER_KEY_S."""

from __future__ import annotations

import pytest

from core.store import Store
from core.store.repos import access


def test_a_key_changed_through_this_store_is_not_answered_from_memory(store: Store) -> None:
    client, key = store.access.add_client("amphoe", "eplan")
    assert store.access.authenticate(key) == client
    assert store.access.remembered(key) == client

    store.access.disable_client("amphoe")
    assert store.access.remembered(key) is None
    assert store.access.authenticate(key) is None

    store.access.disable_client("amphoe", False)
    assert store.access.authenticate(key) is not None
    rescoped = store.access.update_client("amphoe", {"allowed_orgs": ["6500101"]}, actor="test")
    assert rescoped is not None
    assert store.access.remembered(key) is None
    found = store.access.authenticate(key)
    assert found is not None and found.allowed_orgs == ["6500101"]

    _, new_key = store.access.replace_client_key("amphoe", "eplan")
    assert store.access.authenticate(key) is None
    assert store.access.authenticate(new_key) is not None


def test_a_key_disabled_by_another_process_stops_within_the_bound(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    client, key = store.access.add_client("tambon", "eplan")
    now = [1000.0]
    monkeypatch.setattr(access.time, "monotonic", lambda: now[0])
    assert store.access.authenticate(key) == client
    other = Store(store.url)  # another process's view of the same database
    try:
        assert other.access.disable_client("tambon")
    finally:
        other.dispose()
    now[0] += access.REMEMBER_KEY_S / 2
    assert store.access.authenticate(key) == client  # still remembered: the documented bound
    now[0] += access.REMEMBER_KEY_S
    assert store.access.authenticate(key) is None


def test_unknown_and_disabled_keys_are_not_remembered(store: Store) -> None:
    _, key = store.access.add_client("khet", "eplan")
    store.access.disable_client("khet")
    assert store.access.authenticate(key) is None
    assert store.access.remembered(key) is None
    assert store.access.authenticate("prs_not-a-key") is None
    assert store.access.remembered("prs_not-a-key") is None
    assert store.access.remembered("ไม่ใช่กุญแจ") is None
