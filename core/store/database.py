"""The database as the repositories share it: one engine, transactions, migrations.

Every repository method is synchronous and exactly one transaction (`write` or `read`); the async hub
calls them through `asyncio.to_thread`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from core.store import engine as _engine
from core.store import migrate as _migrate
from core.store.availability import DatabaseStatus, database_unavailable
from core.store.engine import DEFAULT_URL, create_store_engine, read_transaction, write_transaction

T = TypeVar("T")

# PostgreSQL error codes worth one more try: unique violation (two processes created the same new
# entity at once), serialization failure, deadlock.
_RETRYABLE_PG_CODES = {"23505", "40001", "40P01"}
_MAX_TRIES = 4


class Database:
    def __init__(self, url: str = DEFAULT_URL, *, engine: Engine | None = None, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = engine if engine is not None else create_store_engine(url, **engine_kwargs)
        # Fed by every transaction below. A process that only reads ends a write lock outage after twice the
        # busy timeout without a failed write (at least 10 s).
        self.status = DatabaseStatus(writes_quiet_s=max(10.0, 2 * _engine.SQLITE_BUSY_TIMEOUT_MS / 1000))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.engine.url.render_as_string(hide_password=True)!r})"

    # --- lifecycle ---------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Apply Alembic migrations up to `revision` (safe to call from several processes at once)."""
        _migrate.upgrade(self.engine, revision)

    def current_revision(self) -> str | None:
        with self._watched(wrote=False):
            return _migrate.current_revision(self.engine)

    @staticmethod
    def head_revision() -> str | None:
        return _migrate.head_revision()

    def is_current(self) -> bool:
        """True when the database schema is at the newest migration (for /readyz)."""
        try:
            return self.current_revision() == self.head_revision()
        except DBAPIError:
            return False

    def dispose(self) -> None:
        self.engine.dispose()

    # --- transactions ------------------------------------------------------------------------

    def write(self, work: Callable[[Connection], T], *, retry: bool = False) -> T:
        """`work` in one write transaction; with `retry`, PostgreSQL conflicts are tried again."""
        tries = _MAX_TRIES if retry and self.dialect == "postgresql" else 1
        for attempt in range(1, tries + 1):
            try:
                with self._watched(wrote=True), write_transaction(self.engine) as conn:
                    return work(conn)
            except DBAPIError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                if attempt == tries or code not in _RETRYABLE_PG_CODES:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def write_together(
        self,
        works: Sequence[Callable[[Connection], T]],
        together: Callable[[Connection], list[T]] | None = None,
    ) -> list[T | Exception]:
        """Each of `works` as `write(work, retry=True)` would run it, but all in one transaction (group
        commit: one BEGIN and one COMMIT for writes that arrived together), in order, so each sees the ones
        before it as it would after their commits. Each answer is its work's result or the exception it
        raised. Should any fail, the transaction is rolled back and each is written alone instead, so that
        one work's failure is its own and takes nothing of the others with it. `together`, when given, is
        what the group's transaction runs instead of each work in turn: it must answer what they would."""
        if len(works) == 1:
            only = works[0]
            try:
                return [self.write(only, retry=True)]
            except Exception as exc:
                return [exc]
        try:
            return list(self.write(together or (lambda conn: [work(conn) for work in works]), retry=True))
        except Exception as exc:
            if database_unavailable(exc):
                return [exc] * len(works)  # alone, each would only wait for the same outage again
        answers: list[T | Exception] = []
        for work in works:
            try:
                answers.append(self.write(work, retry=True))
            except Exception as exc:
                answers.append(exc)
        return answers

    def read(self, work: Callable[[Connection], T]) -> T:
        with self._watched(wrote=False), read_transaction(self.engine) as conn:
            return work(conn)

    @contextmanager
    def _watched(self, *, wrote: bool) -> Iterator[None]:
        """Tell `status` whether the database answered: it logs an outage once, not once per caller."""
        began = time.monotonic()
        try:
            yield
        except Exception as exc:
            if database_unavailable(exc):
                self.status.failed(exc, began, wrote)
            raise
        self.status.succeeded(began, wrote)
