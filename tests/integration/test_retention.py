"""Retention (core/store/retention.py) on SQLite and PostgreSQL: old delivered rows and old payloads go,
everything still needed stays, whatever its age; the hub job counts what it purged; the CLI runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from core.metrics import HubMetrics
from core.store import Store
from core.store.retention import purge
from core.store.inbox.payloads import messages_with_payload
from core.store.schema import (
    dead_letters, entities, entity_versions, inbox_messages, inbox_payloads, inbox_rejections, outbox,
)
from prasan.cli import main

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def eid(name: str) -> str:
    return name.ljust(32, "0")


def message(name: str, days: float) -> dict[str, Any]:
    return {
        "message_id": eid(name), "system": "eplan", "client_name": "c", "received_at": ago(days),
        "media_type": "text/csv", "charset": "utf-8", "payload_sha256": "a" * 64, "idempotency_key": f"key-{name}", "request_hash": None,
        "response_json": f'{{"message": "{name}"}}', "record_count": 1, "accepted_count": 1,
        "rejected_count": 0, "outcome": "accepted",
    }


def delivery(row_id: int, entity: str, version: int, state: str, days: float) -> dict[str, Any]:
    return {
        "id": row_id, "delivery_key": f"elaas:{eid(entity)}:{version}", "destination": "elaas", "route": "r",
        "entity_id": eid(entity), "entity_type": "plan_project", "version": version, "state": state,
        "attempts": 1, "max_attempts": 8, "next_attempt_at": ago(days), "created_at": ago(days + 1),
        "delivered_at": ago(days) if state == "delivered" else None,
    }


def letter(letter_id: int, row_id: int, entity: str, version: int, resolved: bool) -> dict[str, Any]:
    return {
        "id": letter_id, "outbox_id": row_id, "delivery_key": f"elaas:{eid(entity)}:{version}", "destination": "elaas",
        "entity_id": eid(entity), "entity_type": "plan_project", "version": version, "reason": "422",
        "attempts": 8, "created_at": ago(150), "resolved_at": ago(140) if resolved else None,
        "resolution": "replayed" if resolved else None,
    }


# Entities: name -> current version.
ENTITIES = {"a": 2, "b": 2, "c": 2, "d": 1, "e": 1, "f": 1, "g": 1}
DELIVERIES = [
    delivery(1, "a", 1, "delivered", 100),  # superseded and old: goes
    delivery(2, "a", 2, "delivered", 95),  # old, nothing open for the entity: goes
    delivery(3, "b", 1, "delivered", 100),  # old, but version 2 is still pending: stays
    delivery(4, "b", 2, "pending", 100),  # never purged
    delivery(5, "c", 1, "delivered", 100),  # old, but version 2 is an open dead letter: stays
    delivery(6, "c", 2, "dead", 100),
    delivery(7, "d", 1, "delivered", 100),  # old, but a (resolved) dead letter refers to it: stays
    delivery(8, "e", 1, "delivered", 10),  # young: stays
    delivery(9, "f", 1, "dead", 200),  # dead, resolved: never purged
    delivery(10, "g", 1, "in_flight", 200),  # open: never purged
]
LETTERS = [letter(1, 6, "c", 2, resolved=False), letter(2, 7, "d", 1, resolved=True), letter(3, 9, "f", 1, resolved=True)]
MESSAGES = [
    message("m-superseded", 400),  # source of a version 1 only: goes
    message("m-current", 400),  # source of a's version 2, in force: stays
    message("m-failed", 400),  # no version at all (an unreadable payload): goes
    message("m-young", 10),  # stays
]
VERSIONS = [("a", 1, "m-superseded"), ("a", 2, "m-current"), ("e", 1, "m-young")]


def fill(store: Store) -> None:
    def work(conn: Any) -> None:
        conn.execute(insert(inbox_messages), MESSAGES)
        conn.execute(insert(inbox_payloads), [
            {"message_id": m["message_id"], "payload": f"payload of {m['message_id'].rstrip('0')}".encode()} for m in MESSAGES
        ])
        conn.execute(insert(inbox_rejections), [
            {"message_id": eid("m-superseded"), "row": 2, "field": "f", "value": "v", "rule": "money.separator",
             "reason": "r", "native_record": '{"row": 2}'},
        ])
        conn.execute(insert(entities), [
            {"entity_id": eid(name), "entity_type": "plan_project", "org_code": None, "fiscal_year": None,
             "current_version": version, "content_hash": "h", "created_at": ago(300), "updated_at": ago(300)}
            for name, version in ENTITIES.items()
        ])
        conn.execute(insert(entity_versions), [
            {"entity_id": eid(name), "version": version, "content_hash": "h", "payload": "{}",
             "message_id": eid(source), "source_system": "eplan", "created_at": ago(300)}
            for name, version, source in VERSIONS
        ])
        conn.execute(insert(outbox), DELIVERIES)
        conn.execute(insert(dead_letters), LETTERS)

    store.write(work)


def outbox_ids(store: Store) -> set[int]:
    return set(store.read(lambda conn: conn.execute(select(outbox.c.id)).scalars().all()))


def payloads(store: Store) -> dict[str, tuple[bytes, datetime | None, str | None]]:
    def work(conn: Any) -> dict[str, tuple[bytes, datetime | None, str | None]]:
        rows = conn.execute(messages_with_payload())
        return {r.message_id.rstrip("0"): (bytes(r.payload), r.payload_purged_at, r.response_json) for r in rows}

    return store.read(work)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'retention.db'}" if request.param == "sqlite" else request.getfixturevalue(
        "postgres_schema_url"
    )
    store = Store(url)
    store.upgrade()
    fill(store)
    yield store
    store.dispose()


def test_old_delivered_rows_and_payloads_go_and_what_is_needed_stays(store: Store) -> None:
    result = purge(store, NOW, outbox_delivered_days=30, inbox_payload_days=90, batch=1)  # batch by batch
    assert (result.outbox_rows, result.inbox_payloads) == (2, 2)
    assert outbox_ids(store) == {3, 4, 5, 6, 7, 8, 9, 10}
    kept = payloads(store)
    stored = set(store.read(lambda conn: conn.execute(select(inbox_payloads.c.message_id)).scalars().all()))
    assert stored == {eid("m-current"), eid("m-young")}  # the purged bytes are gone from the database
    for gone in ("m-superseded", "m-failed"):
        payload, purged_at, response = kept[gone]
        assert payload == b"" and purged_at == NOW
        assert response is not None  # an idempotent retry is still answered as the first time
    for stays in ("m-current", "m-young"):
        assert kept[stays][0] == f"payload of {stays}".encode() and kept[stays][1] is None
    # The rejection of a purged payload keeps its native record, to be fixed and replayed.
    view = store.inbox.get_message(eid("m-superseded"))
    assert view is not None and view.payload_purged_at == NOW and view.rejections[0].native_record == {"row": 2}
    # The open dead letter still sees which version was delivered before it.
    assert [d.delivery_key for d in store.outbox.list_dead_letters()] == [f"elaas:{eid('c')}:2"]

    again = purge(store, NOW, outbox_delivered_days=30, inbox_payload_days=90, batch=1)
    assert (again.outbox_rows, again.inbox_payloads) == (0, 0)


def test_an_age_of_none_keeps_that_kind(store: Store) -> None:
    result = purge(store, NOW, outbox_delivered_days=None, inbox_payload_days=None)
    assert (result.outbox_rows, result.inbox_payloads) == (0, 0)
    assert len(outbox_ids(store)) == len(DELIVERIES)
    # Once the young rows are old enough too, they go as well.
    later = purge(store, NOW + timedelta(days=365), outbox_delivered_days=30, inbox_payload_days=None)
    assert later.outbox_rows == 3 and 8 not in outbox_ids(store)


def test_the_cli_runs_retention_with_the_configured_ages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = Store(url)
    db.upgrade()
    fill(db)  # dated in 2026-06: by now (or any later day) everything old is older than a day
    monkeypatch.setenv("PRASAN_DATABASE_URL", url)
    monkeypatch.setenv("PRASAN_RETENTION__INBOX_PAYLOAD_DAYS", "1")
    assert main(["retention", "run", "--outbox-days", "1"]) == 0
    out = capsys.readouterr().out
    assert "purged 3 delivered outbox rows" in out and "2 inbox payloads" in out
    assert outbox_ids(db) == {3, 4, 5, 6, 7, 9, 10}
    db.dispose()


def test_the_hub_counts_what_retention_purged(tmp_path: Path) -> None:
    from core.hub import Hub
    from core.settings import HubSettings

    hub = Hub.build(HubSettings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}", scheduler_enabled=False,
        retention={"outbox_delivered_days": 1, "inbox_payload_days": None},
    ))
    hub.store.upgrade()
    fill(hub.store)
    assert hub.purge_expired().outbox_rows == 3
    assert isinstance(hub.observer, HubMetrics)
    text = hub.observer.render().decode()
    assert 'prasan_retention_purged_total{kind="outbox_rows"} 3.0' in text
    assert 'prasan_retention_purged_total{kind="inbox_payloads"} 0.0' in text
    hub.store.dispose()


async def test_the_scheduler_leader_runs_retention_at_its_interval(tmp_path: Path) -> None:
    from core.hub import Hub
    from core.settings import HubSettings

    hub = Hub.build(HubSettings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}", retention={"interval_s": 600},
        delivery={"hold_unconfigured": True},
    ))
    await hub.start(workers=False)
    try:
        assert hub.leadership is not None and hub.leadership.leader
        job = hub.scheduler.get_job("retention") if hub.scheduler else None
        assert job is not None and job.trigger.interval == timedelta(seconds=600)
        fill(hub.store)  # dated in 2026-06: by now the old rows are past the default ages (90 and 365 days)
        await job.func()  # what the scheduler runs
        assert outbox_ids(hub.store) == {3, 4, 5, 6, 7, 9, 10}
        assert {name for name, (payload, _, _) in payloads(hub.store).items() if payload == b""} == {"m-superseded", "m-failed"}
    finally:
        await hub.stop()
