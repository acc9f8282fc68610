"""core/group_commit.py: writes arriving while a group is written go together; each caller gets its own
result or its own exception; a group stays within its weight."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from core.group_commit import GroupCommit


class Recorder:
    """A write_together that records its groups and fails the requests named 'bad'. The first group waits
    until `release` is set, so that the test decides what arrives while it is being written."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.release = threading.Event()

    def __call__(self, requests: Sequence[str]) -> list[str | Exception]:
        if not self.groups:
            self.release.wait(timeout=30)
        self.groups.append(list(requests))
        return [ValueError(r) if r == "bad" else r.upper() for r in requests]


async def test_writes_arriving_while_a_group_is_written_are_written_together() -> None:
    recorder = Recorder()
    commit: GroupCommit[str, str] = GroupCommit(recorder, max_weight=10)
    first = asyncio.create_task(commit.write("a"))
    await asyncio.sleep(0)  # the writer takes "a" alone: nothing waits for a group to fill
    later = [asyncio.create_task(commit.write(r)) for r in ("b", "bad", "c")]
    await asyncio.sleep(0)
    recorder.release.set()
    assert await first == "A"
    results = await asyncio.gather(*later, return_exceptions=True)
    assert results[0] == "B" and results[2] == "C"
    assert isinstance(results[1], ValueError) and str(results[1]) == "bad"
    assert recorder.groups == [["a"], ["b", "bad", "c"]]
    assert (commit.groups, commit.written) == (2, 4)


async def test_a_group_holds_at_most_its_weight_unless_one_write_alone_weighs_more() -> None:
    recorder = Recorder()
    commit: GroupCommit[str, str] = GroupCommit(recorder, max_weight=5)
    first = asyncio.create_task(commit.write("a", weight=1))
    await asyncio.sleep(0)
    later = [asyncio.create_task(commit.write(r, weight=w)) for r, w in (("b", 3), ("c", 2), ("d", 9), ("e", 1))]
    await asyncio.sleep(0)
    recorder.release.set()
    assert await asyncio.gather(first, *later) == ["A", "B", "C", "D", "E"]
    assert recorder.groups == [["a"], ["b", "c"], ["d"], ["e"]]
