"""Many rows of one table inserted straight to the driver, on SQLite.

SQLAlchemy's executemany builds every row's parameters in Python (its per-row `construct_params`, then
each column's bind processor): measured on the ledger's rows of twenty columns, three times what SQLite
itself spends inserting them (benchmarks/results/store_hot_path.md). Here the statement is compiled once per
table and set of columns, each row becomes a tuple in the statement's order, and only the columns whose type
converts a value (a timestamp) are converted, by the very processor SQLAlchemy would have used: what is
stored is the same. PostgreSQL keeps SQLAlchemy's path, whose multi-row VALUES (insertmanyvalues) it needs.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Dialect


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT every row (all with the same keys, as SQLAlchemy's executemany requires) into `table`."""
    if not rows:
        return
    plan = _plan(conn.dialect, table, tuple(rows[0])) if conn.dialect.name == "sqlite" else None
    if plan is None:
        conn.execute(insert(table), rows)
        return
    sql, values_of, converted = plan
    params: list[Any] = [values_of(row) for row in rows]
    if converted:
        for i, values in enumerate(params):
            values = list(values)
            for position, process in converted:
                values[position] = process(values[position])
            params[i] = tuple(values)
    conn.exec_driver_sql(sql, params)


Plan = tuple[str, Callable[[Mapping[str, Any]], Any], tuple[tuple[int, Any], ...]]


@functools.lru_cache(maxsize=128)
def _plan(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> Plan | None:
    """The statement, a row's values in parameter order and the (position, processor) of those converted;
    None when the statement needs more than the rows give (a column default computed in Python)."""
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
    columns = tuple(compiled.positiontup or ())
    if dialect.paramstyle != "qmark" or set(columns) != set(keys):
        return None
    converted = []
    for position, name in enumerate(columns):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            converted.append((position, process))
    pick = operator.itemgetter(*columns)
    values_of = pick if len(columns) > 1 else lambda row: (pick(row),)
    return str(compiled), values_of, tuple(converted)
