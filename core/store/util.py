"""Small helpers shared by the store modules: chunking, JSON, ids, records from rows, updates of many rows."""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import ARRAY, Column, ColumnElement, Connection, String, any_, func, literal, select

from core.store.bulk import update_rows
from core.store.records import RandomHex

T = TypeVar("T")
R = TypeVar("R")

# Bound parameters per IN-list: far below SQLite's limit (32766) and PostgreSQL's (65535), and small
# enough that the statement cache stays useful.
IN_CHUNK = 500


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def dumps(value: Any) -> str:
    # ensure_ascii=False keeps Thai text readable in the database and about a third of the size.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def loads(text: str | bytes | None) -> Any:
    """JSON text as json.loads reads it, by orjson where that gives the very same values (about half the
    time: a claim decodes every body it hands out). orjson reads an integer past 64 bits as a float, where
    json keeps it whole: a text with a run of 19 digits or more (the only place such an integer can be) goes
    to json. So does what orjson refuses and json reads: NaN, Infinity, numbers past a double's range, lone
    surrogates."""
    if text is None:
        return None
    try:
        raw = text if isinstance(text, bytes) else text.encode()
    except UnicodeEncodeError:  # a lone surrogate in the text itself
        return json.loads(text)
    if _LONG_DIGIT_RUN in raw.translate(_DIGITS_AS_ONES):
        return json.loads(text)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(text)


# Every ASCII digit to b"1" and every other byte to b"0": a run of 19 digits is then a plain substring search,
# several times cheaper than a regular expression over the text.
_DIGITS_AS_ONES = bytes(ord("1") if ord("0") <= b <= ord("9") else ord("0") for b in range(256))
_LONG_DIGIT_RUN = b"1" * 19


def one_of(conn: Connection, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL as one array parameter (`= ANY`): psycopg otherwise splits the
    statement's text at each of up to 500 placeholders and adapts each value at every execution (the claim's
    largest client cost there). SQLite keeps the plain list, whose length its planner sees (see `among`)."""
    if conn.dialect.name == "postgresql":
        return column == any_(literal(list(values), ARRAY(column.type)))
    return column.in_(values)


def among(conn: Connection, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values` as one parameter on both databases: `one_of` on PostgreSQL, and on SQLite one JSON
    array that json_each reads. An IN list costs SQLAlchemy a rendered placeholder and a bound parameter per
    value at every execution, about 200 µs for the claim's and acknowledgement's lists of 500 ids on SQLite,
    40 % of the statement (benchmarks/results/store_hot_path.md, round 4). SQLite still finds each value
    through the column's index, but cannot size the list: where another index could serve, its planner may
    prefer that one and read far more rows, so such statements use `one_of`."""
    if conn.dialect.name != "sqlite":
        return one_of(conn, column, values)
    listed = func.json_each(literal(dumps(list(values)), String())).table_valued("value")
    return column.in_(select(listed.c.value))


def new_entity_id() -> str:
    """32 hex characters: 12 of milliseconds since the epoch, then 80 random bits.

    Sortable by creation time (index locality on insert, readable ordering in admin views) and
    unguessable enough that ids can appear in URLs.
    """
    return f"{time.time_ns() // 1_000_000:012x}{_entity_bits.take()}"


_entity_bits = RandomHex(10, at_once=1024)  # a batch of 1,000 new records: one read


def from_row(record: type[R], row: Any, **read_otherwise: Any) -> R:
    """A record (a dataclass) whose fields are the row's columns of the same names, except those given in
    `read_otherwise` (a column decoded from JSON, converted or named differently, or a value from elsewhere).
    A field the row lacks and `read_otherwise` does not give is an AttributeError, never a silent default."""
    taken = {name: getattr(row, name) for name in _field_names(record) if name not in read_otherwise}
    return record(**taken, **read_otherwise)


@functools.cache
def _field_names(record: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(record) if f.init)


def unique(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))


def update_each(
    conn: Connection,
    key: Column[Any],
    rows: Sequence[dict[str, Any]],
    *also: ColumnElement[bool],
    **fixed: Any,
) -> None:
    """One UPDATE executed for every dict of `rows` (executemany): a dict names its row by `b_key` (the
    value of `key`) and the columns it sets by their names; `fixed` sets the same value on every row,
    `also` narrows which rows may change. Every dict must set the same columns: the first one decides
    the SET list."""
    # The key travels as b_key: in an UPDATE a bound parameter may not take the name of a column it sets.
    update_rows(conn, key, rows, *also, **fixed)
