"""Group commit: writes that arrive while the previous group is being written go to the database together,
in one thread hop and one transaction (for pushed payloads `InboxRepository.ingest_together`), each caller
still answered with its own result or its own exception.

A single-record push costs about a millisecond of fixed work per transaction (BEGIN, COMMIT, the
statements' construction in SQLAlchemy, a thread hop, cold page caches), twenty times the work of its
one record; sixteen producers pushing one record each at once share one such cost instead of paying
sixteen (and the statements of payloads that share no record are run once for all of them). Nothing waits for a group to fill: a write that finds no group being written starts one at
once, so a lone push is written as soon as before, and a group forms only from writes that would
otherwise have queued for the database's write lock.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

R = TypeVar("R")
T = TypeVar("T")


@dataclass
class _Waiting(Generic[R, T]):
    request: R
    weight: int
    answer: asyncio.Future[T]


class GroupCommit(Generic[R, T]):
    """Writes through `write_together` (a list of requests in, a list of results or exceptions out, in
    order, from a thread), grouped while they arrive; a group holds at most `max_weight` (records, say)
    unless one write alone weighs more."""

    def __init__(self, write_together: Callable[[Sequence[R]], Sequence[T | BaseException]], max_weight: int) -> None:
        self._write_together = write_together
        self.max_weight = max_weight
        self._waiting: list[_Waiting[R, T]] = []
        self._writer: asyncio.Task[None] | None = None
        self.groups = 0  # written so far, with `written`: how well writes are grouped
        self.written = 0

    async def write(self, request: R, weight: int = 1) -> T:
        """`request`'s result once its group is committed, or the exception it raised. A caller cancelled
        while its group is being written does not stop the write, as a cancelled `asyncio.to_thread`
        would not."""
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(request, weight, answer))
        if self._writer is None or self._writer.done():
            # A context of its own: the writer serves every caller, and must log as none of them.
            self._writer = asyncio.create_task(self._write_waiting(), context=contextvars.Context())
        return await answer

    async def _write_waiting(self) -> None:
        group: list[_Waiting[R, T]] = []
        try:
            while self._waiting:
                group = self._next_group()
                try:
                    results = await asyncio.to_thread(self._write_together, [w.request for w in group])
                except Exception as exc:  # write_together answers failures; this is the thread hop's own
                    results = [exc] * len(group)
                self.groups += 1
                self.written += len(group)
                for waiting, result in zip(group, results, strict=True):
                    if waiting.answer.done():  # its caller was cancelled
                        continue
                    if isinstance(result, BaseException):
                        waiting.answer.set_exception(result)
                    else:
                        waiting.answer.set_result(result)
                group = []
        finally:
            # Only when this task itself is cancelled (the loop closing): nobody is left waiting forever.
            for waiting in [*group, *self._waiting]:
                waiting.answer.cancel()
            self._waiting.clear()

    def _next_group(self) -> list[_Waiting[R, T]]:
        weight, taken = 0, 0
        for waiting in self._waiting:
            if taken and weight + waiting.weight > self.max_weight:
                break
            weight += waiting.weight
            taken += 1
        group = self._waiting[:taken]
        del self._waiting[:taken]
        return group
