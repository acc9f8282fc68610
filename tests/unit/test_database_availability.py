"""Which database errors mean "away" (503, wait and retry) and which are bugs (500, logged with a trace),
and the one record of an outage per process: logged once per change, a capped backoff."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

import core.store.engine
from core.store import Store
from core.store.availability import DatabaseStatus, database_unavailable


def _sqlite_error(message: str) -> OperationalError:
    return OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))


def test_sqlite_locks_and_unreadable_files_are_away_but_a_missing_table_is_a_bug() -> None:
    assert database_unavailable(_sqlite_error("database is locked"))
    assert database_unavailable(_sqlite_error("unable to open database file"))
    assert not database_unavailable(_sqlite_error("no such table: outbox"))
    assert not database_unavailable(ProgrammingError("SELECT", {}, sqlite3.ProgrammingError("bad parameter")))
    assert not database_unavailable(ValueError("database is locked"))


def test_an_error_raised_while_handling_an_outage_counts_as_the_outage() -> None:
    try:
        try:
            raise _sqlite_error("database is locked")
        except OperationalError as exc:
            raise RuntimeError("while storing") from exc
    except RuntimeError as wrapped:
        assert database_unavailable(wrapped)


def test_a_postgresql_server_that_cannot_be_reached_is_away() -> None:
    psycopg = pytest.importorskip("psycopg")
    with pytest.raises(OperationalError) as caught:
        store = Store("postgresql+psycopg://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 2})
        try:
            store.read(lambda conn: conn.execute(text("SELECT 1")))
        finally:
            store.dispose()
    assert isinstance(caught.value.orig, psycopg.OperationalError)
    assert database_unavailable(caught.value)
    assert store.status.outage is not None and "OperationalError" in store.status.outage.reason


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends() -> None:
    status = DatabaseStatus(retry_min_s=0.5, retry_max_s=5.0)
    with structlog.testing.capture_logs() as logs:
        delays = []
        for _ in range(8):
            status.failed(_sqlite_error("database is locked"), time.monotonic(), wrote=True)
            delays.append(status.retry_in_s())
        assert not status.available and status.outage is not None and status.outage.failures == 8
        status.succeeded(time.monotonic(), wrote=True)
        status.succeeded(time.monotonic(), wrote=True)
    assert [entry["event"] for entry in logs] == ["database_unavailable", "database_available"]
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]
    assert status.available and status.retry_in_s() == 0.5


def test_only_a_transaction_begun_after_the_last_change_of_state_changes_it_again() -> None:
    """Threads report when their transactions end, so reports can cross: neither a commit that began before
    the outage was noticed nor a failure that began during an outage since ended flips the state back."""
    status = DatabaseStatus()
    locked = _sqlite_error("database is locked")
    with structlog.testing.capture_logs() as logs:
        # Times a second apart, not two readings of the clock that a coarse one could make equal.
        waiting_for_the_lock = time.monotonic() - 1.0
        status.succeeded(time.monotonic(), wrote=False)  # a read beside the held write lock, while the write waits
        status.failed(locked, waiting_for_the_lock, wrote=True)  # the write gives up: an outage all the same
        assert not status.available and status.outage is not None and status.outage.failures == 1

        committed_before_it_was_noticed = waiting_for_the_lock
        status.succeeded(committed_before_it_was_noticed, wrote=True)  # reported late, after the first failure
        assert not status.available

        began_while_away = time.monotonic() - 1.0
        status.succeeded(time.monotonic(), wrote=True)
        assert status.available
        status.failed(locked, began_while_away, wrote=True)  # its failure arrives after a newer transaction's success
        assert status.available

        status.failed(locked, time.monotonic(), wrote=True)  # a transaction begun after the outage ended: a new one
        assert not status.available
    assert [entry["event"] for entry in logs] == ["database_unavailable", "database_available", "database_unavailable"]


def test_a_write_lock_held_elsewhere_is_ended_by_a_write_not_by_the_reads_beside_it() -> None:
    status = DatabaseStatus(writes_quiet_s=0.2)
    locked = _sqlite_error("database is locked")
    with structlog.testing.capture_logs() as logs:
        status.failed(locked, time.monotonic(), wrote=True)
        status.succeeded(time.monotonic(), wrote=False)  # SQLite's readers go on beside a held write lock
        assert not status.available
        status.succeeded(time.monotonic(), wrote=True)
        assert status.available

        status.failed(_sqlite_error("unable to open database file"), time.monotonic(), wrote=False)  # the file is away
        status.succeeded(time.monotonic(), wrote=False)  # a read that works says it is back
        assert status.available

        status.failed(locked, time.monotonic(), wrote=False)  # a read that met the lock (no WAL): a read ends it
        status.succeeded(time.monotonic(), wrote=False)
        assert status.available

        status.failed(locked, time.monotonic(), wrote=True)
        time.sleep(0.25)  # a process that only reads: no write has failed for writes_quiet_s
        status.succeeded(time.monotonic(), wrote=False)
        assert status.available
    assert [entry["event"] for entry in logs] == ["database_unavailable", "database_available"] * 4


def test_the_store_reports_every_transaction_to_its_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core.store.engine, "SQLITE_BUSY_TIMEOUT_MS", 50)  # the hub waits 30 s; this test not
    path = tmp_path / "locked.db"
    store = Store(f"sqlite:///{path}")
    store.write(lambda conn: conn.execute(text("CREATE TABLE t (x INTEGER)")))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError):
            store.write(lambda conn: conn.execute(text("INSERT INTO t VALUES (1)")))
        assert store.status.outage is not None and "database is locked" in store.status.outage.reason
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.write(lambda conn: conn.execute(text("INSERT INTO t VALUES (1)")))
    assert store.status.available
    store.dispose()
