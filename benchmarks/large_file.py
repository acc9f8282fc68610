"""A large ผ.02 CSV posted in one request: peak resident memory of the hub's API process against the
file's size. Uploaded to POST /api/v1/imports/eplan with the default settings (written to disk as it
arrives, imported a chunk at a time: flat); posted as one push to /api/v1/inbound/eplan with limits raised
for the case (held in memory: proportional), and what the default limits answer to such a push.

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


async def upload_case(folder: Path, sink_url: str, orgs: list[str], mb: int) -> dict[str, Any]:
    """The file uploaded whole to the imports endpoint, with the default settings, followed to its end."""
    body, records = big_csv(mb * 1_000_000, orgs, f"u{mb}")
    file = folder / f"upload{mb}.csv"
    file.write_bytes(body)
    del body
    with fresh_database("sqlite", folder, f"upload{mb}") as db:
        imports = {"folder": str(folder / f"imports{mb}")}
        session = HubSession(db, sink_url, "k", workers=0, api_role="api", settings={"imports": imports})
        with session:
            baseline = peak_rss_mb(session.procs[0].popen.pid)
            started = time.perf_counter()
            headers, base = session.headers, session.url.removesuffix("/api/v1/inbound/eplan")
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1800)) as http:
                with file.open("rb") as stream:
                    async with http.post(f"{base}/api/v1/imports/eplan", data=stream, headers=headers) as response:
                        status, answer = response.status, await response.json(content_type=None)
                received = time.perf_counter() - started
                state: dict[str, Any] = {}
                while status == 202:
                    async with http.get(f"{base}{answer['href']}", headers=headers) as response:
                        state = await response.json(content_type=None)
                    if state.get("state") not in ("receiving", "importing"):
                        break
                    await asyncio.sleep(0.5)
            seconds = time.perf_counter() - started
    case = {
        "file_mb": round(file.stat().st_size / 1e6, 1), "records": records, "status": status,
        "state": state.get("state"), "counts": state.get("counts"), "upload_seconds": round(received, 1),
        "seconds": round(seconds, 1), "records_per_s": round(records / seconds, 1), "rss_before_mb": baseline,
        "peak_rss_mb": session.rss.get("hub-api"),
    }  # fmt: skip
    file.unlink()
    if case["peak_rss_mb"] and baseline:
        case["rss_growth_per_file_mb"] = round((case["peak_rss_mb"] - baseline) / case["file_mb"], 2)
    print(json.dumps(case), flush=True)
    return case


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
    for mb in sizes_mb:
        out.setdefault("uploads", []).append(await upload_case(folder, sink_url, orgs, mb))
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
