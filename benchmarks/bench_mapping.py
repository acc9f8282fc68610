"""Throughput of core.mapping: simple records and the real BB sample, map_in and map_out.

Run: .venv/bin/python benchmarks/bench_mapping.py  (prints records/s and writes benchmarks/results/mapping.json)
"""

from __future__ import annotations

import json
import lzma
import time
from pathlib import Path

from core.mapping import Mapping
from core.reference_data import load_reference_data

ROOT = Path(__file__).resolve().parents[1]
SIMPLE = Mapping.from_yaml(
    """
mapping: bench
version: 1
system: demo
entity_type: budget_line
fields:
  - {target: fiscal_year, source: year, convert: {fiscal_year: be}}
  - {target: amount, source: amount, convert: money}
  - {target: description, source: name, convert: text}
  - {target: org_code, source: org, convert: code}
  - {target: phase, const: approved}
"""
)


def rate(fn, records: list, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeat):
        for record in records:
            fn(record)
    return len(records) * repeat / (time.perf_counter() - start)


def main() -> None:
    simple = [{"year": "2568", "amount": "1,234.50", "name": f"โครงการ {i}", "org": "5810401"} for i in range(100_000)]
    results = {"simple_map_in_per_s": rate(SIMPLE.map_in, simple)}
    payloads = [SIMPLE.map_in(r) for r in simple[:20_000]]
    results["simple_map_out_per_s"] = rate(SIMPLE.map_out, payloads)
    sample = ROOT / "tests/data/bb_grant_projects_2559.jsonl.xz"  # shipped, with its attribution
    if sample.exists():
        bb = Mapping.from_file(ROOT / "tests/data/mappings/bb_grant_budget_line.yaml", reference=load_reference_data())
        rows = [json.loads(line) for line in lzma.decompress(sample.read_bytes()).decode("utf-8").splitlines()]
        results["bb_map_in_per_s"] = rate(bb.map_in, rows, repeat=3)
    for name, value in results.items():
        print(f"{name:24s} {value:10,.0f}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "mapping.json").write_text(json.dumps({k: round(v) for k, v in results.items()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
