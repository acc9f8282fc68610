"""Ingest's CPU work runs in the ingestor's pool, bounded by the parse gate; the hub's payload limits reach
the plugins' parse. (The live proof that the loop stays free: tests/e2e/test_hostile_payloads_live.py.)"""

from __future__ import annotations

import asyncio
import threading

import pytest
from pydantic import ValidationError

from core.ingest import IngestBusy, Ingestor, ParseGate
from core.plugin_manager import load_plugins
from core.plugin_types import MappedRecord, NativeRecord
from core.reference_data import load_reference_data
from core.settings import IngestSettings, PayloadLimits
from prasan import PayloadError

TABLE = "รหัส อปท.,แผนงาน,ชื่อโครงการ,งบประมาณ 2568\n" + "5400103,การศึกษา,ถนน {n},1000\n".format(n=1) * 3


def test_the_hubs_limits_reach_the_plugins_parse() -> None:
    registry = load_plugins()
    tight = PayloadLimits(max_records=2, max_rows_scanned=10)
    systems = registry.configure(load_reference_data(), {}, tight)
    eplan = systems.get("eplan")
    assert eplan.context.limits is tight
    with pytest.raises(PayloadError) as caught:
        eplan.parse(TABLE.encode(), "text/csv", "utf-8")
    assert caught.value.rule == "payload.too_many_rows" and caught.value.status == 413
    default = registry.configure(load_reference_data(), {}).get("eplan")
    assert len(default.parse(TABLE.encode(), "text/csv", "utf-8")) == 3


class _AsyncMapper:
    """A plugin whose map_in is a coroutine: it is awaited on the loop, the validation runs in the pool."""

    name = "asyncmapper"

    def __init__(self) -> None:
        self.threads: set[str] = set()

    async def map_in(self, record: NativeRecord) -> list[MappedRecord]:
        self.threads.add(threading.current_thread().name)
        await asyncio.sleep(0)
        return [MappedRecord("plan_project", record.data["id"], {"org_code": "5400103", "title": record.data["title"]})]


async def test_a_coroutine_map_in_runs_on_the_loop_and_sync_work_in_the_pool() -> None:
    ingestor = Ingestor(store=None, reference=load_reference_data(), route=lambda *_: [])
    ingestor.start()
    try:
        plugin = _AsyncMapper()
        records = [NativeRecord(1, {"id": "a", "title": "ถนน"}), NativeRecord(2, {"id": "b", "title": "=1+1"})]
        mapped = await ingestor._map(plugin, records)  # type: ignore[arg-type]
    finally:
        ingestor.stop()
    assert [e.external_id for e in mapped.entities] == ["a", "b"] and mapped.rejections == []
    assert plugin.threads == {threading.current_thread().name}  # the loop's thread, not the pool's
    assert [(w["row"], w["field"], w["rule"]) for w in mapped.warnings] == [(2, "title", "text.formula_like")]


async def test_the_gate_bounds_waiting_and_answers_busy() -> None:
    gate = ParseGate(IngestSettings(max_concurrent_parses=1, max_concurrent_parses_per_client=1, max_waiting_parses=0))
    async with gate.slot("a"):
        with pytest.raises(IngestBusy) as caught:  # nobody may wait: refused at once
            async with gate.slot("b"):
                pass
        assert "ingest.max_waiting_parses" in caught.value.reason and caught.value.retry_after_s >= 1
    async with gate.slot("b"):  # free again
        assert gate.busy == 1
    assert gate.busy == gate.waiting == 0 and gate._clients == {}


async def test_a_waiting_payload_gets_its_slot_when_one_is_freed() -> None:
    gate = ParseGate(IngestSettings(max_concurrent_parses=1, max_concurrent_parses_per_client=1, parse_wait_s=30))
    order: list[str] = []
    first = asyncio.Event()

    async def take(name: str, hold: asyncio.Event | None) -> None:
        async with gate.slot(name):
            order.append(name)
            if hold is not None:
                first.set()
                await hold.wait()

    release = asyncio.Event()
    holder = asyncio.create_task(take("a", release))
    await first.wait()
    waiter = asyncio.create_task(take("b", None))
    while gate.waiting == 0:
        await asyncio.sleep(0)
    release.set()
    await asyncio.gather(holder, waiter)
    assert order == ["a", "b"]


def test_per_client_cannot_exceed_overall() -> None:
    with pytest.raises(ValidationError):
        IngestSettings(max_concurrent_parses=1, max_concurrent_parses_per_client=2)
