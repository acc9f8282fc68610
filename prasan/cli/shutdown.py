"""Stopping `prasan serve` and `prasan demo` on SIGTERM (or Ctrl-C) without losing or doubling anything.

The first signal drains: ingest answers 503 with Retry-After, the workers claim nothing more, the
listener closes once the requests being answered are done, deliveries being written finish, and
whatever is still unfinished after `shutdown_grace_s` is given back for any process to send; then the
process exits 0. A second signal, or a drain that overruns its grace by HARD_MARGIN_S (a hung database
call), exits at once with EXIT_FORCED: rows left in flight are this process's own, which its restart takes
back at once (core/process_identity.py) and any other process takes over when their lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

from admin_api.app import serve
from core.hub import Hub

EXIT_FORCED = 1
HARD_MARGIN_S = 5.0


class Shutdown:
    """Turns SIGTERM and SIGINT into a drain of `hub` the first time, an immediate exit the second."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.requested = asyncio.Event()

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):  # not on this platform: the default action stays
                loop.add_signal_handler(signum, self._signalled, signum)

    def _signalled(self, signum: int) -> None:
        if self.requested.is_set():
            self._exit_now(f"second {signal.Signals(signum).name}")
        self.requested.set()
        grace = self.hub.settings.shutdown_grace_s
        print(f"prasan: {signal.Signals(signum).name}: draining (at most {grace:g} s)", file=sys.stderr, flush=True)
        self.hub.drain()
        # A thread, not the event loop: the loop may be the thing that hangs.
        timer = threading.Timer(grace + HARD_MARGIN_S, self._exit_now, args=("drain overran its grace",))
        timer.daemon = True
        timer.start()

    @staticmethod
    def _exit_now(why: str) -> None:
        print(f"prasan: {why}: exiting at once; a restart takes back what was in flight", file=sys.stderr, flush=True)
        os._exit(EXIT_FORCED)


async def serve_until_signalled(
    app: web.Application, hub: Hub, host: str, port: int, on_ready: Callable[[int], Awaitable[None]] | None = None
) -> None:
    """Run `app` (over `hub`) on host:port until SIGTERM or SIGINT, then stop it as described above."""
    shutdown = Shutdown(hub)
    shutdown.install()
    runner, bound = await serve(app, host, port, shutdown_timeout=hub.settings.shutdown_grace_s)
    # Everything loaded so far (plugins, reference data, compiled mappings: hundreds of thousands of
    # objects) lives as long as the process: moved out of the collector's sight, so that a full collection
    # while a large payload is mapped walks that payload's objects only. Each full walk holds the GIL,
    # and /healthz waited 60 ms for it even on an idle hub.
    gc.collect()
    gc.freeze()
    try:
        if on_ready is not None:
            await on_ready(bound)
        await shutdown.requested.wait()
    finally:
        await runner.cleanup()  # closes the listener, lets requests finish, then stops the hub (Hub.stop)
