"""The outage budget in the store (first failure, retries past max_attempts while the window lasts),
superseded dead letters closed on delivery, by the sweep and by migration 0004, and a bulk replay that
runs to the end. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from core.admin.operations import replay_many
from core.store import Acknowledged, Dead, Destination, Retry, Store
from core.store import outbox as outbox_module
from core.store.records import GiveBack
from core.store.schema import dead_letters, outbox
from tests.integration.test_store import T0, downgrade, entity, ingest, message, to_gfmis

DAY = 86_400.0


def first_failed(store: Store) -> list:
    with store.engine.connect() as conn:
        return list(conn.execute(select(outbox.c.first_failed_at).order_by(outbox.c.id)).scalars())


def test_a_retry_past_max_attempts_is_kept_while_the_window_lasts(store: Store) -> None:
    ingest(store, message(), [entity("P-1")], [], to_gfmis)  # max_attempts 3
    now = T0
    (item,) = store.outbox.claim_due("w", now=now)
    assert item.first_failed_at is None
    store.outbox.complete([GiveBack(item.outbox_id, now, "lease", attempt=item.attempts)], now=now)
    assert first_failed(store) == [None]  # handed back unsent: no failure, no window started
    for attempt in range(1, 11):  # far past the route's 3 attempts
        now = T0 + timedelta(hours=2 * attempt)
        (item,) = store.outbox.claim_due("w", now=now)
        assert item.attempts == attempt and item.first_failed_at == (None if attempt == 1 else T0 + timedelta(hours=2))
        summary = store.outbox.complete(
            [Retry(item.outbox_id, now, f"503 #{attempt}", attempt=item.attempts, retry_window_s=DAY)], now=now
        )
        assert summary.retried == 1 and summary.dead == 0
    assert first_failed(store) == [T0 + timedelta(hours=2)]

    now = T0 + timedelta(hours=2) + timedelta(seconds=DAY)
    (item,) = store.outbox.claim_due("w", now=now)
    last = Retry(item.outbox_id, now, "503 #11", attempt=item.attempts, retry_window_s=DAY)
    summary = store.outbox.complete([last], now=now)
    assert summary.dead == 1
    (letter,) = store.outbox.list_dead_letters()
    assert letter.reason == "exhausted after 11 attempts: 503 #11"

    assert store.outbox.replay_dead_letter(letter.id, now=now).done
    assert first_failed(store) == [None]  # a replay gets a whole new budget


def test_a_delivered_newer_version_closes_the_older_dead_letter(store: Store) -> None:
    to_both = lambda s, e: [Destination("gfmis", "r", 3), Destination("egp", "r", 3)]  # noqa: E731
    ingest(store, message(), [entity("P-1", v=1), entity("P-2", 2)], [], to_both)
    ingest(store, message(), [entity("P-1", v=2)], [], to_both)
    first = store.outbox.claim_due("w", now=T0)
    assert sorted((c.destination, c.version) for c in first) == [("egp", 1), ("egp", 1), ("gfmis", 1), ("gfmis", 1)]
    p1 = {c.destination: c for c in first if c.payload.get("v") == 1}
    others = [c for c in first if c.payload.get("v") != 1]
    store.outbox.complete([Dead(c.outbox_id, "rejected: 400") for c in p1.values()], now=T0)
    store.outbox.complete([Acknowledged(c.outbox_id, None) for c in others], now=T0)
    assert len(store.outbox.list_dead_letters()) == 2
    assert store.gauge_snapshot().unresolved_dead_letters == {"gfmis": 1, "egp": 1}

    later = T0 + timedelta(minutes=5)
    (v2_gfmis,) = [c for c in store.outbox.claim_due("w", now=later) if c.destination == "gfmis"]
    assert v2_gfmis.version == 2
    store.outbox.complete([Acknowledged(v2_gfmis.outbox_id, None, at=later)], now=later)

    (still_open,) = store.outbox.list_dead_letters()
    assert still_open.destination == "egp"  # version 2 has not reached egp yet: its dead letter stays
    (closed,) = [d for d in store.outbox.list_dead_letters(unresolved_only=False) if d.resolved_at is not None]
    assert closed.destination == "gfmis" and closed.version == 1 and closed.resolution == "superseded"
    assert closed.resolution_note == f"superseded by version 2 delivered at {later.isoformat()}"
    assert store.gauge_snapshot().unresolved_dead_letters == {"egp": 1}
    assert not store.outbox.replay_dead_letter(closed.id).done  # already resolved


def _superseded_but_open(store: Store) -> int:
    """v1 dead, v2 delivered, and the dead letter open again, as the hub left it before this change."""
    ingest(store, message(), [entity("P-1", v=1)], [], to_gfmis)
    ingest(store, message(), [entity("P-1", v=2)], [], to_gfmis)
    (v1,) = store.outbox.claim_due("w", now=T0)
    store.outbox.complete([Dead(v1.outbox_id, "400")], now=T0)
    (v2,) = store.outbox.claim_due("w", now=T0)
    store.outbox.complete([Acknowledged(v2.outbox_id, None, at=T0)], now=T0)
    with store.engine.begin() as conn:
        conn.execute(update(dead_letters).values(resolved_at=None, resolution=None, resolution_note=None))
    (letter,) = store.outbox.list_dead_letters()
    return letter.id


def test_the_sweep_closes_superseded_dead_letters_left_open(store: Store) -> None:
    letter_id = _superseded_but_open(store)
    ingest(store, message(), [entity("P-9", 9)], [], to_gfmis)  # a dead letter nothing supersedes
    (p9,) = store.outbox.claim_due("w", now=T0)
    store.outbox.complete([Dead(p9.outbox_id, "400")], now=T0)
    with store.engine.begin() as conn:
        assert outbox_module.close_superseded_dead_letters(conn, T0, destination="egp") == 0
        assert outbox_module.close_superseded_dead_letters(conn, T0) == 1
        assert outbox_module.close_superseded_dead_letters(conn, T0) == 0  # idempotent
    letter = store.outbox.get_dead_letter(letter_id)
    assert letter.resolution == "superseded" and letter.resolution_note.startswith("superseded by version 2")
    assert [d.entity_id for d in store.outbox.list_dead_letters()] == [p9.entity_id]


def test_migration_0004_upgrades_from_0003_and_closes_superseded_dead_letters(store: Store) -> None:
    letter_id = _superseded_but_open(store)
    downgrade(store, "0003_pull_last_success")
    store.upgrade()
    assert store.is_current()
    letter = store.outbox.get_dead_letter(letter_id)
    assert letter.resolution == "superseded" and "version 2" in letter.resolution_note
    assert first_failed(store) == [None, None]


async def test_bulk_replay_pages_to_the_end_and_counts(store: Store) -> None:
    ingest(store, message(), [entity(f"P-{i}", i) for i in range(1, 12)], [], to_gfmis)
    ingest(store, message(), [entity("P-3", 3, v=2), entity("P-7", 7, v=2)], [], to_gfmis)  # newer versions queued
    claimed = store.outbox.claim_due("w", now=T0)
    assert len(claimed) == 11
    store.outbox.complete([Dead(c.outbox_id, "rejected: 400") for c in claimed], now=T0)
    assert len(store.outbox.list_dead_letters(limit=1000)) == 11

    summary = await replay_many(store, {"destination": "gfmis"}, "test", "after the fix", page_size=3)
    assert (summary.matched, summary.replayed, summary.skipped) == (11, 9, 2)
    refused = [r for r in summary if not r.done]
    assert len(refused) == 2 and all("version 2 is queued" in r.message for r in refused)
    assert len(store.outbox.list_dead_letters()) == 2

    again = await replay_many(store, {"destination": "gfmis"}, "test", None, page_size=3)
    assert (again.matched, again.replayed, again.skipped) == (2, 0, 2)
    capped = await replay_many(store, {"destination": "gfmis"}, "test", None, 1, page_size=3)
    assert capped.matched == 1
    assert (await replay_many(store, {"destination": "egp"}, "test")).matched == 0
