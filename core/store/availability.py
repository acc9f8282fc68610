"""Whether the database answers, as one process sees it.

A database that is away (PostgreSQL stopped, restarting or unreachable; a SQLite file locked past the
busy timeout or unreadable) is an outage of the hub, not a bug of the request that met it: the HTTP layer
answers 503 with Retry-After, and the loops (delivery, leadership, route refresh) wait and try again.
`DatabaseStatus` is the one record of that outage in a process: every store transaction reports to it,
so it logs once when the database goes away and once when it is back, whichever part noticed, and gives
the loops a capped backoff instead of each retrying (and logging) at its own pace.

Transactions run in many threads and report when they end, so reports can arrive out of order: a commit
that finished just before the server died may be reported after the first failure, and a connection attempt
begun while the server was still away may fail after another has found it back. Each report carries when
its transaction began, and only a transaction begun after the last change of state can change it again:
a success ends an outage only if its transaction began after the outage was noticed, and a failure opens
one only if its transaction began after the last outage ended. The rule is about the last change, not the
last success: a write that waited out SQLite's busy timeout still opens an outage, though reads beside the
held lock succeeded while it waited. Such an outage (the file's write lock held by someone else) is ended
by a write: reads beside the lock go on succeeding and prove nothing about it, until no write has failed
for `writes_quiet_s`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import structlog
from sqlalchemy import exc as sa_exc

from core.errors import scrub_secrets

log = structlog.get_logger("prasan.store")

# SQLite reports a lock held past busy_timeout, a missing or unreadable file and a failing disk as
# OperationalError, like "no such table"; only these mean the database is away rather than wrong.
_SQLITE_LOCKED = ("database is locked", "database table is locked")
_SQLITE_AWAY = (*_SQLITE_LOCKED, "unable to open database file", "disk i/o error")

# PostgreSQL SQLSTATEs of a server that is away or refusing work for now: connection exceptions (08),
# too many connections (53300), shutting down or starting (57P01..57P03), out of resources (53).
_PG_AWAY_PREFIXES = ("08", "53", "57P")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what caused it, each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says the database is away, not that the statement was wrong."""
    return any(_away(current) for current in _chain(exc))


def _away(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free: the database is swamped
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        state = getattr(orig, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_PG_AWAY_PREFIXES):
            return True
        module = type(orig).__module__ if orig is not None else ""
        if module.startswith("psycopg"):
            # psycopg raises OperationalError without a SQLSTATE when it cannot connect at all.
            return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) and state is None
        if module.startswith("sqlite3"):
            return isinstance(exc, sa_exc.OperationalError) and str(orig).lower().startswith(_SQLITE_AWAY)
    return False


def _write_lock(exc: BaseException) -> bool:
    """A SQLite lock held by another writer: it refuses writes while reads go on (WAL)."""
    for current in _chain(exc):
        orig = getattr(current, "orig", None)
        if type(orig).__module__.startswith("sqlite3") and str(orig).lower().startswith(_SQLITE_LOCKED):
            return True
    return False


def describe(exc: BaseException) -> str:
    """One line for logs and /readyz: the error's class and first line, never a secret."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [""])[0][:300]
    return scrub_secrets(f"{type(orig).__name__}: {first}" if first else type(orig).__name__)


@dataclass(frozen=True)
class Outage:
    since: float  # Unix time of the first failure
    reason: str
    failures: int
    writes_only: bool = False  # only writes were refused (a SQLite write lock held elsewhere)
    last_failed: float = 0.0  # time.monotonic() of the latest failure


class DatabaseStatus:
    """The database's availability in this process, fed by every store transaction."""

    def __init__(self, retry_min_s: float = 0.5, retry_max_s: float = 5.0, writes_quiet_s: float = 60.0) -> None:
        # retry_max_s bounds how long after the database's return a waiting loop notices it.
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        # A write lock outage is ended by a read too once no write has failed for this long: a process that
        # only reads would otherwise report it for ever. Longer than a write's wait for the lock, so that
        # a process that keeps writing sees one outage, not one per failed write.
        self.writes_quiet_s = writes_quiet_s
        self._lock = threading.Lock()
        self._outage: Outage | None = None
        self._changed_at = float("-inf")  # time.monotonic() of the last change of state

    @property
    def outage(self) -> Outage | None:
        return self._outage

    @property
    def available(self) -> bool:
        return self._outage is None

    def failed(self, exc: BaseException, began: float, wrote: bool) -> None:
        """A transaction that began at `began` (time.monotonic()) met the database away; `wrote`: a write."""
        reason = describe(exc)
        with self._lock:
            outage = self._outage
            if outage is None and began < self._changed_at:
                return  # it began during the outage that has since ended: a late report of that one
            writes_only = wrote and _write_lock(exc) and (outage is None or outage.writes_only)
            failures = (outage.failures if outage else 0) + 1
            self._outage = Outage(outage.since if outage else time.time(), reason, failures, writes_only, time.monotonic())
            if outage is None:
                # After the outage is set: a success that sees no outage on its lock-free path began before this.
                self._changed_at = time.monotonic()
        if outage is None:
            log.error("database_unavailable", reason=reason)

    def succeeded(self, began: float, wrote: bool) -> None:
        """A transaction that began at `began` (time.monotonic()) committed; `wrote`: it was a write."""
        if self._outage is None:  # the common case: no lock on every transaction
            return
        with self._lock:
            outage = self._outage
            if outage is None or began < self._changed_at:
                return  # already ended, or it began before the outage was noticed: a late report
            if outage.writes_only and not wrote and time.monotonic() - outage.last_failed < self.writes_quiet_s:
                return  # reads go on beside a held write lock: only a write, or a long quiet, says it is free
            self._outage = None
            self._changed_at = time.monotonic()
        log.warning("database_available", down_s=round(time.time() - outage.since, 3), failures=outage.failures)

    def retry_in_s(self) -> float:
        """How long a loop that just met the outage waits before trying again: doubling, capped."""
        outage = self._outage
        failures = outage.failures if outage else 0
        return min(self.retry_max_s, self.retry_min_s * 2 ** max(0, min(failures - 1, 16)))

    @property
    def retry_after_s(self) -> int:
        """What a 503 tells a producer: whole seconds, at least one."""
        return max(1, round(self.retry_in_s()))


def database_pause_s(status: DatabaseStatus, exc: BaseException) -> float | None:
    """How long a loop whose round failed with `exc` waits: the outage's backoff when the database is
    away (the status has logged it), None for any other failure (the caller logs that one)."""
    return status.retry_in_s() if database_unavailable(exc) else None
