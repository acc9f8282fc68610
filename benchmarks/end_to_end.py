"""End-to-end throughput: N generated ผ.02 records posted to the hub in batches until every one is
delivered at the e-LAAS simulator. Writes benchmarks/results/end_to_end.json
(end_to_end_postgresql.json with --database-url); `make bench` (run_all.py) keeps latest.json.

    python -m benchmarks.end_to_end                        # N=20000, batches of 1000, a worker process
    python -m benchmarks.end_to_end --records 50000 --batch 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import structlog

from admin_api.app import create_app, serve
from core.hub import Hub
from benchmarks.common import cpu_seconds, csv_batches, organisations, wait_listening
from core.settings import DeliverySettings, HubSettings
from plugins.elaas import simulator as elaas_simulator
from prasan.testing.simulator import free_port

RESULTS = Path(__file__).resolve().parent / "results" / "end_to_end.json"


def generate_batches(records: int, batch: int) -> list[bytes]:
    return csv_batches(records, batch, organisations())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run(
    records: int, batch: int, workers: int, producers: int, claim: int, database_url: str | None, worker_processes: int
) -> dict:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # warnings and worse only
    with tempfile.TemporaryDirectory() as folder:
        # The simulator is the agency's system, not the hub: it runs in its own process, as it would.
        elaas_port = free_port()
        simulator = subprocess.Popen(
            [sys.executable, "-m", "plugins.elaas.simulator", "--port", str(elaas_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await wait_listening(elaas_port, timeout=10.0)
        settings = HubSettings(
            database_url=database_url or f"sqlite:///{Path(folder) / 'bench.db'}",
            scheduler_enabled=False,
            delivery=DeliverySettings(workers=workers, batch_size=claim, poll_interval_s=0.02),
            systems={"elaas": {"base_url": f"http://127.0.0.1:{elaas_port}", "api_key": elaas_simulator.DEFAULT_API_KEY}},
        )
        if worker_processes:
            # Delivery in processes of their own (PRASAN_ROLE=worker) sharing the database: the GIL of
            # the API process then only carries ingest.
            settings = settings.model_copy(update={"role": "api"})
        hub = Hub.build(settings)
        hub_runner, hub_port = await serve(create_app(hub), "127.0.0.1", 0)
        worker_env = {
            **os.environ,
            "PRASAN_ROLE": "worker",
            "PRASAN_DATABASE_URL": settings.resolved_database_url,
            "PRASAN_SCHEDULER_ENABLED": "false",
            "PRASAN_LOG_LEVEL": "warning",
            "PRASAN_DELIVERY": settings.delivery.model_dump_json(),
            "PRASAN_SYSTEMS": json.dumps(settings.systems),
        }
        prasan = Path(sys.executable).with_name("prasan")
        worker_procs = [
            subprocess.Popen([str(prasan), "serve", "--port", "0"], env=worker_env, stdout=subprocess.DEVNULL)
            for _ in range(worker_processes)
        ]
        _, key = await asyncio.to_thread(hub.store.access.add_client, "bench", "eplan")
        bodies = generate_batches(records, batch)
        url = f"http://127.0.0.1:{hub_port}/api/v1/inbound/eplan"
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/csv; charset=utf-8"}
        started = time.perf_counter()
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)

        async def producer(http: aiohttp.ClientSession) -> int:
            # Several producers at once, as several agency systems would post: one batch is mapped
            # while another is being committed.
            count = 0
            while not queue.empty():
                body = queue.get_nowait()
                async with http.post(url, data=body, headers=headers) as response:
                    answer = await response.json()
                    if response.status != 202:
                        raise RuntimeError(f"post failed: {response.status} {answer}")
                    count += answer["accepted"]
            return count

        async with aiohttp.ClientSession() as http:
            accepted = sum(await asyncio.gather(*(producer(http) for _ in range(producers))))
            ingested = time.perf_counter()
            while True:
                stats = await asyncio.to_thread(hub.store.outbox.outbox_stats)
                if all(s.pending == 0 and s.in_flight == 0 for s in stats):
                    break
                await asyncio.sleep(0.05)
        finished = time.perf_counter()
        latencies = await asyncio.to_thread(hub.store.outbox.delivery_latencies, "elaas")
        delivered = sum(s.delivered for s in await asyncio.to_thread(hub.store.outbox.outbox_stats))
        worker_cpu_s = sum(cpu_seconds(process.pid) for process in worker_procs)
        await hub_runner.cleanup()
        for process in worker_procs:
            process.terminate()
            process.wait(timeout=10)
        simulator.terminate()
        simulator.wait(timeout=10)
    elapsed = finished - started
    engine = "postgresql" if database_url and database_url.startswith("postgresql") else "sqlite"
    return {
        "records": records,
        "accepted": accepted,
        "delivered": delivered,
        "batch_rows": batch,
        "delivery_workers": workers,
        "worker_processes": worker_processes,
        "producers": producers,
        "outbox_claim_rows": claim,
        "seconds_total": round(elapsed, 3),
        "seconds_ingest": round(ingested - started, 3),
        f"{engine}_records_per_s": round(delivered / elapsed, 1),
        "ingest_records_per_s": round(accepted / (ingested - started), 1),
        "latency_receipt_to_delivered_s": {
            "p50": round(percentile(latencies, 0.50), 3),
            "p90": round(percentile(latencies, 0.90), 3),
            "p99": round(percentile(latencies, 0.99), 3),
            "max": round(max(latencies), 3),
            "mean": round(statistics.fmean(latencies), 3),
        },
        # CPU per record, steadier than the rate on a machine other work shares: this process (the API hub
        # and the posting clients) and the worker processes (delivery), simulator excluded.
        "api_process_cpu_us_per_record": round(cpu_seconds(os.getpid()) / records * 1e6, 1),
        "worker_processes_cpu_us_per_record": round(worker_cpu_s / records * 1e6, 1),
        "load_average_at_end": os.getloadavg(),
        "hub_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--claim", type=int, default=1000, help="outbox rows claimed per worker round")
    parser.add_argument(
        "--worker-processes", type=int, default=1, help="delivery in N separate `prasan serve` processes (0: in-process)"
    )
    parser.add_argument("--database-url", help="an empty PostgreSQL database to measure instead of SQLite")
    parser.add_argument("--producers", type=int, default=2, help="concurrent posting clients")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the median run is reported (SQLite only)")
    args = parser.parse_args()
    # One run on a shared 2-core machine varies by ±20%; the median of several is the figure to quote.
    repeats = 1 if args.database_url else max(1, args.repeat)
    runs = [
        asyncio.run(
            run(
                args.records, args.batch, args.workers, args.producers, args.claim, args.database_url,
                args.worker_processes,
            )
        )
        for _ in range(repeats)
    ]
    rate_key = next(key for key in runs[0] if key.endswith("_records_per_s") and not key.startswith("ingest"))
    runs.sort(key=lambda r: r[rate_key])
    result = {**runs[len(runs) // 2], "runs": len(runs), f"{rate_key}_all_runs": [r[rate_key] for r in runs]}
    target = RESULTS if not args.database_url else RESULTS.with_name("end_to_end_postgresql.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
