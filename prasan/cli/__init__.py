"""The `prasan` command line."""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path
from typing import Any

from core.settings import HubSettings


def _settings() -> HubSettings:
    return HubSettings()


def cmd_serve(args: argparse.Namespace) -> int:
    from admin_api.app import create_app
    from core.hub import Hub
    from core.logging import configure_logging
    from prasan.cli.shutdown import serve_until_signalled

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    host = args.host or settings.http_host
    port = args.port if args.port is not None else settings.http_port

    async def main() -> None:
        hub = Hub.build(settings)

        async def announce(bound: int) -> None:
            print(f"prasan hub listening on http://{host}:{bound}", flush=True)

        await serve_until_signalled(create_app(hub), hub, host, port, announce)

    asyncio.run(main())  # SIGTERM and Ctrl-C drain and return (prasan/cli/shutdown.py)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from prasan.cli.demo import run_demo

    return run_demo(port=args.port)


def cmd_pilot(args: argparse.Namespace) -> int:
    from prasan.cli.pilot import run_pilot

    return run_pilot(Path(args.demo_file) if args.demo_file else _settings().var_dir / "demo.json")


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from core.store import Store

    store = Store(_settings().resolved_database_url)
    store.upgrade()
    print(f"database at revision {store.current_revision()}")
    store.dispose()
    return 0


def cmd_projections_rebuild(args: argparse.Namespace) -> int:
    from core.hub import Hub

    # Built as the hub is, so that the organisations' areas and the reconciliation rules are the ones in force.
    hub = Hub.build(_settings())
    hub.store.upgrade()
    started = time.monotonic()
    projects = hub.store.ledger.rebuild(page_size=args.page_size)
    print(f"area ledger rebuilt: {projects} plan projects read in {time.monotonic() - started:.1f} s")
    hub.store.dispose()
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from core.plugin_manager import load_plugins

    registry = load_plugins()
    for name in registry.names():
        description = registry.get(name).description
        capabilities = ",".join(sorted(c.value for c in description.capabilities))
        print(f"{name}\t{description.version}\t{capabilities}\t{description.title}")
    for failure in registry.failures:
        print(f"FAILED {failure.plugin}\t{failure.stage}: {failure.error}", file=sys.stderr)
    return 1 if registry.failures else 0


def cmd_plugin_new(args: argparse.Namespace) -> int:
    from core.scaffold import ScaffoldError, new_plugin

    try:
        folder = new_plugin(args.name, args.dest, title=args.title, owner_agency=args.owner_agency)
    except ScaffoldError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"wrote {folder}: cd there, `pip install -e '.[test]'`, `python -m pytest` (see its README.md)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the configuration as `prasan serve` would, without starting anything. A system with bad
    settings is a problem when a route or a pull schedule uses it; an unused one is only noted."""
    from core.errors import ConfigError
    from core.hub import Hub

    settings = _settings()
    try:
        hub = Hub.build(settings)
    except ConfigError as exc:  # routes or reference data the hub could not even be built with
        print(f"problem\t{exc.message}")
        return 1
    problems: list[str] = [f"plugin {f.plugin} failed to load ({f.stage}): {f.error}" for f in hub.registry.failures]
    used = {system for route in hub.router.routes for system in (route.source, *route.destinations)}
    used |= set(settings.pull_schedules)
    unconfigured = hub.unconfigured_destinations()
    for name in hub.registry.names():
        found = hub.systems.problems.get(name)
        if not found:
            print(f"ok\t{name}")
        elif name in used:
            role = " (a destination of an enabled route)" if name in unconfigured else " (used by a route or a pull)"
            problems += [f"{problem}{role}" for problem in found]
        else:
            print(f"unused\t{name}: not configured, and no route or pull uses it")
    for problem in problems:
        print(f"problem\t{problem}")
    if unconfigured and not settings.delivery.hold_unconfigured:
        print("prasan serve would refuse to start: routes deliver to systems that are not configured")
    return 1 if problems else 0


def cmd_clients_add(args: argparse.Namespace) -> int:
    from core.plugin_manager import load_plugins
    from core.store import Store

    registry = load_plugins()
    if args.system in registry and not registry.get(args.system).cls.formats:
        print(f"system {args.system!r} takes no inbound data; a client for it could never post", file=sys.stderr)
        return 2
    if args.system not in registry:
        print(f"no plugin provides system {args.system!r}", file=sys.stderr)
        return 2
    if (args.org or args.province) and args.all_orgs:
        print("--all-orgs cannot be combined with --org or --province", file=sys.stderr)
        return 2
    if not (args.org or args.province):
        # `prasan clients add NAME --system SYSTEM` is the documented way to get a key (the hub-core
        # contract), so it keeps working; the operator is told what such a key may do.
        print(
            "note: this client may write for every organisation; use --org/--province to restrict it",
            file=sys.stderr,
        )
    store = Store(_settings().resolved_database_url)
    store.upgrade()
    client, key = store.access.add_client(
        args.name, args.system, allowed_orgs=args.org, allowed_provinces=args.province, hmac=args.hmac, actor="cli"
    )
    store.dispose()
    print(f"client {client.name} for system {client.system}; the key is shown once:", file=sys.stderr)
    if client.hmac_secret:
        print(f"signing secret: {client.hmac_secret}")
    print(key)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prasan", description="Prasan: Thai plan-and-budget integration hub")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the hub: HTTP API, delivery workers and scheduler")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    demo = commands.add_parser("demo", help="run the hub with every bundled simulator on 127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.set_defaults(func=cmd_demo)
    pilot = commands.add_parser(
        "pilot", help="play the pilot's scenario (one project through all six systems) against a running demo"
    )
    pilot.add_argument("--demo-file", help="the running demo's demo.json (default: var/demo.json)")
    pilot.set_defaults(func=cmd_pilot)

    plugins = commands.add_parser("plugins", help="list installed system plugins (and those that failed to load)")
    plugins.set_defaults(func=cmd_plugins)

    plugin = commands.add_parser("plugin", help="plugin authoring").add_subparsers(dest="plugin_command", required=True)
    new = plugin.add_parser("new", help="write prasan-NAME/, a destination plugin package that passes its own tests")
    new.add_argument("name", help="the system's name (lower case, digits, _)")
    new.add_argument("--dest", default=".", help="folder to write prasan-NAME/ into (default: the current one)")
    new.add_argument("--title", help="the system's title (default: its name)")
    new.add_argument("--owner-agency", help="the agency that runs the system")
    new.set_defaults(func=cmd_plugin_new)

    check = commands.add_parser("check", help="validate plugins, system settings and routes without starting")
    check.set_defaults(func=cmd_check)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply migrations up to the newest")
    upgrade.set_defaults(func=cmd_db_upgrade)

    projections = commands.add_parser("projections", help="read models kept beside the entities")
    projection_commands = projections.add_subparsers(dest="projections_command", required=True)
    rebuild = projection_commands.add_parser(
        "rebuild", help="project every plan project into the area ledger again (after a change of rules or an upgrade)"
    )
    rebuild.add_argument("--page-size", type=int, default=500, help="plan projects per transaction")
    rebuild.set_defaults(func=cmd_projections_rebuild)

    clients = commands.add_parser("clients", help="API clients of producer systems")
    client_commands = clients.add_subparsers(dest="clients_command", required=True)
    add = client_commands.add_parser("add", help="create a client; prints its new key as the last line")
    add.add_argument("name")
    add.add_argument("--system", required=True)
    add.add_argument("--org", action="append", help="organisation code the client may write (repeatable)")
    add.add_argument("--province", action="append", help="DOPA province code the client may write")
    add.add_argument("--all-orgs", action="store_true", help="the client may write for every organisation")
    add.add_argument("--hmac", action="store_true", help="require signed requests (prints the signing secret)")
    add.set_defaults(func=cmd_clients_add)

    from prasan.cli.admin import add_admin_commands
    from prasan.cli.importing import add_import_command
    from prasan.cli.simulate import add_simulate_command

    add_admin_commands(commands)
    add_import_command(commands)
    add_simulate_command(commands)
    return parser


GIL_SWITCH_INTERVAL_S = 0.001
# The collector's youngest generation is collected every 20,000 net allocations instead of 700. While a
# 50,000-row payload was mapped, the default ran about forty collections of 5-57 ms, mostly full ones
# walking the payload's objects with the GIL held: about 1 s in all, beside the loop's /healthz. At
# 20,000 it was fifteen and 171 ms. Garbage cycles wait a little longer; the payload's objects are
# freed by reference count either way.
GC_THRESHOLDS = (20_000, 10, 10)


def main(argv: list[str] | None = None) -> int:
    from core.memory import tune_malloc

    tune_malloc()  # before any thread starts (core/memory.py)
    # The event loop shares the GIL with the parse and store threads, and waits up to the switch interval
    # for it each time it wakes: with hostile payloads parsing (benchmarks/hostile_payloads.py, load
    # average 5-6), /healthz p99 was 195-319 ms at the default 5 ms and 77-90 ms at 1 ms.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    gc.set_threshold(*GC_THRESHOLDS)
    args: Any = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
