"""Records read from rows by name (from_row) and rows updated by key in one executemany (update_each)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, insert, select

from core.store.util import from_row, update_each


@dataclass(frozen=True)
class Item:
    item_id: int
    name: str
    note: str | None = None


def test_a_record_takes_the_columns_of_its_field_names_and_the_values_given_otherwise() -> None:
    row = SimpleNamespace(item_id=7, name="raw", note="kept", unrelated="ignored")
    assert from_row(Item, row, name="decoded") == Item(7, "decoded", "kept")


def test_a_field_the_row_lacks_is_an_error_not_its_default() -> None:
    with pytest.raises(AttributeError, match="note"):
        from_row(Item, SimpleNamespace(item_id=1, name="x"))


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
