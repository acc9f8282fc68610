"""Database URLs and engines: SQLite pragmas, write transactions, the default file under var/."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

DEFAULT_SQLITE_PATH = Path("var") / "prasan.db"
DEFAULT_URL = f"sqlite:///{DEFAULT_SQLITE_PATH.as_posix()}"

# Milliseconds a SQLite writer waits for another writer before giving up; long enough that a busy
# delivery worker and an inbound batch queue behind each other instead of failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Seconds a new PostgreSQL connection may take before the database counts as unreachable.
PG_CONNECT_TIMEOUT_S = 5

# Execution option that asks for a write transaction. On SQLite it becomes BEGIN IMMEDIATE, so the
# write lock is taken up front: a deferred transaction that reads then writes can fail with
# SQLITE_BUSY without waiting, which is exactly what a claim (select then update) would do.
WRITE_OPTION = "prasan_write"


def make_store_url_for_sqlite(path: str | os.PathLike[str]) -> str:
    """The SQLAlchemy URL of a SQLite file; parent folders are created when the store opens."""
    return f"sqlite:///{Path(path).as_posix()}"


class _ThreadLock:
    """A lock one thread may take several times (nested checkouts), that any thread may release: a
    connection dropped without closing is checked in by the garbage collector, wherever it runs."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._cond:
            while self._owner is not None and self._owner != me:
                self._cond.wait()
            self._owner = me
            self._depth += 1

    def release(self) -> None:
        with self._cond:
            self._depth = max(0, self._depth - 1)
            if self._depth == 0:
                self._owner = None
                self._cond.notify()


class SerialStaticPool(StaticPool):
    """StaticPool for an in-memory SQLite database, handing its one connection to one thread at a
    time. Store methods run in asyncio.to_thread workers; several threads on one sqlite3 connection
    at once interleave their transactions ("cannot start a transaction within a transaction") and
    can crash the interpreter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._serial = _ThreadLock()

    def _do_get(self) -> ConnectionPoolEntry:
        self._serial.acquire()
        try:
            return super()._do_get()
        except BaseException:
            self._serial.release()
            raise

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        try:
            super()._do_return_conn(record)
        finally:
            self._serial.release()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_store_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings the store relies on (pragmas, explicit BEGIN on SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pool_pre_ping: a hub process outlives PostgreSQL restarts and failovers.
        kwargs.setdefault("pool_pre_ping", True)
        if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
            connect_args = dict(kwargs.pop("connect_args", {}))
            # No server-side prepared statements: psycopg would prepare after five runs and PostgreSQL
            # may then keep a generic plan chosen while the tables were still empty (a sequential
            # scan per xref lookup, measured 10x slower on a fresh resync). It also keeps the store
            # usable behind PgBouncer in transaction mode.
            connect_args.setdefault("prepare_threshold", None)
            # An unreachable server (a dropped network, not a refused connection) must not hold a
            # request or a worker for the operating system's TCP timeout of minutes.
            connect_args.setdefault("connect_timeout", PG_CONNECT_TIMEOUT_S)
            kwargs["connect_args"] = connect_args
        return create_engine(url, **kwargs)

    database = parsed.database
    in_memory = not database or database == ":memory:" or parsed.query.get("mode") == "memory"
    connect_args = dict(kwargs.pop("connect_args", {}))
    # Methods run in worker threads (asyncio.to_thread); the pool hands a connection to one thread
    # at a time, so sqlite3's own thread check only gets in the way.
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    if in_memory:
        # One shared connection, or every checkout would see its own empty database; used by one
        # thread at a time.
        kwargs.setdefault("poolclass", SerialStaticPool)
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    _install_sqlite_hooks(engine, wal=not in_memory)
    return engine


def _install_sqlite_hooks(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below; the sqlite3 module's own
        # implicit BEGIN happens too late (only before DML) and is always DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        # 8 MB of page cache per connection. Each pooled connection keeps its cache for its life: at 64 MB,
        # one refused 30 MB upload stored in the inbox left about 60 MB resident for good, and a large
        # ingest spread over two connections twice that (benchmarks/hostile_payloads.py). Reads beyond it
        # come from the operating system's file cache, which is shared and given back under pressure.
        cursor.execute("PRAGMA cache_size=-8192")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed when the block ends, rolled back on any exception."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """One read transaction, so a multi-query read sees one consistent state."""
    with engine.connect() as conn, conn.begin():
        yield conn
