"""A pull stops when its source stops moving, and a record it cannot fold is that record's rejection."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from core.contract import Stream
from core.errors import PermanentError
from core.plugin_types import NativeRecord, ReadBatch
from core.scheduler import PullRunner
from plugins.eplan.parse import canonical_native_record


class StuckSource:
    """Says there is more, but never moves its cursor: a buggy or misconfigured source."""

    name = "stuck"
    streams = (Stream(entity_type="plan_project"),)

    def stream_for(self, entity_type: str) -> Stream:
        return self.streams[0]

    def __init__(self) -> None:
        self.reads = 0

    async def read(self, stream: Stream, cursor: str | None) -> ReadBatch:
        self.reads += 1
        if self.reads > 50:
            raise AssertionError("the pull kept reading a source whose cursor never moves")
        return ReadBatch([NativeRecord(1, {"x": "1"})], next_cursor="7", more=True)


async def test_a_source_that_never_moves_its_cursor_is_not_read_forever() -> None:
    source = StuckSource()
    ingested: list[Any] = []

    async def ingest_records(plugin: Any, message: Any, records: Any, cursor: Any) -> None:
        ingested.append(cursor.cursor)

    marked: list[str] = []
    failed: list[str] = []
    runner = PullRunner(
        config=SimpleNamespace(  # type: ignore[arg-type]
            get_cursor=lambda system, entity_type: "7", mark_pulled=lambda system, entity_type: marked.append(system)
        ),
        systems=SimpleNamespace(get=lambda system: source),  # type: ignore[arg-type]
        ingestor=SimpleNamespace(ingest_records=ingest_records),  # type: ignore[arg-type]
        observer=SimpleNamespace(  # type: ignore[arg-type]
            pulled=lambda *args: None, pull_failed=lambda system, *args: failed.append(system)
        ),
    )
    with pytest.raises(PermanentError, match="does not move"):
        await runner.pull("stuck", "plan_project")
    assert source.reads == 1 and ingested == ["7"]  # what was read is kept
    assert marked == [] and failed == ["stuck"]  # but it is not a successful sync


def test_a_polled_record_with_two_spellings_of_one_column_is_rejected_alone() -> None:
    record = NativeRecord(3, {"ชื่อโครงการ": "ถนน", "โครงการ": "อื่น", "รหัส อปท.": "5400103"})
    folded = canonical_native_record(record)
    assert [p.rule for p in folded.problems] == ["eplan.header_repeated"]
    good = canonical_native_record(NativeRecord(4, {"ชื่อโครงการ": "ถนน", "รหัส อปท.": "5400103"}))
    assert good.problems == () and good.data["ชื่อโครงการ"] == "ถนน"
