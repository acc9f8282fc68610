"""Where each record's time goes: 20,000 ผ.02 records through the hub on SQLite with an API process and a
worker process, both profiled by the stage sampler (benchmarks/stage_profiler.py: CPU time of every
thread, by stage), then once more under pyinstrument (the event-loop thread only).

Writes benchmarks/results/profile.md (the table per stage) and, next to it, profile-api.stages.txt,
profile-worker.stages.txt (sampler: stages, self and inclusive time per file:function, folded stacks)
and profile-api.pyinstrument.txt, profile-worker.pyinstrument.txt.

    python -m benchmarks.profile_run [--records 20000] [--engine postgresql]

With --engine postgresql the hub runs on a fresh PostgreSQL database (PRASAN_BENCH_POSTGRES) and the files
are named profile-postgresql.md, profile-postgresql-{api,worker}.stages.txt; pyinstrument is not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS_DIR, fresh_database, organisations, start, stop_all
from benchmarks.hub_runs import HubSession, throughput

REPOSITORY = RESULTS_DIR.parent.parent

STAGE_ORDER = [
    "receive: HTTP server", "receive: HTTP handler", "receive: authenticate", "parse", "fold headers", "map",
    "validate", "ingest glue", "route", "store: look up known entities", "store: inbox message", "store: entity",
    "store: xref", "store: entity_version", "store: outbox", "store: ingest_batch (other lines)",
    "store: record identity", "store: links", "store: classification", "store: area ledger",
    "store: begin/commit", "answer the producer", "claim", "map out", "write (HTTP to destination)",
    "worker loop (settle results)", "acknowledge", "logging", "metrics", "event loop", "aiohttp other",
    "thread pool", "other",
]


async def profile(
    records: int, folder: Path, sink_port: int, orgs: list[str], pyinstrument: bool, engine: str = "sqlite"
) -> dict[str, Any]:
    prefix = folder / ("pyi" if pyinstrument else "profile")
    with fresh_database(engine, folder, "profile") as db:
        session = HubSession(
            db, f"http://127.0.0.1:{sink_port}", "k", workers=1, profile_prefix=prefix, profile_records=records,
            pyinstrument=pyinstrument,
        )
        with session:
            result = await throughput(session, orgs, records, 1000)
    return result


def table(summaries: dict[str, dict[str, Any]]) -> list[str]:
    names = list(summaries)
    stages = [s for s in STAGE_ORDER if any(s in summaries[n]["stages"] for n in names)]
    stages += sorted({s for n in names for s in summaries[n]["stages"]} - set(stages))
    head = "| stage | " + " | ".join(f"{n}: share | {n}: µs/record" for n in names) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(names)]
    for stage in stages:
        cells = []
        for n in names:
            v = summaries[n]["stages"].get(stage)
            cells += [f"{v['share'] * 100:.1f}%" if v else "", f"{v['us_per_record']:.1f}" if v else ""]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    totals = []
    for n in names:
        totals += ["100%", f"**{summaries[n]['us_cpu_per_record']:.1f}**"]
    lines.append("| **total CPU** | " + " | ".join(totals) + " |")
    return lines


async def main(records: int, engine: str = "sqlite") -> dict[str, Any]:
    orgs = organisations()
    sink = start("sink", ["-m", "benchmarks.sink"])
    kept = "profile" if engine == "sqlite" else f"profile-{engine}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            run = await profile(records, folder, sink.port, orgs, pyinstrument=False, engine=engine)
            if engine == "sqlite":
                await profile(records, folder, sink.port, orgs, pyinstrument=True)
            summaries = {}
            for role in ("api", "worker1"):
                name = "worker" if role == "worker1" else role
                summaries[name] = json.loads((folder / f"profile-{role}.summary.json").read_text(encoding="utf-8"))
                (RESULTS_DIR / f"{kept}-{name}.stages.txt").write_text(
                    (folder / f"profile-{role}.stages.txt").read_text(encoding="utf-8"), encoding="utf-8"
                )
                if engine != "sqlite":
                    continue
                # pyinstrument names the checkout's absolute path; the kept copy names paths within it.
                profile_text = (folder / f"pyi-{role}.pyinstrument.txt").read_text(encoding="utf-8")
                (RESULTS_DIR / f"profile-{name}.pyinstrument.txt").write_text(
                    profile_text.replace(f"{REPOSITORY}/", ""), encoding="utf-8"
                )
    finally:
        stop_all([sink])
    write_markdown(summaries, run, records, engine, kept)
    return {"summaries": summaries, "run": run}


def write_markdown(
    summaries: dict[str, dict[str, Any]], run: dict[str, Any], records: int, engine: str = "sqlite", kept: str = "profile"
) -> None:
    both: dict[tuple[str, str], float] = {}
    for name, summary in summaries.items():
        for where, us in summary["top_self"]:
            both[(name, where)] = us
    top = sorted(both.items(), key=lambda kv: -kv[1])[:15]
    lines = [
        "# Where a record's time goes",
        "",
        f"{records:,} generated ผ.02 records (CSV, batches of 1,000, two concurrent producers) through the hub on",
        f"{'SQLite' if engine == 'sqlite' else 'PostgreSQL'}: an API process (PRASAN_ROLE=api) and one worker process (PRASAN_ROLE=worker, 2 delivery",
        "workers, claims of 1,000) delivering to the null sink (benchmarks/sink.py). Written by",
        "`python -m benchmarks.profile_run` (also part of `make bench`).",
        "",
        f"The profiled run: {run['records_per_s']:,.0f} records/s end to end, ingest {run['ingest_records_per_s']:,.0f} records/s "
        "(the sampler costs a few per cent).",
        "",
        "Method: benchmarks/stage_profiler.py samples every thread of each process every 2 ms and charges the CPU",
        "time the thread used since the last sample (its own CPU clock) to the stage of its stack: threads",
        "waiting for the GIL, a lock or a socket are charged nothing, SQLite's C work is charged to the",
        "statement that called it (inside the store's ingest_batch, by the table of the statement executing).",
        "µs/record = CPU seconds of the stage / records. Shares are of the process's own CPU. The raw profiles",
        "are next to this file: profile-{api,worker}.stages.txt (stages, self and inclusive time per",
        "file:function, folded stacks) and profile-{api,worker}.pyinstrument.txt (pyinstrument, event-loop",
        "thread only: it cannot see the asyncio.to_thread workers that run the store).",
        "",
        *table(summaries),
        "",
        "CPU by thread (s): " + "; ".join(
            f"{n}: " + ", ".join(f"{k} {v}" for k, v in s["threads"].items()) for n, s in summaries.items()
        ),
        "",
        "## Heaviest functions (self CPU, innermost Python frame; C code counts to its caller)",
        "",
        "| process | file:function | µs/record |",
        "|---|---|---:|",
        *(f"| {name} | `{where}` | {us:.1f} |" for (name, where), us in top),
        "",
        "## Heaviest hub functions, inclusive",
        "",
        "| process | file:function | µs/record |",
        "|---|---|---:|",
        *(f"| {name} | `{where}` | {us:.1f} |" for name, s in summaries.items() for where, us in s["top_inclusive_repo"][:12]),
        "",
    ]
    (RESULTS_DIR / f"{kept}.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    arguments = parser.parse_args()
    out = asyncio.run(main(arguments.records, arguments.engine))
    print(json.dumps({k: v["us_cpu_per_record"] for k, v in out["summaries"].items()}))
