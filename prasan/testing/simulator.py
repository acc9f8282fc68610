"""Building blocks of a plugin's simulator: auth, the standard `/_sim/log`, records, faults, idempotency.

See the package docstring (`prasan.testing`) for the API, the standard log format and an example.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

DEFAULT_API_KEY = "sim-key"
SIM_PREFIX = "/_sim/"


@dataclass
class Fault:
    """An injected failure: the next `times` requests (other than `/_sim/...`) are answered with
    `status` after `delay_s` seconds, with `Retry-After: <retry_after>` when it is given."""

    status: int = 503
    times: int = 1
    retry_after: float | int | None = None
    delay_s: float = 0.0
    message: str | None = None

    @classmethod
    def from_spec(cls, spec: dict[str, Any], **more: Any) -> Fault:
        """The fault a `POST /_sim/faults` item asks for (`more`: the fields a subclass adds)."""
        return cls(
            status=int(spec.get("status", 503)),
            times=int(spec.get("times", 1)),
            retry_after=spec.get("retry_after"),
            delay_s=float(spec.get("delay_s", 0)),
            message=spec.get("message"),
            **more,
        )


@dataclass
class Applied:
    """A record the simulator holds, with the idempotency key it was first written under."""

    record_id: str
    record: dict[str, Any]
    idempotency_key: str | None


@dataclass
class SimulatorState:
    """What a simulator holds: records, the idempotency table, the request log and pending faults.

    Args:
        api_key: the credential requests must carry (None: no auth); a wrong or missing one is answered
            401 and logged.
        auth_header / auth_scheme: where the credential goes (`Authorization` + `"Bearer"` for a token).
        idempotency_header: the header that carries a write's idempotency key.
    """

    api_key: str | None = DEFAULT_API_KEY
    auth_header: str = "X-Api-Key"
    auth_scheme: str | None = None
    idempotency_header: str = "Idempotency-Key"
    records: dict[str, Applied] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    # A JSON file the records, the idempotency table and the log are kept in across restarts (None: memory).
    state_file: Path | None = None
    _keys: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1), init=False, repr=False)

    def __post_init__(self) -> None:
        if self.state_file is None or not self.state_file.is_file():
            return
        kept = json.loads(self.state_file.read_text(encoding="utf-8"))
        self.records = {r["record_id"]: Applied(**r) for r in kept["records"]}
        self._keys = dict(kept["keys"])
        self.entries = list(kept["entries"])
        self._seq = itertools.count(len(self.entries) + 1)

    def save(self) -> None:
        """Write what the simulator holds to its state file (a handler that changes a record in place calls
        this); replaced whole, so a crash mid-write leaves the previous state, never half of one."""
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        kept = {"records": [asdict(a) for a in self.records.values()], "keys": self._keys, "entries": self.entries}
        partial = self.state_file.with_suffix(".partial")
        partial.write_text(json.dumps(kept, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(partial, self.state_file)

    # --- what handlers call ------------------------------------------------------------------------
    @staticmethod
    def of(request: web.Request) -> SimulatorState:
        """The state of the simulator app serving `request`."""
        return request.app[SIMULATOR_STATE]

    def key_of(self, request: web.Request) -> str | None:
        """The request's idempotency key (None when it carries none)."""
        return (request.headers.get(self.idempotency_header) or "").strip() or None

    def apply(self, key: str | None, record: dict[str, Any], *, record_id: str | None = None) -> tuple[str, bool]:
        """Store `record` once per idempotency key: `(record_id, first_apply)`.

        A key seen before changes nothing and answers the first record's id with `first_apply` False. With
        `record_id`, the record of that id is replaced (an update); without, a new id is made. A write with
        no key always applies (that is what a system without idempotency does)."""
        if key is not None and key in self._keys:
            return self._keys[key], False
        record_id = record_id or str(uuid.uuid4())
        self.records[record_id] = Applied(record_id, record, key)
        if key is not None:
            self._keys[key] = record_id
        self.save()
        return record_id, True

    def log(
        self, request: web.Request, *, key: str | None, status: int, replayed: bool = False, **extra: Any
    ) -> dict[str, Any]:
        """Append one entry to the standard log: one per write (one per item of a batch write)."""
        entry = {
            "seq": next(self._seq),
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "method": request.method,
            "path": request.path,
            "idempotency_key": key,
            "status": status,
            "replayed": replayed,
            **extra,
        }
        self.entries.append(entry)
        self.save()
        return entry

    # --- used by the middleware ------------------------------------------------------------------
    def next_fault(self) -> Fault | None:
        self.faults = [fault for fault in self.faults if fault.times > 0]
        if not self.faults:
            return None
        fault = self.faults[0]
        fault.times -= 1
        return fault

    def authorised(self, request: web.Request) -> bool:
        if self.api_key is None:
            return True
        expected = f"{self.auth_scheme} {self.api_key}" if self.auth_scheme else self.api_key
        return request.headers.get(self.auth_header) == expected


SIMULATOR_STATE = web.AppKey("prasan_simulator_state", SimulatorState)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Injected faults first (a broken gateway in front of the system), then the credential."""
    if request.path.startswith(SIM_PREFIX):
        return await handler(request)
    state = SimulatorState.of(request)
    fault = state.next_fault()
    if fault is not None:
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        state.log(request, key=state.key_of(request), status=fault.status, fault=True)
        return _error(fault.status, fault.message or f"simulated fault {fault.status}", headers)
    if not state.authorised(request):
        state.log(request, key=state.key_of(request), status=401)
        return _error(401, f"missing or wrong {state.auth_header}")
    return await handler(request)


async def _sim_health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _sim_log(request: web.Request) -> web.Response:
    return web.json_response({"entries": SimulatorState.of(request).entries}, dumps=_dumps)


async def _sim_records(request: web.Request) -> web.Response:
    records = [asdict(applied) for applied in SimulatorState.of(request).records.values()]
    return web.json_response({"records": records}, dumps=_dumps)


async def _sim_set_faults(request: web.Request) -> web.Response:
    state = SimulatorState.of(request)
    try:
        body = await request.json()
        specs = body if isinstance(body, list) else [body]
        faults = [Fault.from_spec(spec) for spec in specs]
    except (ValueError, TypeError, AttributeError) as exc:
        return _error(400, f'faults are {{"status", "times", "retry_after", "delay_s"}}: {exc}')
    state.faults.extend(faults)
    return web.json_response({"pending": [asdict(f) for f in state.faults]})


async def _sim_clear_faults(request: web.Request) -> web.Response:
    SimulatorState.of(request).faults.clear()
    return web.json_response({"pending": []})


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def simulator_app(state: SimulatorState | None = None, routes: Iterable[web.AbstractRouteDef] = ()) -> web.Application:
    """An aiohttp app with the system's `routes` (e.g. `web.post("/api/x", handler)`) behind the fault
    injection and the credential check, plus `/_sim/health`, `/_sim/log`, `/_sim/records` and
    `POST|DELETE /_sim/faults`. Handlers reach the state with `SimulatorState.of(request)`."""
    app = web.Application(middlewares=[_guard])
    app[SIMULATOR_STATE] = state if state is not None else SimulatorState()
    app.add_routes(list(routes))
    app.router.add_get("/_sim/health", _sim_health)
    app.router.add_get("/_sim/log", _sim_log)
    app.router.add_get("/_sim/records", _sim_records)
    app.router.add_post("/_sim/faults", _sim_set_faults)
    app.router.add_delete("/_sim/faults", _sim_clear_faults)
    return app


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Start `app` on `host` (port 0: a free one): `(runner, base_url)`. Stop it with `await runner.cleanup()`.

    No access log; a request still running at cleanup (a delayed fault) is cancelled within a second."""
    from admin_api.app import serve as serve_app

    runner, bound_port = await serve_app(app, host, port, handler_cancellation=True)
    return runner, f"http://{host}:{bound_port}"


@contextlib.asynccontextmanager
async def served(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """`app` served (as `serve` does) for the `async with` block: its base URL; stopped when the block ends."""
    runner, url = await serve(app, host, port)
    try:
        yield url
    finally:
        await runner.cleanup()


def simulator_arguments(description: str, port: int) -> argparse.ArgumentParser:
    """A simulator's command line: where it listens (`--host`, `--port`, this port by default); a
    simulator adds its own options before parsing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    return parser


def run_simulator(parser: argparse.ArgumentParser, build: Callable[[argparse.Namespace], web.Application]) -> None:
    """Parse a simulator's command line (`simulator_arguments` and its own options) and serve the app
    `build(args)` makes on `--host`/`--port` until interrupted."""
    args = parser.parse_args()
    web.run_app(build(args), host=args.host, port=args.port)


def seed_data(module_file: str, **json_options: Any) -> Any:
    """The seed data a simulator ships as `simulator_seed.json` beside its module (`module_file`: the
    module's `__file__`); `json_options` go to `json.loads` (e.g. `parse_float=Decimal`)."""
    return json.loads(Path(module_file).with_name("simulator_seed.json").read_text(encoding="utf-8"), **json_options)


def simulator_database(state_dir: Path | str | None, file_name: str, schema: str) -> sqlite3.Connection:
    """A simulator's own sqlite database with `schema` (CREATE ... IF NOT EXISTS statements): in memory, or
    `file_name` in `state_dir` (made when missing) so what it holds outlives a restart."""
    path = ":memory:" if state_dir is None else str(Path(state_dir) / file_name)
    if state_dir is not None:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False)
    db.executescript(schema)
    return db


def database_log(db: sqlite3.Connection) -> Handler:
    """A `GET /_sim/log` handler for a simulator that keeps its log in a `log` table of its database
    (seq, at, method, path, idempotency_key, body as JSON, status, and replayed where it tracks it):
    the standard entries in the table's column order, `at` named `time`."""

    async def sim_log(request: web.Request) -> web.Response:
        cursor = db.execute("SELECT * FROM log ORDER BY seq")
        columns = [column[0] for column in cursor.description]
        decode = {"body": json.loads, "replayed": bool}
        entries = [
            {("time" if name == "at" else name): decode.get(name, _same)(value) for name, value in zip(columns, row)}
            for row in cursor.fetchall()
        ]
        return web.json_response({"entries": entries})

    return sim_log


def _same(value: Any) -> Any:
    return value


def close_on_cleanup(app: web.Application, db: sqlite3.Connection) -> None:
    """Close the simulator's database when its app is cleaned up (the server stopped)."""

    async def close(app: web.Application) -> None:
        db.close()

    app.on_cleanup.append(close)


def free_port(preferred: int = 0) -> int:
    """`preferred` when nothing listens there, else a port the system picks; for a process that must
    be told its port before it starts (a subprocess, a Prometheus configuration)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
