"""Many rows of one table inserted or updated straight to the driver, on SQLite.

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

from sqlalchemy import Column, ColumnElement, Connection, Table, bindparam, insert, update
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


def update_rows(
    conn: Connection, key: Column[Any], rows: Sequence[Mapping[str, Any]], *also: ColumnElement[bool], **fixed: Any
) -> None:
    """One UPDATE for every dict of `rows`, as `core.store.util.update_each` describes (the row named by
    `b_key`, its other keys the columns it sets, `fixed` the same on every row, `also` narrowing)."""
    if not rows:
        return
    statement = update(key.table).where(key == bindparam("b_key"), *also).values(**fixed)
    keys = tuple(rows[0])
    plan = None
    if conn.dialect.name == "sqlite":
        # Clauses of `also` are new objects at every call: only a statement without them is kept.
        cacheable = not also and all(_hashable(v) for v in fixed.values())
        plan = (
            _update_plan(conn.dialect, key, keys, tuple(sorted(fixed.items())))
            if cacheable
            else _statement_plan(conn.dialect, statement, keys)
        )
    if plan is None:
        conn.execute(statement, rows)
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


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


@functools.lru_cache(maxsize=64)
def _update_plan(dialect: Dialect, key: Column[Any], keys: tuple[str, ...], fixed: tuple[tuple[str, Any], ...]) -> Plan | None:
    statement = update(key.table).where(key == bindparam("b_key")).values(**dict(fixed))
    return _statement_plan(dialect, statement, keys)


def _statement_plan(dialect: Dialect, statement: Any, keys: tuple[str, ...]) -> Plan | None:
    """An UPDATE's SQL, a row's values in parameter order (the statement's own values filled in once) and
    the (position, processor) of the row's values to convert; None when the statement has a parameter it
    cannot take from a row or a constant (an expanding IN list)."""
    compiled = statement.compile(dialect=dialect, column_keys=[k for k in keys if k != "b_key"])
    names = tuple(compiled.positiontup or ())
    if dialect.paramstyle != "qmark" or compiled.literal_execute_params or compiled.post_compile_params:
        return None
    if not set(keys) <= set(names):
        return None
    constants: dict[int, Any] = {}
    taken: list[tuple[int, str]] = []
    converted = []
    for position, name in enumerate(names):
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name in keys:
            taken.append((position, name))
            if process is not None:
                converted.append((position, process))
        else:
            value = bind.effective_value
            constants[position] = process(value) if process is not None else value
    template: list[Any] = [constants.get(position) for position in range(len(names))]

    def values_of(row: Mapping[str, Any]) -> tuple[Any, ...]:
        values = template.copy()
        for position, name in taken:
            values[position] = row[name]
        return tuple(values)

    return str(compiled), values_of, tuple(converted)
