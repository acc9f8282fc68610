"""The crash test's long run: the hub killed with SIGKILL N times while producers post, then judged.

    python -m benchmarks.crash_cycles --cycles 500 [--postgres] [--seed N]

The same scenario as tests/e2e/test_crash_safety.py (30 cycles per database in `make test`), for as
many cycles as you like: `prasan serve` against e-Plan and e-LAAS as `prasan simulate --state`
processes, two producers posting batches of the same 40 projects with new amounts, the hub killed at
a random moment 0 to 1 s after it listens and restarted; at the end every version a producer got a 2xx
for must have been applied by e-LAAS exactly once, in version order, with nothing left in flight. SQLite
in a temporary folder, or with --postgres a fresh schema of PRASAN_TEST_POSTGRES_URL (or
PRASAN_BENCH_POSTGRES). The figures go to benchmarks/results/crash_cycles[_postgresql].json; the exit
status is 1 when anything was lost or applied twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
from pathlib import Path

from benchmarks.hostile_payloads import _postgres_schema_url
from tests.e2e.crash_harness import deployment, kill_cycles

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=100, help="SIGKILLs of the hub (default 100)")
    parser.add_argument("--postgres", action="store_true", help="run the hub on PostgreSQL")
    parser.add_argument("--seed", type=int, default=None, help="the random kills' seed (printed; default: random)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    with tempfile.TemporaryDirectory(prefix="prasan-crash-") as folder:
        root = Path(folder)
        drop = None
        if args.postgres:
            url, drop = _postgres_schema_url()
        else:
            url = f"sqlite:///{root / 'hub.db'}"
        try:
            with deployment(root / "run", url) as running:
                figures = asyncio.run(kill_cycles(running, args.cycles, seed))
        finally:
            if drop is not None:
                drop()
    figures["database"] = "postgresql" if args.postgres else "sqlite"
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"crash_cycles{'_postgresql' if args.postgres else ''}.json"
    out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(figures, ensure_ascii=False))
    return 0 if figures["clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
