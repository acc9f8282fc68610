"""`prasan simulate SYSTEM`: one bundled system's simulator as a process of its own.

A crash test that kills the hub must not kill the systems it checks the hub against, so each simulator
can run alone: it prints its URL and the settings (credentials included) that point the hub at it, and
with `--state DIR` keeps what it received across restarts (for simulators that can; the others say so).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import json
import signal
import sys
from pathlib import Path

from admin_api.app import serve
from core.plugin_manager import load_plugins


def _app(module_name: str, state_dir: Path | None) -> object:
    create_app = importlib.import_module(module_name).create_app
    if state_dir is None:
        return create_app()
    if "state_dir" not in inspect.signature(create_app).parameters:
        raise SystemExit("this simulator keeps its state in memory only; run it without --state")
    state_dir.mkdir(parents=True, exist_ok=True)
    return create_app(state_dir)


async def _run(system: str, host: str, port: int, state_dir: Path | None) -> None:
    registry = load_plugins()
    if system not in registry:
        raise SystemExit(f"no plugin provides system {system!r} (installed: {', '.join(registry.names())})")
    cls = registry.get(system).cls
    if cls.simulator_module is None:
        raise SystemExit(f"system {system!r} has no simulator")
    runner, bound = await serve(_app(cls.simulator_module, state_dir), host, port)  # type: ignore[arg-type]
    url = f"http://{host}:{bound}"
    settings = cls.simulator_settings(url)
    print(f"{system} simulator: {url}", flush=True)
    print(f"settings for the hub (PRASAN_SYSTEMS__{system.upper()}__...): {json.dumps(settings, ensure_ascii=False)}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def cmd_simulate(args: argparse.Namespace) -> int:
    asyncio.run(_run(args.system, args.host, args.port, Path(args.state) if args.state else None))
    print("simulator stopped", file=sys.stderr)
    return 0


def add_simulate_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    simulate = commands.add_parser("simulate", help="run one bundled system's simulator as its own process")
    simulate.add_argument("system")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    simulate.add_argument("--state", help="folder where the simulator keeps what it received across restarts")
    simulate.set_defaults(func=cmd_simulate)
