"""Shared pieces of the benchmark suite (benchmarks/run_all.py): generated ผ.02 records, processes,
databases, sizes, percentiles. Nothing here imports the hub, so a refactor of core/ moves nothing here."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PROGRAMMES = ["บริหารงานทั่วไป", "การศึกษา", "สาธารณสุข", "เคหะและชุมชน", "อุตสาหกรรมและการโยธา"]
HEADER = ["รหัส อปท.", "แผนงาน", "ชื่อโครงการ", "วัตถุประสงค์", "งบประมาณ 2568", "งบประมาณ 2569", "หน่วยงานรับผิดชอบหลัก"]
PG_ADMIN_URL = os.environ.get("PRASAN_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:54329/prasan_test")


def organisations() -> list[str]:
    """DLA organisation codes the hub knows (its shipped master data), read the hub's own way."""
    from core.reference_data import load_reference_data

    return sorted(load_reference_data().organizations)


def row(index: int, orgs: list[str], run: str = "") -> list[str]:
    return [
        orgs[index % len(orgs)],
        PROGRAMMES[index % len(PROGRAMMES)],
        f"โครงการก่อสร้างถนน คสล. หมายเลข {run}{index}",
        "เพื่อการสัญจร",
        f"{100_000 + index:,}.00",
        f"{120_000 + index:,}.50",
        "กองช่าง",
    ]


# A project funded by a specific grant is routed to e-budgeting as well as e-LAAS (config/routes.yaml):
# the column that makes every generated record go to two destinations.
FUNDING_COLUMN, SPECIFIC_GRANT = "แหล่งงบประมาณ", "เงินอุดหนุนเฉพาะกิจ"


def csv_body(start: int, stop: int, orgs: list[str], run: str = "", grant: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*HEADER, FUNDING_COLUMN] if grant else HEADER)
    for index in range(start, stop):
        writer.writerow([*row(index, orgs, run), SPECIFIC_GRANT] if grant else row(index, orgs, run))
    return buffer.getvalue().encode("utf-8")


def csv_batches(records: int, batch: int, orgs: list[str], run: str = "", grant: bool = False) -> list[bytes]:
    """ผ.02 CSV bodies of `batch` rows. `run` makes the project names (hence the ids) unique per run;
    `grant` makes each a grant project, delivered to e-budgeting too."""
    return [csv_body(s, min(records, s + batch), orgs, run, grant) for s in range(0, records, batch)]


def json_batches(records: int, batch: int, orgs: list[str], run: str = "") -> list[bytes]:
    """The same records as JSON arrays of objects keyed by the ผ.02 headers (for the bare pipeline)."""
    return [
        json.dumps(
            [dict(zip(HEADER, row(i, orgs, run), strict=True)) for i in range(s, min(records, s + batch))],
            ensure_ascii=False,
        ).encode("utf-8")
        for s in range(0, records, batch)
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def pcts(values: list[float], digits: int = 4) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.50), digits),
        "p95": round(percentile(values, 0.95), digits),
        "p99": round(percentile(values, 0.99), digits),
        "max": round(max(values), digits) if values else float("nan"),
        "n": len(values),
    }


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else float("nan")


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the peak resident set of a live process, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds every core of the machine has spent on anything but idling since boot (/proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")  # guest time is counted in user


def own_cpu_s(live: Sequence[int] = ()) -> float:
    """CPU seconds of this process, of its children already waited for (the hub processes a session has
    stopped), and of the live processes `live` (the sink)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system + sum(cpu_seconds(pid) for pid in live)


@dataclass
class OtherWork:
    """While a measurement runs: the cores other processes of the machine kept busy (every busy CPU second
    that is not this benchmark's: `own_cpu_s`), and the time a fixed piece of CPU work takes before and
    after. The load average does not serve: it samples runnable tasks every 5 s and misses short bursts,
    and a slower host (another virtual machine on the same cores) shows in no counter of this one."""

    live: Sequence[int] = ()
    other_cores: float = 0.0

    def __enter__(self) -> OtherWork:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> OtherWork:
        self.reference_ms_before = reference_work_ms()
        self._busy, self._own, self._at = machine_busy_s(), own_cpu_s(self.live), time.perf_counter()
        return self

    def stop(self) -> None:
        elapsed = time.perf_counter() - self._at
        other = (machine_busy_s() - self._busy) - (own_cpu_s(self.live) - self._own)
        self.other_cores = round(max(0.0, other) / elapsed, 3)
        self.reference_ms_after = reference_work_ms()

    def summary(self) -> dict[str, Any]:
        return {
            "other_processes_cores": self.other_cores,
            "reference_work_ms": [self.reference_ms_before, self.reference_ms_after],
        }


def leftover_benchmark_processes() -> list[str]:
    """Benchmark children of an earlier run still alive (`pid command`): started before
    benchmarks/child.py, or by a benchmark that does not start them through `start`."""
    marks = ("benchmarks.", "plugins.elaas.simulator", "prasan serve")
    ours = {os.getpid()}
    pid = os.getppid()
    while pid > 1 and pid not in ours:  # this process and what started it (make, timeout, a shell)
        ours.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in ours:
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if "python" in command and any(mark in command for mark in marks):
            found.append(f"{entry.name} {command[:160]}")
    return found


def reference_work_ms() -> float:
    """Wall milliseconds of a fixed mix of the work a hub does (JSON, hashing, SQLite inserts in memory),
    best of three: on a quiet machine it reads the same from run to run (about 11 ms on the 2-core development machine); more means
    the CPU this process got was slower or shared."""
    rows = [{"org_code": f"{i:07d}", "title": "โครงการก่อสร้างถนน คสล." * 3, "amount": i * 100} for i in range(2_000)]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, body TEXT, digest TEXT)")
        bodies = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in rows]
        conn.executemany(
            "INSERT INTO t VALUES (?, ?, ?)",
            [(str(i), b, hashlib.sha256(b.encode()).hexdigest()) for i, b in enumerate(bodies)],
        )
        [json.loads(b) for (b,) in conn.execute("SELECT body FROM t")]
        conn.close()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def self_peak_rss_mb() -> float:
    return peak_rss_mb(os.getpid()) or 0.0


@dataclass
class Proc:
    """A benchmark child process that prints `READY <port>` once it listens."""

    name: str
    popen: subprocess.Popen[str]
    port: int = 0
    peak_rss_mb: float | None = None
    output: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 30.0) -> None:
        if self.popen.poll() is None:
            self.peak_rss_mb = peak_rss_mb(self.popen.pid)
        stop_process(self.popen, timeout)


def stop_process(popen: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM, then SIGKILL for a process still running after `timeout` seconds."""
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


def start(name: str, args: list[str], env: dict[str, str] | None = None, timeout: float = 60.0) -> Proc:
    """`python ARGS` as a child that prints `READY <port>`; a module (`-m M ...`) runs under
    benchmarks/child.py, which ends it if this process dies without stopping it."""
    if args[:1] == ["-m"]:
        args = ["-m", "benchmarks.child", *args[1:]]
    popen = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {}), "PRASAN_BENCH_PARENT_PID": str(os.getpid())},
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
    )
    proc = Proc(name, popen)
    deadline = time.monotonic() + timeout
    assert popen.stdout is not None
    while time.monotonic() < deadline:
        line = popen.stdout.readline()
        if not line:
            raise RuntimeError(f"{name} exited before it was ready (exit {popen.wait()})")
        proc.output.append(line)
        if line.startswith("READY "):
            proc.port = int(line.split()[1])
            return proc
    popen.kill()
    raise RuntimeError(f"{name} did not start within {timeout} s")


def stop_all(procs: list[Proc]) -> dict[str, float | None]:
    rss: dict[str, float | None] = {}
    for proc in procs:
        proc.stop()
        rss[proc.name] = proc.peak_rss_mb
    return rss


async def wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


# --- databases --------------------------------------------------------------------------------------


@dataclass
class Database:
    url: str  # SQLAlchemy URL
    engine: str  # sqlite | postgresql
    path: Path | None = None  # the SQLite file
    pg_name: str | None = None

    @property
    def dbapi_dsn(self) -> str:
        assert self.pg_name is not None
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        return f"{base}/{self.pg_name}"

    def size_bytes(self) -> int:
        if self.engine == "sqlite":
            assert self.path is not None
            with sqlite3.connect(self.path) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                pages, size = conn.execute("PRAGMA page_count").fetchone()[0], conn.execute("PRAGMA page_size").fetchone()[0]
            return pages * size
        import psycopg

        with psycopg.connect(self.dbapi_dsn, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.engine == "sqlite":
            assert self.path is not None
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                return conn.execute(sql).fetchall()
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.dbapi_dsn, autocommit=True) as conn:
            return conn.execute(sql).fetchall()


def pg_version() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])


def pg_settings() -> dict[str, str]:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        return {
            name: str(conn.execute(f"SHOW {name}").fetchone()[0])
            for name in ("fsync", "synchronous_commit", "shared_buffers")
        }


@contextmanager
def fresh_database(engine: str, folder: Path, label: str) -> Iterator[Database]:
    """An empty database of its own for one measurement: a new SQLite file or a new PostgreSQL database."""
    if engine == "sqlite":
        path = folder / f"{label}-{uuid.uuid4().hex[:6]}.db"
        yield Database(f"sqlite:///{path}", "sqlite", path=path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    name = f"prasan_bench_{label.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield Database(f"{base}/{name}", "postgresql", pg_name=name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
