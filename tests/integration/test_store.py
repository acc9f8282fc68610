"""The store against real databases: migrations, ingest, versions, outbox ordering, dead letters."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select

from core.store import (
    CursorUpdate,
    Dead,
    Acknowledged,
    Destination,
    IdempotencyConflict,
    InboundMessage,
    IncomingEntity,
    Retry,
    RowRejection,
    Store,
)
from core.store.migrate import alembic_config
from core.store.schema import api_clients, entity_versions, outbox

T0 = datetime(2025, 10, 1, 8, 0, tzinfo=UTC)


def body(**fields: Any) -> dict[str, Any]:
    return {"org_code": "6340101", "fiscal_year": 2569, "name_th": "โครงการก่อสร้างถนน", **fields}


def entity(external_id: str, row: int = 1, **fields: Any) -> IncomingEntity:
    payload = body(**fields)
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return IncomingEntity(
        row=row,
        entity_type="project",
        external_id=external_id,
        org_code=payload["org_code"],
        fiscal_year=payload["fiscal_year"],
        payload=payload,
        content_hash=digest,
        mapping_version="eplan@1",
    )


def message(payload: bytes = b'{"rows": []}', **kw: Any) -> InboundMessage:
    kw.setdefault("received_at", T0)
    return InboundMessage(system="eplan", payload=payload, media_type="application/json", charset="utf-8", **kw)


def to_gfmis_and_egp(system: str, ent: IncomingEntity) -> list[Destination]:
    return [Destination("gfmis", "plans-to-gfmis", 3), Destination("egp", "plans-to-egp", 5)]


def to_gfmis(system: str, ent: IncomingEntity) -> list[Destination]:
    return [Destination("gfmis", "plans-to-gfmis", 3)]


def ingest(store: Store, *args: Any, **kw: Any) -> Any:
    """Ingest as if it happened at T0, so tests can claim at fixed times."""
    kw.setdefault("now", T0)
    return store.inbox.ingest(*args, **kw)  # noqa


def count(store: Store, table: Any, *where: Any) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def downgrade(store: Store, revision: str) -> None:
    """Take the store's schema back to `revision` (with its data), to test the migration after it."""
    with store.engine.connect() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        conn.commit()
    assert store.current_revision() == revision


def dead_under_a_newer_version(store: Store) -> Any:
    """P-1's version 1 dead-lettered for gfmis while its version 2 is queued there: the dead letter."""
    ingest(store, message(), [entity("P-1", v=1)], [], to_gfmis)
    ingest(store, message(), [entity("P-1", v=2)], [], to_gfmis)
    (v1,) = store.outbox.claim_due("w", now=T0)
    store.outbox.complete([Dead(v1.outbox_id, "400")], now=T0)
    (letter,) = store.outbox.list_dead_letters()
    return letter


# --- migrations ------------------------------------------------------------------------------------


def test_migrations_apply_from_empty_and_report_current(empty_store: Store) -> None:
    assert empty_store.current_revision() is None
    assert not empty_store.is_current()
    empty_store.upgrade()
    assert empty_store.current_revision() == Store.head_revision()
    assert empty_store.is_current()
    empty_store.upgrade()  # a second start-up finds nothing to do
    assert empty_store.is_current()


def test_migrated_schema_matches_table_definitions(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.store.schema import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_sqlite_pragmas(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.store import make_store_url_for_sqlite

    store = Store(make_store_url_for_sqlite(tmp_path / "nested" / "var" / "hub.db"))
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        store.dispose()


# --- ingest ----------------------------------------------------------------------------------------


def test_new_entities_get_version_one_an_xref_and_one_outbox_row_per_destination(store: Store) -> None:
    out = ingest(store, message(), [entity("P-1", 1), entity("P-2", 2)], [], to_gfmis_and_egp)
    assert out.outcome == "accepted"
    assert [(e.row, e.version, e.changed) for e in out.entities] == [(1, 1, True), (2, 1, True)]
    first = out.entities[0]
    assert first.destinations == ("egp", "gfmis")

    view = store.entities.get_entity(first.entity_id)
    assert view is not None
    assert view.version == 1 and view.entity_type == "project" and view.org_code == "6340101"
    assert view.fiscal_year == 2569
    assert view.payload["name_th"] == "โครงการก่อสร้างถนน"
    assert view.xrefs == [{"system": "eplan", "external_id": "P-1"}]
    assert sorted((d.destination, d.version, d.state, d.delivery_key) for d in view.deliveries) == [
        ("egp", 1, "pending", f"egp:{first.entity_id}:1"),
        ("gfmis", 1, "pending", f"gfmis:{first.entity_id}:1"),
    ]
    found = store.entities.find_entity_by_xref("eplan", "project", "P-2")
    assert found is not None and found.entity_id == out.entities[1].entity_id
    assert store.entities.find_entity_by_xref("eplan", "project", "nope") is None

    rows = store.outbox.claim_due("w", now=T0 + timedelta(seconds=1))
    assert {r.received_at for r in rows} == {T0}
    assert all(r.received_at is not None and r.received_at.tzinfo is not None for r in rows)


def test_identical_repeat_creates_no_version_and_no_outbox_row(store: Store) -> None:
    first = ingest(store, message(), [entity("P-1")], [], to_gfmis_and_egp)
    again = ingest(store, message(), [entity("P-1")], [], to_gfmis_and_egp)
    assert again.entities[0].entity_id == first.entities[0].entity_id
    assert again.entities[0].version == 1 and not again.entities[0].changed
    assert again.changed_count == 0
    assert count(store, entity_versions) == 1
    assert count(store, outbox) == 2


def test_changed_content_creates_version_two_and_a_second_outbox_row(store: Store) -> None:
    first = ingest(store, message(), [entity("P-1")], [], to_gfmis)
    second = ingest(store, message(), [entity("P-1", budget="10444000.00")], [], to_gfmis)
    eid = first.entities[0].entity_id
    assert second.entities[0].entity_id == eid
    assert second.entities[0].version == 2 and second.entities[0].changed
    versions = store.entities.entity_versions(eid)
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].payload["budget"] == "10444000.00"
    assert versions[1].message_id == second.message_id and versions[1].mapping_version == "eplan@1"
    view = store.entities.get_entity(eid)
    assert view is not None and view.version == 2 and view.payload["budget"] == "10444000.00"
    assert [d.delivery_key for d in view.deliveries] == [f"gfmis:{eid}:1", f"gfmis:{eid}:2"]


def test_same_external_id_twice_in_one_batch_records_both_versions_in_order(store: Store) -> None:
    out = ingest(store, message(), [entity("P-1", 1, v="a"), entity("P-1", 2, v="b"), entity("P-1", 3, v="b")],
                       [], to_gfmis)
    assert [(e.version, e.changed) for e in out.entities] == [(1, True), (2, True), (2, False)]
    eid = out.entities[0].entity_id
    assert [v.payload["v"] for v in store.entities.entity_versions(eid)] == ["a", "b"]
    view = store.entities.get_entity(eid)
    assert view is not None and view.payload["v"] == "b" and view.version == 2
    assert count(store, outbox) == 2


def test_rejections_and_raw_bytes_are_kept_exactly(store: Store) -> None:
    raw = "ชื่อโครงการ,งบประมาณ\r\nถนน,๑๐๐\r\n".encode("tis-620") + b"\x00\xff\xa0"
    msg = message(raw, idempotency_key="k-1", request_hash="h" * 64, client_name="eplan-push")
    msg.media_type, msg.charset = "text/csv", "tis-620"
    rejections = [
        RowRejection(2, "money.format", "not a number", field="budget", value="๑๐๐x",
                     native_record={"ชื่อโครงการ": "ถนน", "งบประมาณ": "๑๐๐x"}),
        RowRejection(2, "org.unknown", "unknown organisation", field="org_code", value=9999),
        RowRejection(3, "date.impossible", "31 February", field="start", value=None),
    ]
    out = ingest(store, msg, [entity("P-1", 1)], rejections, to_gfmis)
    assert out.outcome == "partial" and len(out.rejected) == 3

    kept = store.inbox.get_message(msg.message_id)
    assert kept is not None
    assert kept.payload == raw
    assert kept.payload_sha256 == hashlib.sha256(raw).hexdigest()
    assert (kept.media_type, kept.charset, kept.client_name) == ("text/csv", "tis-620", "eplan-push")
    assert kept.received_at == T0
    assert (kept.record_count, kept.accepted_count, kept.rejected_count, kept.outcome) == (3, 1, 2, "partial")
    assert [(r.row, r.field, r.value, r.rule) for r in kept.rejections] == [
        (2, "budget", "๑๐๐x", "money.format"),
        (2, "org_code", "9999", "org.unknown"),
        (3, "start", None, "date.impossible"),
    ]
    assert kept.rejections[0].native_record == {"ชื่อโครงการ": "ถนน", "งบประมาณ": "๑๐๐x"}

    assert store.inbox.set_response(msg.message_id, {"accepted": 1})
    replay = store.inbox.find_message_by_idempotency_key("eplan-push", "k-1")
    assert replay is not None and replay.response == {"accepted": 1} and replay.request_hash == "h" * 64
    with pytest.raises(IdempotencyConflict) as info:
        ingest(store, message(idempotency_key="k-1", client_name="eplan-push"), [entity("P-9")], [], to_gfmis)
    assert info.value.message_id == msg.message_id
    assert store.entities.find_entity_by_xref("eplan", "project", "P-9") is None


def test_all_rows_rejected_and_unparseable_payloads(store: Store) -> None:
    out = ingest(store, message(), [], [RowRejection(1, "r", "bad")], to_gfmis)
    assert out.outcome == "rejected"
    failed = message(b"\x89PNG not json")
    store.inbox.record_failed_message(failed, "not valid JSON at byte 0")
    kept = store.inbox.get_message(failed.message_id)
    assert kept is not None and kept.outcome == "failed" and kept.payload == b"\x89PNG not json"
    assert [(r.row, r.rule, r.reason) for r in kept.rejections] == [
        (None, "payload.unreadable", "not valid JSON at byte 0")
    ]


def test_a_large_payload_is_kept_byte_for_byte(store: Store) -> None:
    # Random bytes, so that any byte lost or changed on the way in or out shows.
    payload = random.Random(7).randbytes(3 * 2**20 + 1)
    failed = message(payload)
    store.inbox.record_failed_message(failed, "too large a cell", "payload.cell_too_long")
    kept = store.inbox.get_message(failed.message_id)
    assert kept is not None and kept.outcome == "failed"
    assert kept.payload == payload and kept.payload_sha256 == hashlib.sha256(payload).hexdigest()


def test_cursor_moves_only_with_a_committed_ingest(store: Store) -> None:
    assert store.config.get_cursor("eplan", "project") is None
    ingest(store, message(), [entity("P-1")], [], to_gfmis, CursorUpdate("eplan", "project", "page-1"))
    assert store.config.get_cursor("eplan", "project") == "page-1"

    def broken_router(system: str, ent: IncomingEntity) -> list[Destination]:
        if ent.external_id == "P-3":
            raise RuntimeError("router exploded mid-batch")
        return [Destination("gfmis")]

    msg = message()
    with pytest.raises(RuntimeError):
        ingest(store, msg, [entity("P-2", 1), entity("P-3", 2)], [], broken_router,
                     CursorUpdate("eplan", "project", "page-2"))
    assert store.config.get_cursor("eplan", "project") == "page-1"
    assert store.inbox.get_message(msg.message_id) is None
    assert store.entities.find_entity_by_xref("eplan", "project", "P-2") is None
    assert count(store, outbox) == 1

    store.config.set_cursor("eplan", "project", "page-2")
    assert store.config.get_cursor("eplan", "project") == "page-2"


# --- outbox ----------------------------------------------------------------------------------------


def test_claim_gives_payload_xrefs_and_counts_the_attempt(store: Store) -> None:
    out = ingest(store, message(), [entity("P-1")], [], to_gfmis)
    (item,) = store.outbox.claim_due("w1", now=T0 + timedelta(seconds=1))
    assert item.entity_id == out.entities[0].entity_id and item.version == 1
    assert item.attempts == 1 and item.max_attempts == 3 and item.route == "plans-to-gfmis"
    assert item.payload["name_th"] == "โครงการก่อสร้างถนน"
    assert item.xrefs == {"eplan": "P-1"}
    assert store.outbox.claim_due("w2", now=T0 + timedelta(seconds=2)) == []  # leased, not due


def test_claim_respects_version_order(store: Store) -> None:
    ingest(store, message(), [entity("P-1", v=1)], [], to_gfmis)
    ingest(store, message(), [entity("P-1", v=2)], [], to_gfmis)
    ingest(store, message(), [entity("P-1", v=3)], [], to_gfmis)
    now = T0 + timedelta(seconds=1)

    (first,) = store.outbox.claim_due("w", now=now)
    assert first.version == 1
    assert store.outbox.claim_due("w", now=now) == []  # v2 waits while v1 is in flight
    store.outbox.complete([Retry(first.outbox_id, now + timedelta(seconds=30), "503")], now=now)
    assert store.outbox.claim_due("w", now=now) == []  # ...and while v1 is pending a retry
    (again,) = store.outbox.claim_due("w", now=now + timedelta(seconds=30))
    assert again.version == 1 and again.attempts == 2

    store.outbox.complete([Acknowledged(again.outbox_id, "G-77", now)], now=now)
    (second,) = store.outbox.claim_due("w", now=now + timedelta(seconds=31))
    assert second.version == 2 and second.xrefs == {"eplan": "P-1", "gfmis": "G-77"}

    summary = store.outbox.complete([Dead(second.outbox_id, "400 bad budget code")], now=now)
    assert summary.dead == 1
    (third,) = store.outbox.claim_due("w", now=now + timedelta(seconds=32))
    assert third.version == 3  # a dead version is terminal and no longer holds later ones back


def test_a_claim_reads_past_rows_held_back_by_earlier_versions_to_fill_its_limit(store: Store) -> None:
    # Five entities' version 1 in flight; their version 2, due first, is held back; five other entities'
    # version 1, due later, is what the claim must find behind them.
    ingest(store, message(), [entity(f"A-{i}", i) for i in range(5)], [], to_gfmis)
    in_flight = store.outbox.claim_due("w1", limit=5, now=T0, lease_seconds=600)
    assert len(in_flight) == 5
    ingest(store, message(), [entity(f"A-{i}", i, v=2) for i in range(5)], [], to_gfmis, now=T0 + timedelta(seconds=1))
    ingest(store, message(), [entity(f"B-{i}", i) for i in range(5)], [], to_gfmis, now=T0 + timedelta(seconds=2))
    claimed = store.outbox.claim_due("w2", limit=5, now=T0 + timedelta(seconds=3), destination="gfmis")
    later = {store.entities.find_entity_by_xref("eplan", "project", f"B-{i}").entity_id for i in range(5)}  # type: ignore[union-attr]
    assert {c.entity_id for c in claimed} == later and {c.version for c in claimed} == {1}
    assert store.outbox.claim_due("w3", limit=5, now=T0 + timedelta(seconds=3), destination="gfmis") == []


def test_versions_of_different_entities_and_destinations_do_not_block_each_other(store: Store) -> None:
    ingest(store, message(), [entity("P-1"), entity("P-2", 2)], [], to_gfmis_and_egp)
    ingest(store, message(), [entity("P-1", v=2)], [], to_gfmis_and_egp)
    claimed = store.outbox.claim_due("w", now=T0 + timedelta(seconds=1))
    assert sorted((c.destination, c.version) for c in claimed) == [
        ("egp", 1), ("egp", 1), ("gfmis", 1), ("gfmis", 1)
    ]


def test_expired_claims_are_reclaimed(store: Store) -> None:
    ingest(store, message(), [entity("P-1")], [], to_gfmis)
    (lost,) = store.outbox.claim_due("crashed-worker", now=T0, lease_seconds=60)
    assert store.outbox.claim_due("w2", now=T0 + timedelta(seconds=59)) == []
    (found,) = store.outbox.claim_due("w2", now=T0 + timedelta(seconds=61))
    assert found.outbox_id == lost.outbox_id and found.attempts == 2
    # The crashed worker's late retry must not undo the new lease; its late success still counts.
    late = store.outbox.complete([Retry(lost.outbox_id, T0, "timeout", attempt=lost.attempts)],
                          now=T0 + timedelta(seconds=62))
    assert late.retried == 0 and late.ignored == (lost.outbox_id,)
    late = store.outbox.complete([Dead(lost.outbox_id, "400", attempt=lost.attempts)], now=T0 + timedelta(seconds=62))
    assert late.dead == 0
    store.outbox.complete([Acknowledged(found.outbox_id, None)], now=T0 + timedelta(seconds=63))
    ignored = store.outbox.complete([Acknowledged(found.outbox_id, None)], now=T0 + timedelta(seconds=64))
    assert ignored.ignored == (found.outbox_id,)


def test_retry_beyond_max_attempts_dead_letters_as_exhausted(store: Store) -> None:
    ingest(store, message(), [entity("P-1")], [], to_gfmis)  # max_attempts 3
    now = T0
    for attempt in (1, 2, 3):
        (item,) = store.outbox.claim_due("w", now=now)
        assert item.attempts == attempt
        summary = store.outbox.complete([Retry(item.outbox_id, now + timedelta(seconds=10), f"503 #{attempt}")], now=now)
        now += timedelta(seconds=10)
    assert summary.dead == 1 and summary.retried == 0
    assert store.outbox.claim_due("w", now=now + timedelta(days=1)) == []
    (letter,) = store.outbox.list_dead_letters()
    assert letter.reason.startswith("exhausted") and "503 #3" in letter.reason
    assert letter.attempts == 3 and letter.destination == "gfmis" and letter.resolved_at is None
    stats = {s.destination: s for s in store.outbox.outbox_stats()}
    assert stats["gfmis"].dead == 1 and stats["gfmis"].pending == 0


def test_replay_reuses_the_delivery_key_and_a_second_replay_does_nothing(store: Store) -> None:
    ingest(store, message(), [entity("P-1")], [], to_gfmis)
    (item,) = store.outbox.claim_due("w", now=T0)
    store.outbox.complete([Dead(item.outbox_id, "400 unknown project type")], now=T0)
    (letter,) = store.outbox.list_dead_letters(destination="gfmis")
    assert store.outbox.list_dead_letters(destination="egp") == []

    done = store.outbox.replay_dead_letter(letter.id, "fixed the crosswalk", now=T0 + timedelta(minutes=5))
    assert done.done and done.delivery_key == item.delivery_key
    again = store.outbox.replay_dead_letter(letter.id, now=T0 + timedelta(minutes=6))
    assert not again.done and "already resolved" in again.message
    assert store.outbox.list_dead_letters() == []
    (resolved,) = store.outbox.list_dead_letters(unresolved_only=False)
    assert resolved.resolution == "replayed" and resolved.resolution_note == "fixed the crosswalk"

    (retry,) = store.outbox.claim_due("w", now=T0 + timedelta(minutes=7))
    assert retry.outbox_id == item.outbox_id and retry.delivery_key == item.delivery_key
    assert retry.attempts == 1  # attempts start over
    assert count(store, outbox) == 1


def test_discard_and_stale_replay(store: Store) -> None:
    letter = dead_under_a_newer_version(store)
    refused = store.outbox.replay_dead_letter(letter.id, now=T0)
    assert not refused.done and "version 2 is queued" in refused.message
    discarded = store.outbox.discard_dead_letter(letter.id, "v2 is on its way")
    assert discarded.done
    assert not store.outbox.discard_dead_letter(letter.id).done
    assert not store.outbox.replay_dead_letter(999_999).done
    # (A dead letter superseded by a delivered version is closed on its own: test_outage_budget.py.)


def test_outbox_stats_are_per_destination(store: Store) -> None:
    early = message(received_at=T0 - timedelta(minutes=3))
    ingest(store, early, [entity("P-1"), entity("P-2", 2)], [], to_gfmis_and_egp, now=T0)
    ingest(store, message(), [entity("P-3")], [], to_gfmis, now=T0)
    delivered = [c for c in store.outbox.claim_due("w", now=T0) if c.destination == "egp"]
    store.outbox.complete([Acknowledged(c.outbox_id, None) for c in delivered], now=T0)
    stats = {s.destination: s for s in store.outbox.outbox_stats()}
    assert (stats["egp"].pending, stats["egp"].delivered, stats["egp"].in_flight) == (0, 2, 0)
    assert stats["gfmis"].in_flight == 3 and stats["gfmis"].pending == 0
    store.outbox.complete([Retry(c.outbox_id, T0, "x") for c in store.outbox.claim_due("w", now=T0 + timedelta(hours=1))])
    stats = {s.destination: s for s in store.outbox.outbox_stats()}
    assert stats["gfmis"].pending == 3
    assert stats["gfmis"].oldest_pending_received_at == T0 - timedelta(minutes=3)
    assert stats["gfmis"].oldest_pending_created_at == T0


def test_delivered_external_ids_become_xrefs(store: Store) -> None:
    ingest(store, message(), [entity("P-1"), entity("P-2", 2)], [], to_gfmis)
    a, b = store.outbox.claim_due("w", now=T0)
    summary = store.outbox.complete([Acknowledged(a.outbox_id, "G-1"), Acknowledged(b.outbox_id, "G-1")], now=T0)
    assert summary.delivered == 2 and summary.xref_conflicts == (b.outbox_id,)
    view = store.entities.get_entity(a.entity_id)
    assert view is not None and {"system": "gfmis", "external_id": "G-1"} in view.xrefs
    assert store.entities.find_entity_by_xref("gfmis", "project", "G-1").entity_id == a.entity_id  # type: ignore[union-attr]


# --- API clients ------------------------------------------------------------------------------------


def test_api_client_keys_are_stored_hashed(store: Store) -> None:
    client, key = store.access.add_client("eplan-push", "eplan", allowed_orgs=["6340101"])
    assert key.startswith("prs_") and len(key) > 40
    assert client.key_prefix == key[:8] and client.allowed_orgs == ["6340101"]
    assert client.allowed_provinces is None
    with store.engine.connect() as conn:
        stored = conn.execute(select(api_clients)).one()
    assert key not in [str(v) for v in stored]
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()

    who = store.access.authenticate(key)
    assert who is not None and who.name == "eplan-push" and who.system == "eplan"
    assert store.access.authenticate(key + "x") is None
    assert store.access.authenticate("") is None
    assert [c.name for c in store.access.list_clients()] == ["eplan-push"]
    assert store.access.disable_client("eplan-push")
    assert store.access.authenticate(key) is None


def test_a_record_cannot_move_an_entity_to_another_organisation(store: Store) -> None:
    first = ingest(store, message(), [entity("P-1")], [], to_gfmis)
    moved = ingest(store, message(), [entity("P-1", org_code="5400103", name_th="hijacked")], [], to_gfmis)
    assert moved.entities == []
    [rejection] = moved.rejected
    assert (rejection.rule, rejection.field, rejection.value) == ("entity.owner_changed", "org_code", "5400103")
    view = store.entities.get_entity(first.entities[0].entity_id)
    assert view is not None and view.version == 1 and view.org_code == "6340101"
    assert count(store, outbox) == 1


def test_the_answer_is_stored_with_the_message_in_one_transaction(store: Store) -> None:
    outcome = ingest(
        store, message(idempotency_key="k-1", client_name="c"), [entity("P-1")], [], to_gfmis,
        respond=lambda result: {"accepted": len(result.entities), "message_id": result.message_id},
    )
    stored = store.inbox.find_message_by_idempotency_key("c", "k-1")
    assert stored is not None and stored.response == {"accepted": 1, "message_id": outcome.message_id}
