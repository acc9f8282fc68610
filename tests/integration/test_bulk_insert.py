"""Rows inserted or updated straight to the driver (core/store/bulk.py) are stored exactly as SQLAlchemy's own
executemany stores them: the same text for a timestamp given in another time zone, the same NULLs, the same
Thai text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.store import Store
from core.store.bulk import insert_rows, update_rows
from core.store.schema import ledger_projects
from tests.integration.test_links import put

BANGKOK = timezone(timedelta(hours=7))


def _row(entity_id: str, year: int) -> dict[str, object]:
    return {
        "entity_id": entity_id, "fiscal_year": year, "org_code": "5804101", "org_type": None,
        "province_code": "58", "district_code": None, "title": "ก่อสร้างถนนคอนกรีต ๑๒๓", "programme": None,
        "stage": "budgeted", "planned": 12_345_67, "budgeted": 0, "requested": 0, "approved": 0, "procured": 0,
        "contracted": 0, "disbursed": -5, "flags": 8, "updated_at": datetime(2026, 3, 1, 6, 30, 0, 120, tzinfo=BANGKOK),
    }  # fmt: skip


def _stored(store: Store, entity_id: str) -> dict[int, tuple[object, ...]]:
    table = ledger_projects
    query = select(*[c for c in table.c if c.name != "fiscal_year"], table.c.fiscal_year).where(table.c.entity_id == entity_id)
    raw = store.read(lambda conn: conn.exec_driver_sql(str(query.compile(conn, compile_kwargs={"literal_binds": True}))).all())
    return {row[-1]: tuple(row[:-1]) for row in raw}


def test_rows_are_stored_as_sqlalchemy_stores_them(store: Store) -> None:
    by_sqlalchemy, by_driver = put(store, "eplan", "plan_project", {}), put(store, "eplan", "plan_project", {})
    store.write(lambda conn: conn.execute(insert(ledger_projects), [_row(by_sqlalchemy, 2569), _row(by_sqlalchemy, 2570)]))
    store.write(lambda conn: insert_rows(conn, ledger_projects, [_row(by_driver, 2569), _row(by_driver, 2570)]))
    expected, got = _stored(store, by_sqlalchemy), _stored(store, by_driver)
    assert sorted(got) == [2569, 2570]
    # Same values column by column, the entity id aside (its own column, first).
    assert {year: values[1:] for year, values in got.items()} == {year: values[1:] for year, values in expected.items()}
    read_back = store.ledger.organisation_projects("5804101", 2569)
    assert {p.updated_at for p in read_back} == {datetime(2026, 2, 28, 23, 30, 0, 120, tzinfo=timezone.utc)}


def test_nothing_to_insert_writes_nothing(store: Store) -> None:
    store.write(lambda conn: insert_rows(conn, ledger_projects, []))
    assert store.read(lambda conn: conn.execute(select(ledger_projects.c.entity_id)).all()) == []


def test_a_refused_row_raises_as_through_sqlalchemy(store: Store) -> None:
    entity_id = put(store, "eplan", "plan_project", {})
    with pytest.raises(IntegrityError):
        store.write(lambda conn: insert_rows(conn, ledger_projects, [_row(entity_id, 2569), _row(entity_id, 2569)]))
    assert _stored(store, entity_id) == {}


def _column(values: tuple[object, ...], name: str) -> object:
    """A column of a row as `_stored` gives it (fiscal_year apart)."""
    return values[[c.name for c in ledger_projects.c if c.name != "fiscal_year"].index(name)]


def _changes(entity_id: str) -> list[dict[str, object]]:
    return [{"b_key": entity_id, "updated_at": datetime(2026, 4, 2, 1, 5, 0, 7, tzinfo=BANGKOK), "budgeted": 99, "title": "แก้ไข ๒"}]


def test_updates_are_stored_as_sqlalchemy_stores_them(store: Store) -> None:
    by_sqlalchemy, by_driver = put(store, "eplan", "plan_project", {}), put(store, "eplan", "plan_project", {})
    for entity_id in (by_sqlalchemy, by_driver):
        store.write(lambda conn, e=entity_id: insert_rows(conn, ledger_projects, [_row(e, 2569), _row(e, 2570)]))
    fixed = {"stage": "approved", "programme": None, "province_code": "10"}
    statement = update(ledger_projects).where(ledger_projects.c.entity_id == bindparam("b_key")).values(**fixed)
    store.write(lambda conn: conn.execute(statement, _changes(by_sqlalchemy)))
    store.write(lambda conn: update_rows(conn, ledger_projects.c.entity_id, _changes(by_driver), **fixed))
    expected, got = _stored(store, by_sqlalchemy), _stored(store, by_driver)
    assert {year: values[1:] for year, values in got.items()} == {year: values[1:] for year, values in expected.items()}
    assert {_column(values, "stage") for values in got.values()} == {"approved"}  # the statement's own value
    assert {_column(values, "budgeted") for values in got.values()} == {99}  # the row's
    assert {_column(values, "programme") for values in got.values()} == {None}


@pytest.mark.parametrize(
    "narrowing",
    [ledger_projects.c.fiscal_year == 2570, ledger_projects.c.fiscal_year.in_([2570, 2571])],
    ids=["a bound value", "an expanding IN list"],
)
def test_a_narrowed_update_changes_only_the_rows_it_names(store: Store, narrowing: object) -> None:
    entity_id = put(store, "eplan", "plan_project", {})
    store.write(lambda conn: insert_rows(conn, ledger_projects, [_row(entity_id, 2569), _row(entity_id, 2570)]))
    before = _stored(store, entity_id)
    store.write(lambda conn: update_rows(conn, ledger_projects.c.entity_id, _changes(entity_id), narrowing, stage="approved"))
    after = _stored(store, entity_id)
    assert after[2569] == before[2569]
    assert [_column(after[2570], name) for name in ("stage", "budgeted", "title")] == ["approved", 99, "แก้ไข ๒"]


def test_nothing_to_update_runs_nothing(store: Store) -> None:
    entity_id = put(store, "eplan", "plan_project", {})
    store.write(lambda conn: insert_rows(conn, ledger_projects, [_row(entity_id, 2569)]))
    store.write(lambda conn: update_rows(conn, ledger_projects.c.entity_id, [], stage="approved"))
    assert _column(_stored(store, entity_id)[2569], "stage") == "budgeted"
