"""`prasan demo`: the hub on the embedded default (SQLite) with every bundled simulator on 127.0.0.1.

Prints what a newcomer needs (URLs, keys, a ready-made curl) and writes the same to `var/demo.json`.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from core.scope import EVERY_ORGANISATION
from prasan.testing.simulator import free_port
from core.paths import package_folder
from core.settings import HubSettings

SIMULATOR_PORTS = {"eplan": 8091, "elaas": 8092}


async def start_simulators(registry: Any) -> tuple[dict[str, str], dict[str, dict[str, Any]], list[web.AppRunner]]:
    """Start each plugin's `simulator.create_app()`; return URLs, the settings pointing at them, runners."""
    urls: dict[str, str] = {}
    system_settings: dict[str, dict[str, Any]] = {}
    runners: list[web.AppRunner] = []
    for name in registry.names():
        system = registry.get(name).cls
        app = system.simulator()
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


async def _demo(port: int) -> None:
    from admin_api.app import create_app, serve
    from core.hub import Hub
    from core.logging import configure_logging
    from core.plugin_manager import load_plugins

    base = HubSettings()
    configure_logging(base.log_level, base.log_format)
    registry = load_plugins()
    urls, system_settings, runners = await start_simulators(registry)
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
    runner, bound = await serve(create_app(hub), "127.0.0.1", free_port(port))
    hub_url = f"http://127.0.0.1:{bound}"
    demo = {"hub_url": hub_url, "admin_token": admin_token, "clients": clients, "simulators": urls}
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    (settings.var_dir / "demo.json").write_text(json.dumps(demo, indent=2, ensure_ascii=False), encoding="utf-8")
    lines = [f"Prasan hub: {hub_url}   (health: {hub_url}/readyz)"]
    lines += [f"  simulator {name}: {url}" for name, url in urls.items()]
    lines += [f"  API key for {name}: {key}" for name, key in clients.items()]
    lines += [f"  admin token: {admin_token}   (API docs: {hub_url}/api/v1/docs)"]
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
        ]
    lines += ["", f"(the same as JSON in {settings.var_dir / 'demo.json'}; Ctrl-C stops)"]
    print("\n".join(lines), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
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
    try:
        asyncio.run(_demo(port))
    except KeyboardInterrupt:
        print("demo stopped", file=sys.stderr)
    return 0
