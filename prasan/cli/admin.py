"""Operator commands of the `prasan` CLI: the same core services as the admin API, on the same
database, audited as `cli:<user>`. A running hub picks up route changes within
`security.route_refresh_s` seconds."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable
from typing import Any

from core.settings import HubSettings


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in some containers
        return "cli:unknown"


def _store() -> Any:
    from core.store import Store

    store = Store(HubSettings().resolved_database_url)
    store.upgrade()
    return store


def _with_store(work: Callable[[Any, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        store = _store()
        try:
            return work(store, args)
        finally:
            store.dispose()

    return run


# --- retention ---------------------------------------------------------------------------------------


def _retention_run(store: Any, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from core.store.retention import purge

    keep = HubSettings().retention
    outbox_days = args.outbox_days if args.outbox_days is not None else keep.outbox_delivered_days
    inbox_days = args.inbox_days if args.inbox_days is not None else keep.inbox_payload_days
    result = purge(
        store, datetime.now(UTC), outbox_delivered_days=outbox_days, inbox_payload_days=inbox_days,
        batch=keep.batch_size,
    )
    print(f"purged {result.outbox_rows} delivered outbox rows (older than {outbox_days} days) and "
          f"{result.inbox_payloads} inbox payloads (older than {inbox_days} days)")
    return 0


# --- tokens ------------------------------------------------------------------------------------------


def _tokens_add(store: Any, args: argparse.Namespace) -> int:
    token, plain = store.access.add_admin_token(args.name, args.role, actor=_actor())
    print(f"admin token {token.name} with role {token.role}; the token is shown once:", file=sys.stderr)
    print(plain)
    return 0


def _tokens_list(store: Any, args: argparse.Namespace) -> int:
    for t in store.access.list_admin_tokens():
        print(f"{t.name}\t{t.role}\t{t.token_prefix}...\t{'revoked' if t.disabled else 'active'}")
    return 0


def _tokens_revoke(store: Any, args: argparse.Namespace) -> int:
    if not store.access.revoke_admin_token(args.name, actor=_actor()):
        print(f"no active token named {args.name!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.name}")
    return 0


# --- dead letters ------------------------------------------------------------------------------------


def _dlq_filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"destination": args.destination, "entity_type": args.entity_type, "reason_contains": args.reason_contains}


def _dlq_list(store: Any, args: argparse.Namespace) -> int:
    for d in store.outbox.find_dead_letters(**_dlq_filters(args), include_resolved=args.all, limit=args.limit):
        state = d.resolution or "open"
        print(f"{d.id}\t{d.destination}\t{d.entity_type}\t{d.entity_id}\tv{d.version}\t{state}\t{d.reason}")
    return 0


def _dlq_replay(store: Any, args: argparse.Namespace) -> int:
    from core.admin.operations import replay_many

    if args.ids and args.matching:
        print("give dead-letter ids or --matching, not both", file=sys.stderr)
        return 2
    if args.matching:
        outcome = asyncio.run(replay_many(store, _dlq_filters(args), _actor(), args.note, args.limit))
        print(f"matched {outcome.matched}, replayed {outcome.replayed}, skipped {outcome.skipped}", file=sys.stderr)
        results = outcome.results
    elif args.ids:
        results = [store.outbox.replay_dead_letter(i, args.note, force=args.force, actor=_actor()) for i in args.ids]
    else:
        print("give dead-letter ids, or --matching with filters", file=sys.stderr)
        return 2
    for r in results:
        print(f"{r.dead_letter_id}\t{'replayed' if r.done else 'unchanged'}\t{r.message}")
    return 0 if all(r.done for r in results) else 1


def _dlq_discard(store: Any, args: argparse.Namespace) -> int:
    result = store.outbox.discard_dead_letter(args.id, args.reason, actor=_actor())
    print(f"{result.dead_letter_id}\t{'discarded' if result.done else 'unchanged'}\t{result.message}")
    return 0 if result.done else 1


# --- routes and cursors ------------------------------------------------------------------------------


def _route_service(store: Any) -> Any:
    from core.admin.routes import RouteService
    from core.plugin_manager import load_plugins
    from core.router import Router

    settings = HubSettings()
    registry = load_plugins()
    service = RouteService(store, Router.from_file(settings.routes_file), registry.systems)
    service.load()
    return service


def _routes_list(store: Any, args: argparse.Namespace) -> int:
    service = _route_service(store)
    for r in service.list():
        paused = "paused" if r.paused else ",".join(f"{d}:paused" for d in r.paused_destinations) or "active"
        print(f"{r.name}\t{r.source}->{','.join(r.destinations)}\t{','.join(r.entity_types)}\t{paused}\t{service.source_of(r.name)}")
    return 0


def _routes_pause(paused: bool) -> Callable[[Any, argparse.Namespace], int]:
    def run(store: Any, args: argparse.Namespace) -> int:
        from core.admin.routes import RouteNotFound

        try:
            route = _route_service(store).set_paused(args.name, paused, _actor(), args.destination)
        except RouteNotFound:
            print(f"no route {args.name!r}" + (f" with destination {args.destination!r}" if args.destination else ""), file=sys.stderr)
            return 1
        print(f"{route.name}: {'paused' if route.paused else 'active'}; paused destinations: {route.paused_destinations}")
        return 0

    return run


def _cursors_list(store: Any, args: argparse.Namespace) -> int:
    for c in store.config.list_cursors():
        print(f"{c.system}\t{c.entity_type}\t{c.cursor}\t{c.updated_at.isoformat()}")
    return 0


def _cursors_set(store: Any, args: argparse.Namespace) -> int:
    cursor = None if args.reset else args.cursor
    store.config.set_cursor(args.system, args.entity_type, cursor, actor=_actor())
    print(f"{args.system}/{args.entity_type}: {cursor}")
    return 0


def _pull(args: argparse.Namespace) -> int:
    from core.admin.operations import pull_now
    from core.hub import Hub

    async def main() -> int:
        hub = Hub.build(HubSettings())
        await hub.start(workers=False, scheduler=False)
        try:
            return await pull_now(hub.pulls, hub.store, args.system, args.entity_type, _actor())
        finally:
            await hub.stop()

    print(f"{asyncio.run(main())} records pulled")
    return 0


def add_admin_commands(commands: Any) -> None:
    tokens = commands.add_parser("tokens", help="admin API tokens").add_subparsers(dest="tokens_command", required=True)
    add = tokens.add_parser("add", help="create a token; prints it as the last line")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["analyst", "viewer", "operator", "admin"])
    add.set_defaults(func=_with_store(_tokens_add))
    tokens.add_parser("list", help="list tokens").set_defaults(func=_with_store(_tokens_list))
    revoke = tokens.add_parser("revoke", help="revoke a token")
    revoke.add_argument("name")
    revoke.set_defaults(func=_with_store(_tokens_revoke))

    retention = commands.add_parser("retention", help="purge what is past its retention age").add_subparsers(
        dest="retention_command", required=True
    )
    run = retention.add_parser(
        "run", help="purge delivered outbox rows and inbox payloads past retention now (the rule: docs/operations.md)"
    )
    run.add_argument("--outbox-days", type=float, help="override retention.outbox_delivered_days")
    run.add_argument("--inbox-days", type=float, help="override retention.inbox_payload_days")
    run.set_defaults(func=_with_store(_retention_run))

    dlq = commands.add_parser("dlq", help="dead letters").add_subparsers(dest="dlq_command", required=True)
    for name, func, text in (("list", _dlq_list, "list dead letters"), ("replay", _dlq_replay, "replay dead letters")):
        sub = dlq.add_parser(name, help=text)
        sub.add_argument("--destination")
        sub.add_argument("--entity-type")
        sub.add_argument("--reason-contains")
        # Listing shows a page; a bulk replay runs to the end unless told otherwise.
        sub.add_argument("--limit", type=int, default=100 if name == "list" else None)
        if name == "list":
            sub.add_argument("--all", action="store_true", help="resolved ones too")
        else:
            sub.add_argument("ids", nargs="*", type=int)
            sub.add_argument("--matching", action="store_true", help="replay every open one matching the filters")
            sub.add_argument("--note")
            sub.add_argument("--force", action="store_true", help="even if a newer version was delivered")
        sub.set_defaults(func=_with_store(func))
    discard = dlq.add_parser("discard", help="discard a dead letter with a reason")
    discard.add_argument("id", type=int)
    discard.add_argument("--reason", required=True)
    discard.set_defaults(func=_with_store(_dlq_discard))

    routes = commands.add_parser("routes", help="routes").add_subparsers(dest="routes_command", required=True)
    routes.add_parser("list", help="routes in force").set_defaults(func=_with_store(_routes_list))
    for name, paused in (("pause", True), ("resume", False)):
        sub = routes.add_parser(name, help=f"{name} a route or one destination on it")
        sub.add_argument("name")
        sub.add_argument("--destination")
        sub.set_defaults(func=_with_store(_routes_pause(paused)))

    cursors = commands.add_parser("cursors", help="pull cursors").add_subparsers(dest="cursors_command", required=True)
    cursors.add_parser("list", help="saved cursors").set_defaults(func=_with_store(_cursors_list))
    setc = cursors.add_parser("set", help="set a cursor (backfill from a point) or --reset it")
    setc.add_argument("system")
    setc.add_argument("entity_type")
    setc.add_argument("cursor", nargs="?")
    setc.add_argument("--reset", action="store_true", help="start the next pull from the beginning")
    setc.set_defaults(func=_with_store(_cursors_set))

    pull = commands.add_parser("pull", help="pull (system, entity type) now from its cursor")
    pull.add_argument("system")
    pull.add_argument("entity_type")
    pull.set_defaults(func=_pull)
