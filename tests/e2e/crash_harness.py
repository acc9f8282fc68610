"""The hub and the systems it is checked against as separate processes, producers that note every answer,
and the check that compares what producers were told with what the simulators applied.

Used by tests/e2e/test_crash_safety.py, tests/e2e/test_graceful_shutdown.py and the long run
(scripts/crash_test.py --cycles N). The hub is `prasan serve` and the simulators are `prasan simulate
SYSTEM --state DIR`, so killing the hub kills nothing it is checked against.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
from sqlalchemy import func, select

from core.store import Store
from core.store.schema import outbox
from tests.e2e.test_hub_end_to_end import p02_rows, to_csv

CSV = "text/csv; charset=utf-8"
AMOUNT_COLUMN = 7  # the first year's budget: changing it makes a new version of the project
# Shared by every producer of the run: no two posts of a project carry the same amount, so each makes a version.
AMOUNTS = itertools.count(1_000_001)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "prasan.cli", *args]


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


@dataclass
class Simulator:
    process: subprocess.Popen[str]
    url: str
    settings: dict[str, Any]

    def get(self, what: str) -> Any:
        with urllib.request.urlopen(f"{self.url}/_sim/{what}", timeout=30) as response:
            return json.load(response)

    def fault(self, spec: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.url}/_sim/faults", data=json.dumps(spec).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30):
            pass

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def launch_simulator(system: str, state_dir: Path, log: IO[str]) -> subprocess.Popen[str]:
    """`prasan simulate SYSTEM --state DIR`, not waited for: simulators launched one after the other
    start up side by side (most of a start-up is importing)."""
    return subprocess.Popen(
        _cli("simulate", system, "--state", str(state_dir)), stdout=subprocess.PIPE, stderr=log, text=True
    )


def simulator_started(system: str, process: subprocess.Popen[str]) -> Simulator:
    """Wait for a launched simulator to print its URL and settings."""
    assert process.stdout is not None
    url_line, settings_line = process.stdout.readline(), process.stdout.readline()
    if not settings_line:
        process.kill()
        raise RuntimeError(f"prasan simulate {system} did not start")
    return Simulator(process, url_line.split(": ", 1)[1].strip(), json.loads(settings_line.split(": ", 1)[1]))


class HubProcess:
    """`prasan serve` on a free port, started and stopped (or killed) again and again over one database."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.starts = 0

    def start(self, crash_at: str | None = None, **settings: str) -> str:
        env = {**self.env, **settings}
        env.pop("PRASAN_CRASH_AT", None)
        if crash_at is not None:
            env["PRASAN_CRASH_AT"] = crash_at
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"--- start {self.starts + 1} (crash at {crash_at}) ---\n")
            self.process = subprocess.Popen(
                _cli("serve", "--port", "0"), stdout=subprocess.PIPE, stderr=log, text=True, env=env
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "prasan hub listening on http://127.0.0.1:PORT" once started
        if "listening on" not in line:
            self.process.wait(timeout=30)
            raise RuntimeError(f"prasan serve did not start (exit {self.process.returncode}):\n{_log_tail(self.log_path)}")
        self.url = line.rsplit(" ", 1)[1].strip()
        self.starts += 1
        return self.url

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or given back."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.wait(30)

    def signal(self, signum: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signum)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code

    def log_tail(self) -> str:
        return _log_tail(self.log_path)


@dataclass
class Deployment:
    root: Path
    store: Store  # the test's own view of the hub's database
    elaas: Simulator
    eplan: Simulator
    hub: HubProcess
    client_key: str
    admin_token: str


@contextmanager
def deployment(root: Path, database_url: str, **hub_settings: str) -> Iterator[Deployment]:
    """Simulators of e-Plan (the source) and e-LAAS (the destination), a client and an admin token in the
    database, and a hub process ready to start. Every process is stopped at the end."""
    root.mkdir(parents=True, exist_ok=True)
    simulator_log = (root / "simulators.log").open("a", encoding="utf-8")
    simulators: list[Simulator] = []
    store = Store(database_url)
    hub: HubProcess | None = None
    try:
        launched = {system: launch_simulator(system, root / system, simulator_log) for system in ("elaas", "eplan")}
        try:
            store.upgrade()  # while the simulators start
            for system, process in launched.items():
                simulators.append(simulator_started(system, process))
        finally:
            for process in launched.values():
                if process.poll() is None and not any(s.process is process for s in simulators):
                    process.kill()
                    process.wait()
        elaas, eplan = simulators
        _, key = store.access.add_client("crash-producer", "eplan")
        _, token = store.access.add_admin_token("crash-operator", "operator", actor="test")
        env = {
            **os.environ,
            "PRASAN_DATABASE_URL": database_url,
            "PRASAN_VAR_DIR": str(root / "var"),  # the process slots live here: kept across restarts
            "PRASAN_SCHEDULER_ENABLED": "false",
            "PRASAN_LOG_LEVEL": "warning",
            "PRASAN_LOG_FORMAT": "json",
            "PRASAN_SYSTEMS__ELAAS__BASE_URL": elaas.url,
            "PRASAN_SYSTEMS__ELAAS__API_KEY": elaas.settings["api_key"],
            "PRASAN_SYSTEMS__EPLAN__BASE_URL": eplan.url,
            "PRASAN_SECURITY__RATE_LIMIT_PER_S": "1000",
            "PRASAN_SECURITY__RATE_LIMIT_BURST": "1000",
            "PRASAN_DELIVERY__POLL_INTERVAL_S": "0.05",
            "PRASAN_DELIVERY__BACKOFF_BASE_S": "0.05",
            "PRASAN_DELIVERY__BACKOFF_MAX_S": "0.5",
            # Far longer than any run: a row left in flight by a killed process comes back only because
            # the process, restarted, takes back its own (core/process_identity.py); nothing waits for a lease.
            "PRASAN_DELIVERY__LEASE_S": "3600",
            **hub_settings,
        }
        env.pop("PRASAN_CRASH_AT", None)
        hub = HubProcess(env, root / "hub.log")
        yield Deployment(root, store, elaas, eplan, hub, key, token)
    finally:
        if hub is not None and hub.process is not None and hub.process.poll() is None:
            hub.kill()
        for simulator in simulators:
            simulator.stop()
        simulator_log.close()
        store.dispose()


@dataclass
class Producer:
    """Posts ผ.02 batches of projects from one pool, each post changing the amounts of the projects it
    holds (so the same entities get version after version), and keeps every 2xx answer."""

    rng: random.Random
    pool: int = 40
    batch: int = 5
    # Between two posts: paced so that the backlog stays what e-LAAS (a PUT per changed record) drains
    # in seconds, whatever the cycle count.
    pause_s: tuple[float, float] = (0.05, 0.25)
    rows: list[list[str]] = field(init=False)
    posted: int = 0  # records sent
    answers: Counter[int] = field(default_factory=Counter)  # HTTP status -> posts
    no_answer: int = 0  # posts cut off (the hub died, or was not there)
    accepted: set[tuple[str, int]] = field(default_factory=set)  # (entity id, version) the hub said it stored

    def __post_init__(self) -> None:
        self.rows = p02_rows(self.pool)

    def next_batch(self, only: list[int] | None = None) -> bytes:
        picked = only if only is not None else sorted(self.rng.sample(range(self.pool), self.batch))
        rows = []
        for index in picked:
            row = list(self.rows[index])
            row[AMOUNT_COLUMN] = f"{next(AMOUNTS):,}.00"
            rows.append(row)
        self.posted += len(rows)
        return to_csv(rows)

    async def post(self, http: aiohttp.ClientSession, url: str, key: str, body: bytes) -> int | None:
        headers = {"Content-Type": CSV, "Authorization": f"Bearer {key}"}
        try:
            async with http.post(f"{url}/api/v1/inbound/eplan", data=body, headers=headers) as response:
                answer = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError):
            self.no_answer += 1
            return None
        self.answers[status] += 1
        if 200 <= status < 300:
            self.accepted.update((e["id"], e["version"]) for e in answer["entities"] if e["changed"])
        return status

    async def run(self, http: aiohttp.ClientSession, url: str, key: str, stop: asyncio.Event) -> None:
        """Post batch after batch until `stop`; a refused connection (the hub died) ends the run."""
        while not stop.is_set():
            if await self.post(http, url, key, self.next_batch()) is None:
                return
            await asyncio.sleep(self.rng.uniform(*self.pause_s))


def outbox_states(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {state: count for state, count in conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state))}


def stored_versions(store: Store, destination: str = "elaas") -> set[tuple[str, int]]:
    """(entity id, version) of every delivery the hub queued for `destination`: what it stored, whether or
    not the producer lived to hear so."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.entity_id, outbox.c.version).where(outbox.c.destination == destination))
        return {(entity_id, version) for entity_id, version in rows}


def wait_until_settled(store: Store, limit_s: float = 120.0) -> dict[str, int]:
    """Wait until no delivery is pending, in flight or held; the limit only stops a broken run from hanging
    (with leases of an hour, a row left in flight that its process did not take back never settles)."""
    deadline = time.monotonic() + limit_s
    while True:
        states = outbox_states(store)
        if not any(states.get(state) for state in ("pending", "in_flight", "held")):
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries never settled: {states}")
        time.sleep(0.1)


@dataclass
class Verdict:
    accepted: int  # (entity, version) pairs producers got a 2xx for
    applied: int  # (entity, version) pairs e-LAAS applied (first applies)
    lost: list[tuple[str, int]]  # accepted, never applied
    twice_by_key: list[str]  # one idempotency key applied more than once
    twice_by_version: list[tuple[str, int]]  # one version applied more than once (under any key)
    rolled_back: list[str]  # entities whose applied versions went down at some point
    replays: int  # writes e-LAAS answered from its idempotency table (sent again, no effect)
    outbox: dict[str, int]

    @property
    def clean(self) -> bool:
        return not (self.lost or self.twice_by_key or self.twice_by_version or self.rolled_back) and set(
            self.outbox
        ) <= {"delivered"}

    def figures(self) -> dict[str, Any]:
        return {
            "accepted_versions": self.accepted, "applied_versions": self.applied, "lost": len(self.lost),
            "applied_twice_by_key": len(self.twice_by_key), "applied_twice_by_version": len(self.twice_by_version),
            "rolled_back": len(self.rolled_back), "replayed_writes": self.replays, "outbox": self.outbox,
        }


def restart_and_judge(deployment: Deployment, accepted: set[tuple[str, int]]) -> Verdict:
    """Start the hub (without a crash point), let every delivery settle, stop it with SIGTERM (it must exit
    0) and judge what e-LAAS applied against `accepted`."""
    deployment.hub.start()
    wait_until_settled(deployment.store)
    deployment.hub.signal(signal.SIGTERM)
    exit_code = deployment.hub.wait(60)
    assert exit_code == 0, f"SIGTERM ended the hub with {exit_code}:\n{deployment.hub.log_tail()}"
    return verdict(accepted, deployment.elaas, deployment.store)


def verdict(accepted: set[tuple[str, int]], elaas: Simulator, store: Store) -> Verdict:
    """Compare every version producers were told was stored with what e-LAAS applied (its /_sim/log: a
    write with its idempotency key, 2xx, not a replay, is one effect)."""
    by_key: Counter[str] = Counter()
    by_version: Counter[tuple[str, int]] = Counter()
    order: dict[str, list[int]] = {}
    replays = 0
    for entry in elaas.get("log")["entries"]:
        key = entry["idempotency_key"]
        if not key or not 200 <= entry["status"] < 300:
            continue
        if entry["replayed"]:
            replays += 1
            continue
        _, entity_id, version = key.split(":")[:3]  # destination:entity:version[:recreate]
        by_key[key] += 1
        by_version[(entity_id, int(version))] += 1
        order.setdefault(entity_id, []).append(int(version))
    return Verdict(
        accepted=len(accepted),
        applied=len(by_version),
        lost=sorted(accepted - set(by_version)),
        twice_by_key=sorted(k for k, n in by_key.items() if n > 1),
        twice_by_version=sorted(v for v, n in by_version.items() if n > 1),
        rolled_back=sorted(e for e, versions in order.items() if versions != sorted(versions)),
        replays=replays,
        outbox=outbox_states(store),
    )


async def kill_cycles(deployment: Deployment, cycles: int, seed: int, producers: int = 2) -> dict[str, Any]:
    """`cycles` times: start the hub, post from `producers` producers at once, SIGKILL the hub at a random
    moment (0 to 1 s after it listens). Then start it once more, let everything settle, stop it with
    SIGTERM, and judge. Returns the figures."""
    rng = random.Random(seed)
    posting = [Producer(random.Random(rng.random())) for _ in range(producers)]
    hub = deployment.hub
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        for _ in range(cycles):
            url = await asyncio.to_thread(hub.start)
            stop = asyncio.Event()
            runs = [asyncio.create_task(p.run(http, url, deployment.client_key, stop)) for p in posting]
            await asyncio.sleep(rng.uniform(0.0, 1.0))
            await asyncio.to_thread(hub.kill)
            stop.set()
            await asyncio.gather(*runs)
    killed_s = time.monotonic() - started
    await asyncio.to_thread(hub.start)
    states = await asyncio.to_thread(wait_until_settled, deployment.store)
    hub.signal(signal.SIGTERM)
    exit_code = await asyncio.to_thread(hub.wait, 60)
    accepted = set().union(*(p.accepted for p in posting))
    judged = await asyncio.to_thread(verdict, accepted, deployment.elaas, deployment.store)
    answers: Counter[int] = sum((p.answers for p in posting), Counter())
    return {
        "cycles": cycles, "seed": seed, "records_posted": sum(p.posted for p in posting),
        "posts_2xx": sum(n for status, n in answers.items() if 200 <= status < 300),
        "posts_other": {str(s): n for s, n in answers.items() if not 200 <= s < 300},
        "posts_cut_off": sum(p.no_answer for p in posting), **judged.figures(),
        "settled_before_stop": states, "last_stop_exit_code": exit_code,
        "seconds_killing": round(killed_s, 1), "seconds_total": round(time.monotonic() - started, 1),
        "clean": judged.clean, "problems": {
            "lost": judged.lost[:10], "twice_by_key": judged.twice_by_key[:10],
            "twice_by_version": judged.twice_by_version[:10], "rolled_back": judged.rolled_back[:10],
        },
    }
