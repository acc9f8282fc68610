"""Many rows of one table inserted or updated straight to the driver.

SQLAlchemy's executemany builds every row's parameters in Python (its per-row `construct_params`, then
each column's bind processor): measured on the ledger's rows of twenty columns, three times what SQLite
itself spends inserting them (benchmarks/results/store_hot_path.md). Here the statement is compiled once per
table and set of columns, each row becomes a tuple in the statement's order, and only the columns whose type
converts a value (a timestamp) are converted, by the very processor SQLAlchemy would have used: what is
stored is the same.

On PostgreSQL an executemany is one statement per row, each parsed and planned (psycopg's pipeline; SQLAlchemy
renders multi-row VALUES only for INSERT ... RETURNING): the server's largest cost in a resync
(benchmarks/results/profile-postgresql.md). Rows are inserted there with one COPY, and updated with one
UPDATE that reads every row's values from arrays (unnest).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Table, bindparam, exc, insert, update
from sqlalchemy.engine import Dialect

POSTGRESQL = "postgresql"


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT every row (all with the same keys, as SQLAlchemy's executemany requires) into `table`."""
    if not rows:
        return
    plan = _plan(conn.dialect, table, tuple(rows[0])) if conn.dialect.name == "sqlite" or _through_psycopg(conn.dialect) else None
    if plan is None:
        conn.execute(insert(table), rows)
        return
    sql, values_of, converted = plan
    params = _params(rows, values_of, converted)
    if _through_psycopg(conn.dialect):
        _copy(conn, sql, params)
    else:
        conn.exec_driver_sql(sql, params)


def _through_psycopg(dialect: Dialect) -> bool:
    """PostgreSQL through psycopg (3): COPY rows from its cursors, arrays as `%s` parameters; another driver
    keeps SQLAlchemy's path."""
    return dialect.name == POSTGRESQL and dialect.driver == "psycopg"


def _params(
    rows: Sequence[Mapping[str, Any]], values_of: Callable[[Mapping[str, Any]], Any], converted: tuple[tuple[int, Any], ...]
) -> list[tuple[Any, ...]]:
    if not converted:
        return [values_of(row) for row in rows]
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
    return params


def _copy(conn: Connection, sql: str, params: Sequence[Sequence[Any]]) -> None:
    """The rows through psycopg's COPY, in the connection's transaction; a failure is raised as SQLAlchemy
    would raise the INSERT's (an IntegrityError for a duplicate key), which callers catch."""
    driver_connection = conn.connection.dbapi_connection
    try:
        with driver_connection.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            for values in params:
                copy.write_row(values)
    except conn.dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(sql, None, error, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect) from error


_NOTHING = object()


Plan = tuple[str, Callable[[Mapping[str, Any]], Any], tuple[tuple[int, Any], ...]]


@functools.lru_cache(maxsize=128)
def _plan(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> Plan | None:
    """The statement (on PostgreSQL a COPY), a row's values in parameter order and the (position, processor)
    of those converted; None when the statement needs more than the rows give (a column default computed in
    Python)."""
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
    if set(compiled.bind_names.values()) != set(keys):
        return None
    if _through_psycopg(dialect):
        columns = keys
        preparer = dialect.identifier_preparer
        sql = f"COPY {preparer.format_table(table)} ({', '.join(preparer.quote(name) for name in columns)}) FROM STDIN"
    elif dialect.paramstyle == "qmark":
        columns = tuple(compiled.positiontup or ())
        sql = str(compiled)
    else:
        return None
    converted = []
    for position, name in enumerate(columns):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            converted.append((position, process))
    pick = operator.itemgetter(*columns)
    values_of = pick if len(columns) > 1 else lambda row: (pick(row),)
    return sql, values_of, tuple(converted)


def update_rows(
    conn: Connection, key: Column[Any], rows: Sequence[Mapping[str, Any]], *also: ColumnElement[bool], **fixed: Any
) -> None:
    """One UPDATE for every dict of `rows`, as `core.store.util.update_each` describes (the row named by
    `b_key`, its other keys the columns it sets, `fixed` the same on every row, `also` narrowing). Straight
    to the driver on SQLite without `also` (the hot path's acknowledgements); otherwise SQLAlchemy's."""
    if not rows:
        return
    if _through_psycopg(conn.dialect) and not also:
        _update_from_arrays(conn, key, rows, fixed)
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


def _update_from_arrays(conn: Connection, key: Column[Any], rows: Sequence[Mapping[str, Any]], fixed: Mapping[str, Any]) -> None:
    """PostgreSQL: one UPDATE for all `rows`, each column's values one array parameter."""
    own = tuple(name for name in rows[0] if name != "b_key")
    sql, processors = _array_update_plan(conn.dialect, key, own, tuple(fixed))
    values: list[Any] = []
    for name, process in zip(fixed, processors[: len(fixed)], strict=True):
        values.append(fixed[name] if process is None else process(fixed[name]))
    for name, process in zip(("b_key", *own), processors[len(fixed) :], strict=True):
        column = [row[name] for row in rows]
        values.append(column if process is None else [process(value) for value in column])
    conn.exec_driver_sql(sql, tuple(values))


@functools.lru_cache(maxsize=64)
def _array_update_plan(
    dialect: Dialect, key: Column[Any], own: tuple[str, ...], fixed: tuple[str, ...]
) -> tuple[str, tuple[Any, ...]]:
    """`UPDATE t SET <fixed> = %s, <own> = v.<own> FROM unnest(%s::type[], ...) AS v(b_key, <own>) WHERE
    t.<key> = v.b_key`, and each parameter's processor (fixed ones first)."""
    table = key.table
    quote = dialect.identifier_preparer.quote
    name_of_table = dialect.identifier_preparer.format_table(table)
    sets = [f"{quote(name)} = %s" for name in fixed] + [f"{quote(name)} = v.{quote(name)}" for name in own]
    columns = [(name, key if name == "b_key" else table.c[name]) for name in ("b_key", *own)]
    arrays = ", ".join(f"%s::{column.type.compile(dialect=dialect)}[]" for _, column in columns)
    sql = (
        f"UPDATE {name_of_table} SET {', '.join(sets)} "
        f"FROM unnest({arrays}) AS v({', '.join(quote(name) for name, _ in columns)}) "
        f"WHERE {name_of_table}.{quote(key.name)} = v.b_key"
    )
    processors = tuple(
        column.type.dialect_impl(dialect).bind_processor(dialect)
        for column in [table.c[name] for name in fixed] + [column for _, column in columns]
    )
    return sql, processors
