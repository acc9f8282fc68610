"""PostgreSQL only: several hub processes claiming and ingesting at the same time."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest

from core.store import Acknowledged, Destination, InboundMessage, IncomingEntity, Store
from tests.integration.test_store import T0, entity, message

pytestmark = pytest.mark.postgres


def to_gfmis(system: str, ent: IncomingEntity) -> list[Destination]:
    return [Destination("gfmis", "r", 5)]


def as_two_processes(pg_store: Store, worker: Callable[[str, Store], None]) -> None:
    """`worker` run at once in two threads: "a" on `pg_store`, "b" on a second Store (a second connection
    pool, as a second hub process has). What either raises is raised here."""
    other = Store(pg_store.url)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(name: str, store: Store) -> None:
        try:
            barrier.wait()
            worker(name, store)
        except BaseException as exc:  # pragma: no cover - raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=("a", pg_store)), threading.Thread(target=run, args=("b", other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    other.dispose()
    if errors:
        raise errors[0]


def test_concurrent_claims_never_hand_out_the_same_row(pg_store: Store) -> None:
    entities = [entity(f"P-{i}", i) for i in range(2000)]
    pg_store.inbox.ingest(message(), entities, [], to_gfmis, now=T0)
    now = T0 + timedelta(seconds=1)
    claimed: dict[str, list[int]] = {"a": [], "b": []}

    def worker(name: str, store: Store) -> None:
        while True:
            batch = store.outbox.claim_due(name, limit=37, now=now)
            if not batch:
                return
            claimed[name].extend(c.outbox_id for c in batch)

    as_two_processes(pg_store, worker)
    everything = claimed["a"] + claimed["b"]
    assert len(everything) == 2000
    assert not [i for i, n in Counter(everything).items() if n > 1]
    assert claimed["a"] and claimed["b"], "both workers should have found work"


def test_concurrent_claims_keep_version_order(pg_store: Store) -> None:
    for v in range(1, 6):
        pg_store.inbox.ingest(message(), [entity(f"P-{i}", i, v=v) for i in range(100)], [], to_gfmis, now=T0)
    delivered: list[tuple[str, int]] = []
    lock = threading.Lock()

    def worker(name: str, store: Store) -> None:
        idle = 0
        while idle < 3:
            batch = store.outbox.claim_due(name, limit=25, now=T0 + timedelta(seconds=1))
            if not batch:
                idle += 1
                continue
            idle = 0
            with lock:
                delivered.extend((c.entity_id, c.version) for c in batch)
            store.outbox.complete([Acknowledged(c.outbox_id, None, attempt=c.attempts) for c in batch])

    as_two_processes(pg_store, worker)
    assert len(delivered) == 500
    last: dict[str, int] = {}
    for entity_id, version in delivered:
        assert version == last.get(entity_id, 0) + 1
        last[entity_id] = version


def test_concurrent_ingest_of_the_same_new_records_makes_one_entity_each(pg_store: Store) -> None:
    def worker(tag: str, store: Store) -> None:
        for batch in range(5):
            rows = [entity(f"P-{i}", i, tag=tag, batch=batch) for i in range(50)]
            store.inbox.ingest(InboundMessage(system="eplan", payload=b"x"), rows, [], to_gfmis)

    as_two_processes(pg_store, worker)
    for i in range(50):
        view = pg_store.entities.find_entity_by_xref("eplan", "project", f"P-{i}")
        assert view is not None
        versions = pg_store.entities.entity_versions(view.entity_id)
        assert [v.version for v in versions] == list(range(1, 11))
