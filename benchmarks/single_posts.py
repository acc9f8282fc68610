"""Single-record POSTs per second, alone: the `single_posts` phase of `make bench` (16 concurrent clients,
one ผ.02 record per request, benchmarks/hub_runs.py) on fresh hubs started as benchmarks/run_all.py
starts them, with the CPU each hub process spent per post. Appends a run to
benchmarks/results/single_posts.json (the file keeps every run, labelled, so that alternating before/after
runs can be compared).

    python -m benchmarks.single_posts [--label after] [--seconds 8] [--topologies sqlite_2proc postgres_2w]
                                      [--profile]

With --profile the API process runs under the stage sampler and pyinstrument (benchmarks/stage_profiler.py,
benchmarks/hub_process.py) and their reports are kept as benchmarks/results/single_posts-<topology>.*.txt
(figures per post).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS_DIR, ROOT, cpu_seconds, fresh_database, organisations, start, stop_all
from benchmarks.hub_runs import HubSession, single_posts
from benchmarks.run_all import TOPOLOGIES

RESULTS = RESULTS_DIR / "single_posts.json"
WARM_UP_S = 1.0  # first requests import and compile lazily; not counted


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


async def measure(
    name: str, folder: Path, sink_url: str, orgs: list[str], seconds: float, profile: bool, concurrency: int
) -> dict[str, Any]:
    engine, workers = TOPOLOGIES[name]
    prefix = folder / f"profile-{name}" if profile else None
    with fresh_database(engine, folder, f"{name}-singles") as db:
        session = HubSession(db, sink_url, "k", workers=workers, profile_prefix=prefix, pyinstrument=profile)
        with session:
            warm_up = await single_posts(session, orgs, seconds=WARM_UP_S, concurrency=concurrency)
            # The load generator's own CPU too: it shares the two cores with the hub.
            pids = {proc.name: proc.popen.pid for proc in session.procs} | {"load generator": os.getpid()}
            before = {n: cpu_seconds(pid) for n, pid in pids.items()}
            result = await single_posts(session, orgs, seconds=seconds, concurrency=concurrency)
            # The API process is idle once the posts are answered; the workers' figure includes
            # delivering every post (single_posts waits for it).
            after = {n: cpu_seconds(pid) for n, pid in pids.items()}
    posts = result["posts"]
    result["warm_up_posts"] = warm_up["posts"]
    result["cpu_s"] = {n: round(after[n] - before[n], 3) for n in pids}
    result["cpu_us_per_post"] = {n: round((after[n] - before[n]) / posts * 1e6, 1) for n in pids}
    result["peak_rss_mb"] = session.rss
    if prefix is not None:
        for kind in ("stages", "pyinstrument"):
            produced = prefix.with_name(f"{prefix.name}-api.{kind}.txt")
            if produced.exists():
                text = produced.read_text(encoding="utf-8").replace(f"{ROOT}/", "")
                kept = RESULTS_DIR / f"single_posts-{name}.{kind}.txt"
                kept.write_text(
                    f"# {posts} posts measured after {WARM_UP_S} s of warm-up ({result['warm_up_posts']} posts); the profile "
                    "covers both, and its 'µs/record' figures are totals for the whole run (records 1)\n" + text,
                    encoding="utf-8",
                )
        summary = json.loads(prefix.with_name(f"{prefix.name}-api.summary.json").read_text(encoding="utf-8"))
        counted = posts + result.get("warm_up_posts", 0)
        result["profile_api_us_per_post"] = {
            stage: round(v["cpu_s"] / counted * 1e6, 1) for stage, v in summary["stages"].items() if v["cpu_s"] / counted * 1e6 >= 1
        }
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    orgs = organisations()
    out: dict[str, Any] = {
        "label": args.label,
        "commit": _commit(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cores": os.cpu_count(),
        "seconds": args.seconds,
        "profiled": args.profile,
        "concurrency": args.concurrency,
        "load_average_at_start": os.getloadavg(),
        "topologies": {},
    }
    sink = start("sink", ["-m", "benchmarks.sink"])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.topologies:
                out["topologies"][name] = result = await measure(name, Path(tmp), f"http://127.0.0.1:{sink.port}", orgs, args.seconds, args.profile, args.concurrency)
                print(name, result["posts_per_s"], "posts/s; p50/p99", result["post_latency_s"]["p50"], result["post_latency_s"]["p99"],
                      "cpu µs/post", result["cpu_us_per_post"], "503s", result["busy_503"], file=sys.stderr, flush=True)
    finally:
        stop_all([sink])
    out["load_average_at_end"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", default="")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--topologies", nargs="+", default=["sqlite_2proc", "postgres_2w"], choices=list(TOPOLOGIES))
    parser.add_argument("--concurrency", type=int, default=16, help="clients posting at once (make bench: 16)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    out = asyncio.run(run(args))
    kept = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {"runs": []}
    kept["runs"].append(out)
    RESULTS.write_text(json.dumps(kept, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
