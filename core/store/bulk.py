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
    if not converted:
        conn.exec_driver_sql(sql, [values_of(row) for row in rows])
        return
    params: list[tuple[Any, ...]] = []
    # The rows of one batch mostly share their timestamps (its `now`, a message's received_at): a value
    # that is the very object converted just before is not converted again.
    last = [(_NOTHING, None) for _ in converted]
    for row in rows:
        values = list(values_of(row))
        for i, (position, process) in enumerate(converted):
            value = values[position]
            seen, done = last[i]
            if value is not seen:
                done = process(value)
                last[i] = (value, done)
            values[position] = done
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)


_NOTHING = object()


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
    `b_key`, its other keys the columns it sets, `fixed` the same on every row, `also` narrowing). Straight
    to the driver on SQLite without `also` (the hot path's acknowledgements); otherwise SQLAlchemy's."""
    if not rows:
        return
    plan = _update_plan(conn.dialect, key, tuple(rows[0]), tuple(fixed)) if conn.dialect.name == "sqlite" and not also else None
    if plan is None:
        conn.execute(update(key.table).where(key == bindparam("b_key"), *also).values(**fixed), rows)
        return
    sql, names, processors = plan
    # The values every row shares, converted once; then each row's own, converted as SQLAlchemy would.
    template = [fixed[name[2:]] if name.startswith(_FIXED) else None for name in names]
    own: list[tuple[int, str, Any]] = []
    for position, name in enumerate(names):
        process = processors[position]
        if name.startswith(_FIXED):
            if process is not None:
                template[position] = process(template[position])
        else:
            own.append((position, name, process))
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = template.copy()
        for position, name, process in own:
            values[position] = row[name] if process is None else process(row[name])
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)


_FIXED = "f_"  # the parameter of a value every row shares (a bound parameter may not be named as a column it sets)


@functools.lru_cache(maxsize=64)
def _update_plan(
    dialect: Dialect, key: Column[Any], keys: tuple[str, ...], fixed: tuple[str, ...]
) -> tuple[str, tuple[str, ...], tuple[Any, ...]] | None:
    """The UPDATE's SQL, its parameter names in order and each one's processor (None when the value goes
    as it is); None when the statement would need what the rows do not give."""
    table = key.table
    statement = update(table).where(key == bindparam("b_key")).values(
        **{name: bindparam(f"{_FIXED}{name}", type_=table.c[name].type) for name in fixed}
    )
    compiled = statement.compile(dialect=dialect, column_keys=[k for k in keys if k != "b_key"])
    names = tuple(compiled.positiontup or ())
    if dialect.paramstyle != "qmark" or set(names) != set(keys) | {f"{_FIXED}{name}" for name in fixed}:
        return None
    processors = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
    return str(compiled), names, processors
