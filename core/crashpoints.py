"""Test-only: named steps where a crash test makes the hub die, to show that a restart loses nothing and
applies nothing twice (tests/e2e/test_crash_safety.py).

Off unless the process starts with `PRASAN_CRASH_AT=<step>`; then the first time the process reaches that
step it kills itself with SIGKILL, as a power cut would, with nothing flushed or rolled back by Python.
With `PRASAN_CRASH_SIGNAL=SIGSTOP` it freezes there instead (a paused VM, a stalled disk) until a SIGCONT.
An unknown step or signal stops the process at start rather than silently never crashing.

    after_claim   delivery rows claimed (committed, in flight), nothing sent yet
    after_send    a write's request was handed to the network, its answer not yet read
    after_ack     the destination answered the write, its results not yet stored
    dead_letter   inside the transaction that dead-letters a delivery, before its commit
    replay        inside the transaction that replays a dead letter, before its commit
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from types import SimpleNamespace
from typing import Any

STEPS = ("after_claim", "after_send", "after_ack", "dead_letter", "replay")
ENV = "PRASAN_CRASH_AT"

ARMED = os.environ.get(ENV) or None
if ARMED is not None and ARMED not in STEPS:
    raise SystemExit(f"{ENV}={ARMED!r} names no crash point (known: {', '.join(STEPS)})")
_SIGNAL_NAME = os.environ.get("PRASAN_CRASH_SIGNAL", "SIGKILL")
if _SIGNAL_NAME not in ("SIGKILL", "SIGSTOP"):
    raise SystemExit(f"PRASAN_CRASH_SIGNAL={_SIGNAL_NAME!r}: SIGKILL or SIGSTOP")
SIGNAL = signal.Signals[_SIGNAL_NAME]


def reached(step: str) -> None:
    """Die (or freeze) here the first time the armed step is reached; a no-op otherwise."""
    global ARMED
    if step == ARMED:
        ARMED = None
        sys.stderr.write(f"crash point {step}: {SIGNAL.name}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), SIGNAL)


def http_trace_configs() -> list[Any]:
    """For the hub's HTTP session: with `after_send` armed, a trace that dies once a request's body is sent."""
    if ARMED != "after_send":
        return []
    import aiohttp

    async def sent(session: Any, context: SimpleNamespace, params: Any) -> None:
        # Called just before the body is written: die on the loop's next turn, once it is on the socket.
        if params.method in ("POST", "PUT"):
            asyncio.get_running_loop().call_soon(reached, "after_send")

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(sent)
    return [trace]
