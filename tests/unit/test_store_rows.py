"""Records read from rows by name (from_row) and rows updated by key in one executemany (update_each)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, insert, select

from core.store.records import ApiClient
from core.store.util import from_row, update_each

AT = datetime(2026, 1, 2, tzinfo=UTC)
# An api_clients row as the database gives it: lists as JSON text, the flag as an integer, a column the
# record does not have.
ROW = dict(
    client_id="c1", name="eplan", system="eplan", key_prefix="prs_abcd", created_at=AT, disabled=0,
    allowed_orgs='["1001"]', allowed_provinces=None, hmac_secret="s", key_hash="not a field of the record",
)


def test_a_record_takes_the_columns_of_its_field_names_and_the_values_given_otherwise() -> None:
    row = SimpleNamespace(**ROW)
    client = from_row(ApiClient, row, disabled=False, allowed_orgs=["1001"], allowed_provinces=None)
    assert client == ApiClient("c1", "eplan", "eplan", "prs_abcd", AT, False, ["1001"], None, "s")


def test_a_field_the_row_lacks_is_an_error_not_its_default() -> None:
    without_secret = {k: v for k, v in ROW.items() if k != "hmac_secret"}
    with pytest.raises(AttributeError, match="hmac_secret"):
        from_row(ApiClient, SimpleNamespace(**without_secret))


def test_each_row_gets_its_own_values_and_the_fixed_ones_and_only_rows_allowed_change() -> None:
    metadata = MetaData()
    items = Table(
        "items", metadata, Column("id", Integer, primary_key=True), Column("name", Text), Column("note", Text)
    )
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(items), [{"id": i, "name": f"n{i}", "note": None} for i in (1, 2, 3)])
        update_each(
            conn,
            items.c.id,
            [{"b_key": 1, "name": "one"}, {"b_key": 2, "name": "two"}, {"b_key": 3, "name": "three"}],
            items.c.id != 3,
            note="set",
        )
        assert conn.execute(select(items).order_by(items.c.id)).all() == [
            (1, "one", "set"),
            (2, "two", "set"),
            (3, "n3", None),
        ]
