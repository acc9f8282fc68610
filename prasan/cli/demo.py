"""`prasan demo`: the hub on the embedded default (SQLite) with every bundled simulator on 127.0.0.1.

Prints what a newcomer needs (URLs, keys, a ready-made curl) and writes the same to `var/demo.json`.

The hub's SQLite database in `var/` outlives a run, so the simulators must too: a simulator whose
`create_app` takes a `state_dir` keeps its state in `var/simulators/<system>/`. Otherwise, after a restart,
re-posting the sample would answer `changed: false` (the hub has it) while the destination simulator
starts empty, and it would look as if delivery had failed. When a simulator that receives deliveries
cannot keep its state, the demo starts the hub's database afresh instead, and says so.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import secrets
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from core.admin.routes import KIND as ROUTE_OVERRIDES
from core.paths import package_folder
from core.router import Router
from core.scope import EVERY_ORGANISATION
from core.settings import HubSettings
from core.store import Store
from prasan.testing.simulator import free_port

SIMULATOR_PORTS = {"eplan": 8091, "elaas": 8092}
SIMULATOR_STATE = "simulators"  # under var/, beside the hub's database


def _keeps_state(system: Any) -> bool:
    """Whether the system's simulator can keep its state in a folder (its create_app takes `state_dir`)."""
    if system.simulator_module is None:
        return False
    create_app = getattr(importlib.import_module(system.simulator_module), "create_app", None)
    return create_app is not None and "state_dir" in inspect.signature(create_app).parameters


def _simulator_app(system: Any, name: str, state_root: Path | None) -> web.Application | None:
    if state_root is not None and _keeps_state(system):
        app: web.Application = importlib.import_module(system.simulator_module).create_app(state_dir=state_root / name)
        return app
    return system.simulator()


async def start_simulators(
    registry: Any, state_root: Path | None = None
) -> tuple[dict[str, str], dict[str, dict[str, Any]], list[web.AppRunner]]:
    """Start each plugin's simulator, keeping its state under `state_root` where it can; return URLs, the
    settings pointing at them, runners."""
    urls: dict[str, str] = {}
    system_settings: dict[str, dict[str, Any]] = {}
    runners: list[web.AppRunner] = []
    for name in registry.names():
        system = registry.get(name).cls
        app = _simulator_app(system, name, state_root)
        if app is None:
            continue
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port(SIMULATOR_PORTS.get(name, 0))
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        urls[name] = f"http://127.0.0.1:{port}"
        system_settings[name] = system.simulator_settings(urls[name])
    return urls, system_settings, runners


def _sample_for(system: str) -> Path | None:
    try:
        folder = package_folder(f"plugins.{system}") / "samples"  # wherever the plugin is installed
    except ImportError:
        return None
    candidates = sorted(folder.glob("*utf8*.csv")) + sorted(folder.glob("*.csv"))
    return candidates[0] if candidates else None


def _shown(path: Path) -> str:
    """The path as a curl run from the current folder can use it: relative below that folder, else absolute."""
    here = Path.cwd()
    return os.path.relpath(path, here) if path.is_relative_to(here) else str(path)


def _delivered_to(settings: HubSettings) -> set[str]:
    """Every system a route in force delivers to: routes.yaml and the changes stored in the database."""
    found = {d for route in Router.from_file(settings.routes_file).routes for d in route.destinations}
    store = Store(settings.resolved_database_url)
    try:
        store.upgrade()
        for override in store.config.overrides(ROUTE_OVERRIDES):
            value = override.value if isinstance(override.value, dict) else {}
            found.update(str(d) for d in value.get("destinations") or [])
    finally:
        store.dispose()
    return found


def _keep_or_start_afresh(settings: HubSettings, registry: Any) -> list[str]:
    """Keep the hub's database when every simulator it delivers to keeps its state too; otherwise delete
    the demo's own database and the simulators' state (never a database the operator configured).
    Returns the lines to show about it."""
    database = settings.var_dir / "prasan.db"
    own_database = not settings.database_url
    if own_database and not database.exists():
        return []
    forgetful = sorted(
        name for name in _delivered_to(settings)
        if name in registry and registry.get(name).cls.simulator_module is not None
        and not _keeps_state(registry.get(name).cls)
    )
    if not forgetful:
        return []
    if not own_database:
        return [f"Note: the simulators of {', '.join(forgetful)} keep their state only in memory, so after a restart "
                "they start empty while the configured database remembers what was delivered to them."]
    for leftover in (database, *database.parent.glob(database.name + "-*")):  # -wal, -shm, -journal
        leftover.unlink(missing_ok=True)
    shutil.rmtree(settings.var_dir / SIMULATOR_STATE, ignore_errors=True)
    return [f"Started afresh: the simulators of {', '.join(forgetful)} receive deliveries but keep no state "
            f"across runs, so the hub's demo database ({database}) and the simulators' state were deleted."]


async def _demo(port: int) -> None:
    from admin_api.app import create_app
    from prasan.cli.shutdown import serve_until_signalled
    from core.hub import Hub
    from core.logging import configure_logging
    from core.plugin_manager import load_plugins

    base = HubSettings()
    configure_logging(base.log_level, base.log_format)
    registry = load_plugins()
    notes = await asyncio.to_thread(_keep_or_start_afresh, base, registry)
    state_root = base.var_dir / SIMULATOR_STATE
    urls, system_settings, runners = await start_simulators(registry, state_root)
    kept = sorted(n for n in urls if _keeps_state(registry.get(n).cls))
    readers = [name for name in registry.names() if registry.get(name).cls.streams]
    settings = base.model_copy(
        update={
            "systems": {**system_settings, **base.systems},
            "pull_schedules": base.pull_schedules or {name: {"interval_s": 30} for name in readers},
            # The simulators run here, so the demo lets system URLs be changed to local ones.
            "destination_url_allowlist": base.destination_url_allowlist or ["http://127.0.0.1"],
        }
    )
    hub = Hub.build(settings, registry=registry)
    await asyncio.to_thread(hub.store.upgrade)
    clients: dict[str, str] = {}
    for name in registry.names():
        if registry.get(name).cls.formats:
            _, key = await asyncio.to_thread(hub.store.access.replace_client_key, f"demo-{name}", name)
            # The demo's clients write for every organisation, so any area's sample works.
            every = {"allowed_orgs": EVERY_ORGANISATION, "allowed_provinces": EVERY_ORGANISATION}
            await asyncio.to_thread(hub.store.access.update_client, f"demo-{name}", every, actor="demo")
            clients[name] = key
    admin_token = await asyncio.to_thread(_fresh_admin_token, hub.store)

    async def announce(bound: int) -> None:
        hub_url = f"http://127.0.0.1:{bound}"
        demo = {"hub_url": hub_url, "admin_token": admin_token, "clients": clients, "simulators": urls}
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        (settings.var_dir / "demo.json").write_text(json.dumps(demo, indent=2, ensure_ascii=False), encoding="utf-8")
        lines = [*notes, *([""] if notes else [])]
        lines += [f"Prasan hub: {hub_url}   (health: {hub_url}/readyz; the page for citizens: {hub_url}/)"]
        lines += [f"  simulator {name}: {url}" for name, url in urls.items()]
        lines += [f"  API key for {name}: {key}" for name, key in clients.items()]
        lines += [f"  admin token: {admin_token}   (API docs: {hub_url}/api/v1/docs)"]
        simulators = f" and the state of the {', '.join(kept)} simulators are" if kept else " is"
        where = f"the hub's database{simulators} kept in {settings.var_dir}"
        if settings.database_url:  # the operator's database, not the demo's to describe or delete
            where = f"the state of the {', '.join(kept) or 'no'} simulators is kept in {state_root}"
        lines += [f"  {where} across runs (`make clean` starts afresh)"]
        sample = _sample_for("eplan")
        if "eplan" in clients and sample is not None:
            lines += [
                "",
                "Post a ผ.02 project table to e-Plan's inbound endpoint:",
                f"  curl -sS -X POST {hub_url}/api/v1/inbound/eplan \\",
                f"       -H 'Authorization: Bearer {clients['eplan']}' \\",
                "       -H 'Content-Type: text/csv; charset=utf-8' \\",
                f"       --data-binary {shlex.quote('@' + _shown(sample))}",
                "Then see what reached e-LAAS:",
                f"  curl -sS {urls.get('elaas', '')}/_sim/records",
                "See the hub's entities, then one of them with its versions, cross-references and deliveries"
                " (its id is in the answer to the post, under entities):",
                f"  curl -sS -H {shlex.quote('Authorization: Bearer ' + admin_token)} \\",
                f"       '{hub_url}/api/v1/entities?entity_type=plan_project&limit=5'",
                f"  curl -sS -H {shlex.quote('Authorization: Bearer ' + admin_token)} {hub_url}/api/v1/entities/ENTITY_ID",
            ]
        lines += [
            "",
            "Play the pilot's scenario (an อบต. in Nakhon Nayok enters a project once; e-LAAS, e-budgeting, e-GP and",
            "GF-MIS recognise it) in another terminal, then see the project's chain it prints:",
            f"  prasan pilot --demo-file {shlex.quote(str(settings.var_dir / 'demo.json'))}",
        ]
        lines += ["", f"(the same as JSON in {settings.var_dir / 'demo.json'}; Ctrl-C stops)"]
        print("\n".join(lines), flush=True)

    try:
        await serve_until_signalled(create_app(hub), hub, "127.0.0.1", free_port(port), announce)
    finally:
        for simulator_runner in runners:
            await simulator_runner.cleanup()


def _fresh_admin_token(store: Any) -> str:
    """A new admin token for this run; those of earlier runs are revoked."""
    for token in store.access.list_admin_tokens():
        if token.name.startswith("demo-admin") and not token.disabled:
            store.access.revoke_admin_token(token.name, actor="demo")
    _, plain = store.access.add_admin_token(f"demo-admin-{secrets.token_hex(4)}", "admin", actor="demo")
    return plain


def run_demo(port: int = 8080) -> int:
    asyncio.run(_demo(port))  # SIGTERM and Ctrl-C drain and return (prasan/cli/shutdown.py)
    print("demo stopped", file=sys.stderr)
    return 0
