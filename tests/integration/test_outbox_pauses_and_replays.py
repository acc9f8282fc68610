"""Pauses that converge whatever process queued a row, retries and replays that respect a pause, and
replays that cannot overtake a newer version."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select

from core.admin.routes import RouteService, paused_pairs
from core.router import Route, Router
from core.store import Acknowledged, Dead, Destination, Retry, Store
from core.store.records import GiveBack
from core.store.schema import outbox
from tests.integration.test_store import T0, dead_under_a_newer_version, entity, ingest, message

ROUTE = "plans-to-gfmis"
PAUSED = frozenset({(ROUTE, "gfmis")})


def to_gfmis(system: str, ent: object) -> list[Destination]:
    return [Destination("gfmis", ROUTE, 3)]


def to_gfmis_held(system: str, ent: object) -> list[Destination]:
    """What a process whose route table still says "paused" queues."""
    return [Destination("gfmis", ROUTE, 3, held=True)]


def states(store: Store) -> list[tuple[int, str]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(outbox.c.version, outbox.c.state).order_by(outbox.c.id))]


def test_rows_held_by_a_stale_router_are_released_by_the_next_reconcile(store: Store) -> None:
    ingest(store, message(), [entity("P-1", v=1)], [], to_gfmis)
    (v1,) = store.outbox.claim_due("w", now=T0)
    store.outbox.complete([Acknowledged(v1.outbox_id, "G-1")], now=T0)
    # The route was resumed; a process with an older table still queues v2 as held, then v3 arrives.
    ingest(store, message(), [entity("P-1", v=2)], [], to_gfmis_held)
    ingest(store, message(), [entity("P-1", v=3)], [], to_gfmis)
    assert states(store)[1:] == [(2, "held"), (3, "pending")]
    assert store.outbox.claim_due("w", now=T0 + timedelta(seconds=1)) == []  # v3 waits behind the held v2

    assert store.outbox.reconcile_holds(frozenset(), ["gfmis"], now=T0) == (0, 1)
    (v2,) = store.outbox.claim_due("w", now=T0 + timedelta(seconds=1))
    assert v2.version == 2
    store.outbox.complete([Acknowledged(v2.outbox_id, "G-1")], now=T0)
    assert [c.version for c in store.outbox.claim_due("w", now=T0 + timedelta(seconds=2))] == [3]


def test_reconcile_holds_queued_rows_of_a_paused_pair_and_leaves_others(store: Store) -> None:
    ingest(store, message(), [entity("P-1"), entity("P-2", 2)], [], to_gfmis)  # a stale "not paused" process
    ingest(store, message(), [entity("P-3", 3)], [], lambda s, e: [Destination("gfmis", "other-route", 3)])
    assert store.outbox.reconcile_holds(PAUSED, ["gfmis"], now=T0) == (2, 0)
    assert sorted(s for _, s in states(store)) == ["held", "held", "pending"]
    assert store.outbox.reconcile_holds(PAUSED, ["gfmis"], now=T0) == (0, 0)  # idempotent


def test_route_service_refresh_reconciles_even_when_nothing_changed(store: Store) -> None:
    systems = {name: SimpleNamespace(description=SimpleNamespace(writes=["project"])) for name in ("eplan", "gfmis", "egp")}
    route = Route(name=ROUTE, source="eplan", entity_types=["project"], destinations=["gfmis", "egp"], paused=True)
    service = RouteService(store, Router([route]), systems)
    service.refresh()
    assert store.outbox.paused == {(ROUTE, "gfmis"), (ROUTE, "egp")}
    both = lambda s, e: [Destination("gfmis", ROUTE, 3), Destination("egp", ROUTE, 3)]  # noqa: E731
    ingest(store, message(), [entity("P-1")], [], both)  # queued as pending by a stale process
    assert store.outbox.claim_due("w", now=T0 + timedelta(seconds=1)) == []  # never sent while paused
    service.refresh()
    assert [s for _, s in states(store)] == ["held", "held"]

    # Resumed and egp dropped from the route in one put: the held egp row must not stay held forever.
    service.put(route.model_copy(update={"paused": False, "destinations": ["gfmis"]}), actor="test")
    assert [s for _, s in states(store)] == ["pending", "pending"]
    assert store.outbox.paused == frozenset()


def test_retry_of_a_paused_route_is_held_until_the_resume(store: Store) -> None:
    ingest(store, message(), [entity("P-1")], [], to_gfmis)
    (item,) = store.outbox.claim_due("w", now=T0)
    store.outbox.reconcile_holds(PAUSED, ["gfmis"], now=T0)  # paused while the write runs
    store.outbox.complete([Retry(item.outbox_id, T0 + timedelta(seconds=5), "503", attempt=item.attempts)], now=T0)
    assert states(store) == [(1, "held")]
    assert store.outbox.claim_due("w", now=T0 + timedelta(minutes=5)) == []
    store.outbox.reconcile_holds(frozenset(), ["gfmis"], now=T0 + timedelta(minutes=5))
    (again,) = store.outbox.claim_due("w", now=T0 + timedelta(minutes=5))
    assert again.outbox_id == item.outbox_id and again.attempts == 2


def test_a_paused_route_claims_nothing_even_before_its_rows_are_held(store: Store) -> None:
    ingest(store, message(), [entity("P-1")], [], to_gfmis)
    (item,) = store.outbox.claim_due("w", now=T0, lease_seconds=60)
    store.outbox.paused = PAUSED  # this process's table says paused; no reconcile has run yet
    assert store.outbox.claim_due("w2", now=T0 + timedelta(seconds=61)) == []  # expired lease not taken over
    ingest(store, message(), [entity("P-2", 2)], [], to_gfmis)
    assert store.outbox.claim_due("w2", now=T0 + timedelta(seconds=61)) == []
    assert store.outbox.reconcile_holds(PAUSED, ["gfmis"], now=T0 + timedelta(seconds=61)) == (2, 0)
    # The crashed worker's late success still counts.
    assert store.outbox.complete([Acknowledged(item.outbox_id, None)], now=T0 + timedelta(seconds=62)).delivered == 1


def test_replay_on_a_paused_route_is_held(store: Store) -> None:
    ingest(store, message(), [entity("P-1")], [], to_gfmis)
    (item,) = store.outbox.claim_due("w", now=T0)
    store.outbox.complete([Dead(item.outbox_id, "400")], now=T0)
    (letter,) = store.outbox.list_dead_letters()
    store.outbox.reconcile_holds(PAUSED, ["gfmis"], now=T0)
    assert store.outbox.replay_dead_letter(letter.id, now=T0).done
    assert states(store) == [(1, "held")]
    assert store.outbox.claim_due("w", now=T0 + timedelta(minutes=1)) == []


def test_replay_is_refused_while_a_newer_version_is_queued_in_flight_or_held(store: Store) -> None:
    letter = dead_under_a_newer_version(store)
    refused = store.outbox.replay_dead_letter(letter.id, now=T0)
    assert not refused.done and "version 2 is queued" in refused.message
    (v2,) = store.outbox.claim_due("w", now=T0)
    refused = store.outbox.replay_dead_letter(letter.id, now=T0)
    assert not refused.done and "version 2 is being sent" in refused.message
    store.outbox.complete([Retry(v2.outbox_id, T0, "503", attempt=v2.attempts)], now=T0)
    store.outbox.reconcile_holds(PAUSED, ["gfmis"], now=T0)
    refused = store.outbox.replay_dead_letter(letter.id, now=T0)
    assert not refused.done and "version 2 is held" in refused.message
    assert states(store) == [(1, "dead"), (2, "held")]

    assert store.outbox.replay_dead_letter(letter.id, now=T0, force=True).done  # an operator may insist


def test_a_give_back_does_not_count_the_attempt(store: Store) -> None:
    ingest(store, message(), [entity("P-1")], [], to_gfmis)  # max_attempts 3
    for _ in range(5):
        (item,) = store.outbox.claim_due("w", now=T0)
        assert item.attempts == 1
        summary = store.outbox.complete([GiveBack(item.outbox_id, T0, "lease", attempt=item.attempts)], now=T0)
        assert summary.retried == 1 and summary.dead == 0


def test_paused_pairs_of_a_route_table() -> None:
    routes = [
        Route(name="a", source="eplan", entity_types=["project"], destinations=["x", "y"], paused=True),
        Route(name="b", source="eplan", entity_types=["project"], destinations=["x", "y"], paused_destinations=["y"]),
        Route(name="c", source="eplan", entity_types=["project"], destinations=["x"]),
    ]
    assert paused_pairs(routes) == {("a", "x"), ("a", "y"), ("b", "y")}


async def test_a_running_hub_releases_rows_a_stale_process_held(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The reconcile must run in the hub's own refresh loop, not only when a route is changed."""
    import asyncio

    from core.hub import Hub
    from core.settings import HubSettings

    settings = HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", scheduler_enabled=False, role="scheduler")
    settings = settings.model_copy(update={"security": settings.security.model_copy(update={"route_refresh_s": 0.05})})
    hub = Hub.build(settings)
    await hub.start()
    try:
        route = hub.router.routes[0]
        held = [Destination(route.destinations[0], route.name, 3, held=True)]
        ingest(hub.store, message(), [entity("P-1")], [], lambda system, ent: held)
        assert [s for _, s in states(hub.store)] == ["held"]
        for _ in range(200):
            if [s for _, s in states(hub.store)] == ["pending"]:
                break
            await asyncio.sleep(0.02)
        assert [s for _, s in states(hub.store)] == ["pending"]
    finally:
        await hub.stop()
