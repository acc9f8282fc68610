"""No upload can stall the hub, proved live: `prasan serve` in its own process takes each hostile payload
while /healthz is polled every 20 ms and a normal ผ.02 delivery is in flight (benchmarks/hostile_payloads.py
runs the scenario and writes its numbers to benchmarks/results/; this test asserts on it). Also: formula-
looking text is flagged in the answer, not altered, and a payload that finds no parse slot gets 503."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest

from benchmarks.hostile_payloads import TARGET_P99_MS, TARGET_RSS_MB, run_scenario
from core.settings import IngestSettings
from tests.e2e.conftest import RunningHub

pytestmark = pytest.mark.e2e

# The issue's own bounds (issue 10: "/healthz p99 stays under 100 ms, and peak memory stays under 300
# MB"), which it asks a test to show. Measured with benchmarks/hostile_payloads.py at load average 2-4
# from other work on the machine: p99 21-37 ms and peak 218-220 MB on SQLite, 29 ms and 235 MB on
# PostgreSQL. Before delivery's per-row work left the loop and the payload its row, the same runs gave
# p99 137-168 ms and peaks of 285-295 MB; a loop blocked by parsing answered in up to 7.3 s.


async def test_hostile_payloads_do_not_stall_the_hub(database_url: str, tmp_path: Path) -> None:
    workdir = tmp_path / "hub"
    workdir.mkdir()
    outcome = await run_scenario(workdir, database_url)

    status, answer = outcome.normal_answer
    assert status == 202 and answer["accepted"] == 20 and answer["rejected"] == []
    assert outcome.normal_delivered, "the normal ผ.02 table did not reach e-LAAS"

    expected = {
        "xlsx_empty_row_bomb": (413, "payload.expanded_too_large"),
        "xlsx_empty_rows_within_expanded_limit": (413, "payload.too_many_rows_scanned"),
        "xlsx_one_huge_cell": (413, "payload.cell_too_long"),
        "json_depth_100000": (400, "json.too_deep"),
        "json_10_million_character_title": (413, "payload.cell_too_long"),
    }
    for name, (status, rule) in expected.items():
        got, body = outcome.answers[name]
        assert (got, body.get("rule")) == (status, rule), (name, body)
        assert body["detail"] and body["message_id"], name  # a clear answer, and the payload kept
    status, body = outcome.answers["csv_50000_rows"]
    assert status == 202 and body["accepted"] == 50_000 and body["rejected"] == [] and body["faults"] == []

    assert outcome.poll_failures == []
    assert len(outcome.latencies_ms) > 50  # polled all along, not just once
    summary = outcome.summary("", "")
    assert summary["healthz"]["p99_ms"] < TARGET_P99_MS, summary["healthz_during"]
    assert summary["hub_peak_rss_mb"] < TARGET_RSS_MB, summary["hub_peak_rss_mb_after"]
    # The figures themselves are the benchmark's (python -m benchmarks.hostile_payloads writes them to
    # benchmarks/results/); a test run leaves the repository as it found it.


def _table(*titles: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["ที่", "รหัส อปท.", "แผนงาน", "ชื่อโครงการ", "งบประมาณ 2568"])
    for n, title in enumerate(titles, start=1):
        writer.writerow([n, "5400103", "อุตสาหกรรมและการโยธา", title, "1,000"])
    return buffer.getvalue().encode("utf-8")


async def test_formula_like_text_is_flagged_in_the_answer_not_altered(running_hub: RunningHub) -> None:
    hub = running_hub
    formula = '=HYPERLINK("http://example.invalid","ถนน")'
    status, answer = await hub.post(_table("ถนน คสล. หมู่ที่ 1", formula, "@SUM(A1)"), "text/csv; charset=utf-8")
    assert status == 202 and answer["accepted"] == 3 and answer["rejected"] == []
    warned = {(w["row"], w["field"], w["rule"]) for w in answer["warnings"]}
    assert warned == {(2, "title", "text.formula_like"), (3, "title", "text.formula_like")}
    assert next(w for w in answer["warnings"] if w["row"] == 2)["value"] == formula
    # The title is kept exactly as sent.
    entity_id = next(e["id"] for e in answer["entities"] if e["row"] == 2)
    detail = await hub.get_json(f"{hub.url}/api/v1/entities/{entity_id}")
    assert detail["entity"]["title"] == formula


@pytest.mark.hub_settings(ingest=IngestSettings(parse_wait_s=0.05))
async def test_a_payload_without_a_parse_slot_gets_503_with_retry_after(running_hub: RunningHub) -> None:
    hub = running_hub
    # The client's one slot is taken (as by a large upload still parsing): the next waits, then is refused.
    async with hub.hub.ingestor.gate.slot("e2e-eplan"):
        headers = {"Content-Type": "text/csv; charset=utf-8", "Authorization": f"Bearer {hub.eplan_key}"}
        async with hub.http.post(f"{hub.url}/api/v1/inbound/eplan", data=_table("ถนน"), headers=headers) as response:
            assert response.status == 503
            assert response.headers["Retry-After"] == "1"
            body = await response.json(content_type=None)
    assert body["rule"] == "ingest.busy" and "ingest.max_concurrent_parses" in body["detail"]
    status, answer = await hub.post(_table("ถนน"), "text/csv; charset=utf-8")  # the slot is free again
    assert status == 202 and answer["accepted"] == 1
    assert hub.hub.ingestor.gate.waiting == 0 and hub.hub.ingestor.gate.busy == 0
    await asyncio.sleep(0)
