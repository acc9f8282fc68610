"""A large ผ.02 CSV posted in one request: peak resident memory of the hub's API process against the
file's size, with limits raised for the case, and what the default limits answer.

    python -m benchmarks.large_file [--mb 100]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.common import HEADER, fresh_database, organisations, peak_rss_mb, row, start, stop_all
from benchmarks.hub_runs import HubSession

def big_csv(target_bytes: int, orgs: list[str], run: str) -> tuple[bytes, int]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    index = 0
    while buffer.tell() < target_bytes // 3:  # Thai text is three bytes a character in UTF-8: checked below
        for _ in range(5000):
            writer.writerow(row(index, orgs, run))
            index += 1
        if len(buffer.getvalue().encode("utf-8")) >= target_bytes:
            break
    body = buffer.getvalue().encode("utf-8")
    while len(body) < target_bytes:
        chunk = io.StringIO()
        w = csv.writer(chunk)
        for _ in range(5000):
            w.writerow(row(index, orgs, run))
            index += 1
        body += chunk.getvalue().encode("utf-8")
    return body, index


async def post_once(url: str, key: str, body: bytes, timeout: float = 900) -> tuple[int, Any, float]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/csv; charset=utf-8"}
    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        async with http.post(url, data=body, headers=headers) as response:
            text = await response.text()
    try:
        answer: Any = json.loads(text)
    except ValueError:
        answer = text[:300]
    return response.status, answer, time.perf_counter() - started


def _short(answer: Any) -> Any:
    if isinstance(answer, dict):
        return {k: v for k, v in answer.items() if k in ("title", "detail", "rule", "status", "accepted")}
    return answer


async def run(folder: Path, sink_port: int, orgs: list[str], sizes_mb: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"cases": []}
    sink_url = f"http://127.0.0.1:{sink_port}"
    biggest, _ = big_csv(max(sizes_mb) * 1_000_000, orgs, "big")
    # The defaults: the body limit (32 MB) and the record limit (50,000 per payload).
    with fresh_database("sqlite", folder, "defaults") as db:
        with HubSession(db, sink_url, "k", workers=0, settings={"security": {}}) as session:
            status, answer, _ = await post_once(session.url, session.key, biggest)
            out["defaults_largest"] = {"bytes": len(biggest), "status": status, "answer": _short(answer)}
            mid, rows = big_csv(20_000_000, orgs, "mid")
            status, answer, _ = await post_once(session.url, session.key, mid)
            out["defaults_20mb"] = {"bytes": len(mid), "records": rows, "status": status, "answer": _short(answer)}
    limits = {
        "max_records": 2_000_000, "max_rows_scanned": 2_000_001, "max_expanded_bytes": 512 * 1024 * 1024,
    }
    security = {"max_ingest_body_bytes": 512 * 1024 * 1024}
    for mb in sizes_mb:
        body, records = big_csv(mb * 1_000_000, orgs, f"r{mb}")
        with fresh_database("sqlite", folder, f"large{mb}") as db:
            # role api: no delivery workers, so the figure is what taking the file costs.
            session = HubSession(
                db, sink_url, "k", workers=0, api_role="api", settings={"security": security, "limits": limits}
            )
            with session:
                baseline = peak_rss_mb(session.procs[0].popen.pid)
                status, answer, seconds = await post_once(session.url, session.key, body)
            case = {
                "file_mb": round(len(body) / 1e6, 1),
                "records": records,
                "status": status,
                "accepted": answer.get("accepted") if isinstance(answer, dict) else None,
                "seconds": round(seconds, 1),
                "records_per_s": round(records / seconds, 1),
                "rss_before_mb": baseline,
                "peak_rss_mb": session.rss.get("hub-api"),
            }
            if status != 202:
                case["answer"] = _short(answer)
            if case["peak_rss_mb"] and baseline:
                case["rss_growth_per_file_mb"] = round((case["peak_rss_mb"] - baseline) / (len(body) / 1e6), 1)
            out["cases"].append(case)
            print(json.dumps(case), flush=True)
    return out


if __name__ == "__main__":
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, nargs="+", default=[10, 100])
    args = parser.parse_args()

    async def main() -> None:
        orgs = organisations()
        sink = start("sink", ["-m", "benchmarks.sink"])
        try:
            with tempfile.TemporaryDirectory() as tmp:
                print(json.dumps(await run(Path(tmp), sink.port, orgs, args.mb), indent=1, ensure_ascii=False))
        finally:
            stop_all([sink])

    asyncio.run(main())
