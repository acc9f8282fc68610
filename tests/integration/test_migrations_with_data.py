"""Upgrading a database that holds data: for every earlier revision, the schema is created at that
revision, filled with representative rows of every table that exists there, upgraded to head, and every
value written is read back unchanged; what a migration fills in for old rows is checked too. On SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, inspect, insert, select

from core.store import Store
from core.store.migrate import alembic_config
from core.store.schema import metadata

T0 = datetime(2025, 10, 1, 8, 30, tzinfo=UTC)
E1, E2 = "e" * 31 + "1", "e" * 31 + "2"
M1 = "m" * 31 + "1"


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# Rows of every table, with every column any revision has; at a revision, each row is written with the
# columns that exist there. Representative: open, delivered and dead deliveries, an open dead letter, a
# payload with a rejection and an idempotent answer, a versioned entity with a cross-reference.
SEEDS: dict[str, list[dict[str, Any]]] = {
    "inbox_messages": [
        {"message_id": M1, "system": "eplan", "client_name": "c1", "received_at": _at(0), "media_type": "text/csv",
         "charset": "utf-8", "payload": "ที่,ชื่อ\n1,ถนน\n".encode(), "payload_sha256": "a" * 64,
         "idempotency_key": "k-1", "request_hash": "b" * 64, "response_json": '{"accepted": 1}',
         "record_count": 2, "accepted_count": 1, "rejected_count": 1, "outcome": "accepted"},
    ],
    "inbox_rejections": [
        {"id": 7, "message_id": M1, "row": 2, "field": "งบประมาณ", "value": "12,34,5", "rule": "money.separator",
         "reason": "thousands separators", "native_record": '{"ที่": "2"}'},
    ],
    "entities": [
        {"entity_id": E1, "entity_type": "plan_project", "org_code": "5500101", "fiscal_year": 2567,
         "current_version": 2, "content_hash": "h2", "created_at": _at(1), "updated_at": _at(2)},
        {"entity_id": E2, "entity_type": "budget_line", "org_code": None, "fiscal_year": None,
         "current_version": 1, "content_hash": "h9", "created_at": _at(1), "updated_at": _at(1)},
    ],
    "entity_versions": [
        {"entity_id": E1, "version": 1, "content_hash": "h1", "payload": '{"title": "ถนน"}', "message_id": M1,
         "source_system": "eplan", "mapping_version": "1", "created_at": _at(1)},
        {"entity_id": E1, "version": 2, "content_hash": "h2", "payload": '{"title": "ถนน คสล."}', "message_id": M1,
         "source_system": "eplan", "mapping_version": "1", "created_at": _at(2)},
        {"entity_id": E2, "version": 1, "content_hash": "h9", "payload": "{}", "message_id": None,
         "source_system": "ebudget", "mapping_version": None, "created_at": _at(1)},
    ],
    "xrefs": [{"entity_id": E1, "system": "elaas", "entity_type": "plan_project", "external_id": "X-1"}],
    "outbox": [
        {"id": 11, "delivery_key": f"elaas:{E1}:1", "destination": "elaas", "route": "r", "entity_id": E1,
         "entity_type": "plan_project", "version": 1, "state": "delivered", "attempts": 1, "max_attempts": 8,
         "next_attempt_at": _at(1), "claimed_by": None, "claim_expires_at": None, "last_error": None,
         "received_at": _at(3), "delivered_at": _at(3), "created_at": _at(1), "first_failed_at": None},
        {"id": 12, "delivery_key": f"elaas:{E1}:2", "destination": "elaas", "route": "r", "entity_id": E1,
         "entity_type": "plan_project", "version": 2, "state": "dead", "attempts": 8, "max_attempts": 8,
         "next_attempt_at": _at(9), "claimed_by": None, "claim_expires_at": None, "last_error": "422",
         "received_at": None, "delivered_at": None, "created_at": _at(2), "first_failed_at": _at(4)},
        {"id": 13, "delivery_key": f"gfmis:{E2}:1", "destination": "gfmis", "route": None, "entity_id": E2,
         "entity_type": "budget_line", "version": 1, "state": "in_flight", "attempts": 2, "max_attempts": 8,
         "next_attempt_at": _at(5), "claimed_by": "host:1:abc", "claim_expires_at": _at(6),
         "last_error": "timeout", "received_at": None, "delivered_at": None, "created_at": _at(1),
         "first_failed_at": _at(4)},
    ],
    "dead_letters": [
        {"id": 21, "outbox_id": 12, "delivery_key": f"elaas:{E1}:2", "destination": "elaas", "entity_id": E1,
         "entity_type": "plan_project", "version": 2, "reason": "rejected by elaas: 422", "attempts": 8,
         "created_at": _at(9), "resolved_at": None, "resolution": None, "resolution_note": None},
    ],
    "pull_cursors": [
        {"system": "gfmis", "entity_type": "budget_line", "cursor": '{"page": 3}', "updated_at": _at(7),
         "last_success_at": _at(7)},
    ],
    "api_clients": [
        {"client_id": "c" * 32, "name": "c1", "system": "eplan", "key_hash": "d" * 64, "key_prefix": "prs_abc",
         "created_at": _at(0), "disabled": False, "allowed_orgs": '["5500101"]', "allowed_provinces": None,
         "hmac_secret": None},
    ],
    "admin_tokens": [
        {"token_id": "t" * 32, "name": "ops", "role": "admin", "token_hash": "f" * 64, "token_prefix": "prsadm_x",
         "created_at": _at(0), "disabled": False},
    ],
    "audit_log": [
        {"id": 31, "at": _at(8), "actor": "token:ops", "action": "route.pause", "target": "r",
         "before_json": "{}", "after_json": '{"paused": true}', "detail": None},
    ],
    "used_signatures": [{"signature": "s" * 64, "client_id": "c" * 32, "expires_at": _at(10)}],
    "config_overrides": [
        {"kind": "route", "name": "r", "value_json": '{"enabled": true}', "updated_at": _at(8), "updated_by": "ops"},
    ],
    "entity_links": [
        {"from_id": E2, "to_id": E1, "from_type": "budget_line", "to_type": "plan_project", "rule": "project_code",
         "evidence_json": '{"code": "P-1"}', "made_by": "hub", "note": None, "at": _at(9), "removed_at": None,
         "removed_by": None},
    ],
    "link_keys": [{"key": "project_code", "value": "P-1", "entity_id": E1}],
    "unlinked_records": [
        {"entity_id": E2, "entity_type": "budget_line", "system": "ebudget", "org_code": None, "fiscal_year": None,
         "reason": "no_match", "detail": "no project P-2", "evaluated_at": _at(9)},
    ],
    "link_wanted": [{"entity_id": E2, "key": "project_code", "value": "P-2"}],
    "identity_keys": [{"key": "plan_project.code", "value": "5500101\x1fP-1", "entity_id": E1}],
    "entity_conflicts": [
        {"conflict_id": 41, "entity_id": E1, "field": "budget_by_year", "system": "sola", "offered_json": "[]",
         "kept_by": "eplan", "kept_json": '[{"fiscal_year": 2567, "amount": "10.00"}]', "message_id": M1, "at": _at(9)},
    ],
    "ledger_projects": [
        {"entity_id": E1, "fiscal_year": 2567, "org_code": "5500101", "org_type": "subdistrict_municipality",
         "province_code": "55", "district_code": "5501", "title": "ถนน คสล.", "programme": "แผนงานเคหะและชุมชน",
         "stage": "budgeted", "planned": 1000, "budgeted": 1000, "requested": 0, "approved": 0, "procured": 0,
         "contracted": 0, "disbursed": 0, "flags": 0, "updated_at": _at(9)},
    ],
    "ledger_categories": [
        {"entity_id": E1, "fiscal_year": 2567, "local_category": "central", "national_category": "", "org_code": "5500101",
         "org_type": "subdistrict_municipality", "province_code": "55", "district_code": "5501", "stage": "budgeted",
         "flags": 0, "budgeted": 1000, "requested": 0, "approved": 0},
    ],
    "inbox_chunks": [{"message_id": M1, "chunk": 0, "answer_json": '{"entities": []}'}],
    "inbox_payloads": [{"message_id": M1, "payload": "ที่,ชื่อ\n1,ถนน\n".encode()}],
    "ledger_pending": [{"entity_id": E1, "marked_at": _at(9)}],
}
# Columns a later migration moved to another table: (table, column) -> (table it went to, its column
# there). At the revisions that still have them, seed rows are written with them; after the upgrade,
# each value is looked for where it went, under the row's message_id.
MOVED = {("inbox_messages", "payload"): ("inbox_payloads", "payload")}


def earlier_revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions())) if rev.revision != script.get_current_head()]


def fill(store: Store) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
    """Every seed row of a table that exists, with the columns that exist: what was written, by table."""
    written: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}

    def work(conn: Any) -> None:
        inspector = inspect(conn)
        present = set(inspector.get_table_names())
        for table in metadata.sorted_tables:
            if table.name not in present or table.name not in SEEDS:
                continue
            columns = [c["name"] for c in inspector.get_columns(table.name)]
            rows = [{k: v for k, v in row.items() if k in columns} for row in SEEDS[table.name]]
            conn.execute(insert(_as_at_revision(table, columns)), rows)
            written[table.name] = ([k for k in SEEDS[table.name][0] if k in columns], rows)

    store.write(work)
    return written


def _as_at_revision(table: Table, columns: list[str]) -> Table:
    """`table` as it was when it still had a column that has moved since."""
    moved = [name for (table_name, name) in MOVED if table_name == table.name and name in columns]
    if not moved:
        return table
    old = Table(table.name, MetaData(), *(column._copy() for column in table.columns))
    for name in moved:
        went_to, column = MOVED[(table.name, name)]
        old.append_column(metadata.tables[went_to].c[column]._copy())
    return old


def check_moved(store: Store, written: dict[str, tuple[list[str], list[dict[str, Any]]]]) -> None:
    """Each value of a moved column is found where it went; the column is gone from its old table."""
    for (table_name, name), (went_to, column) in MOVED.items():
        columns, rows = written[table_name]
        if name not in columns:
            continue
        columns.remove(name)
        target = metadata.tables[went_to]
        found = dict(store.read(lambda conn: conn.execute(select(target.c.message_id, target.c[column])).all()))
        assert found == {row["message_id"]: row.pop(name) for row in rows}, f"{table_name}.{name} lost moving to {went_to}"


def read_back(store: Store, table: Table, columns: list[str]) -> list[dict[str, Any]]:
    def work(conn: Any) -> list[dict[str, Any]]:
        return [dict(row._mapping) for row in conn.execute(select(*(table.c[name] for name in columns)))]

    return store.read(work)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("postgres_schema_url")


def test_every_table_has_seed_rows() -> None:
    # A new table must be given rows here, or its upgrades go untested.
    assert set(SEEDS) == {table.name for table in metadata.sorted_tables}


@pytest.mark.parametrize("revision", earlier_revisions())
def test_upgrading_a_filled_database_keeps_every_value(empty_url: str, revision: str) -> None:
    store = Store(empty_url)
    try:
        store.upgrade(revision)
        assert store.current_revision() == revision
        written = fill(store)
        assert "outbox" in written and "entities" in written  # the first revision already holds data
        store.upgrade()
        assert store.is_current()
        check_moved(store, written)
        for name, (columns, rows) in written.items():
            found = read_back(store, metadata.tables[name], columns)
            key = lambda row: repr(sorted(row.items()))  # noqa: E731
            assert sorted(found, key=key) == sorted(rows, key=key), f"{name} changed by the upgrade from {revision}"
        if "last_success_at" not in written["pull_cursors"][0]:
            # 0003 counts the last cursor move of an older database as its last successful pull.
            (cursor,) = read_back(store, metadata.tables["pull_cursors"], ["last_success_at", "updated_at"])
            assert cursor["last_success_at"] == cursor["updated_at"]
        # The upgraded store works on the old rows: the open dead letter is listed, the backlog counted.
        assert [d.delivery_key for d in store.outbox.list_dead_letters()] == [f"elaas:{E1}:2"]
        snap = store.gauge_snapshot()
        assert snap.rows_by_state == {"gfmis": {"in_flight": 1}} and snap.unresolved_dead_letters == {"elaas": 1}
    finally:
        store.dispose()
