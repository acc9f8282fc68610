"""Operator actions that span several store calls: bulk dead-letter replay, pull now."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core.scheduler import PullRunner
from core.store import Store
from core.store.records import ResolveResult

# Dead letters read per page of a bulk replay.
REPLAY_PAGE_SIZE = 500


@dataclass(frozen=True)
class BulkReplay:
    """What a bulk replay did: every open dead letter matching its filter was tried once.

    Iterating it (or `len`) gives the per-letter results, in dead-letter id order, so that code written
    for the list `replay_many` used to answer keeps working.
    """

    matched: int = 0  # open dead letters matching the filter that were tried
    replayed: int = 0  # queued again (each under its own delivery key)
    # left as they were: refused (a newer version is queued, in flight or delivered) or resolved meanwhile
    skipped: int = 0
    results: list[ResolveResult] = field(default_factory=list)

    def __iter__(self) -> Iterator[ResolveResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)


async def replay_many(
    store: Any,
    filters: dict[str, Any],
    actor: str,
    note: str | None = None,
    limit: int | None = None,
    *,
    page_size: int = REPLAY_PAGE_SIZE,
) -> BulkReplay:
    """Replay every open dead letter matching `filters` (the keywords of `store.outbox.find_dead_letters`),
    reading them `page_size` at a time until none is left; `limit` (None: no limit) stops after that
    many were tried. Each replay reuses its delivery key and is audited as `actor`, so running the same
    bulk replay twice sends nothing new.

    A delivery that dies again while the replay runs gets a new dead letter; it is not replayed a
    second time by the same run (the run would otherwise chase a destination that still refuses it).
    """
    filters = {k: v for k, v in filters.items() if k not in ("include_resolved", "limit", "offset")}
    seen: set[int] = set()
    replayed_outbox: set[int] = set()
    results: list[ResolveResult] = []
    replayed = skipped = 0
    # Letters this run looked at that are still open; they sort before the ones not yet seen (ids only
    # grow), so the next page starts near there. The page overlaps by one page size, and letters
    # already seen are passed over, in case some of those were resolved by someone else meanwhile.
    left_open = 0
    while limit is None or len(results) < limit:
        page = await asyncio.to_thread(
            store.outbox.find_dead_letters,
            **filters,
            include_resolved=False,
            limit=2 * page_size,
            offset=max(0, left_open - page_size),
        )
        fresh = [letter for letter in page if letter.id not in seen]
        if not fresh:
            break
        for letter in fresh[:page_size]:
            if limit is not None and len(results) >= limit:
                break
            seen.add(letter.id)
            if letter.outbox_id in replayed_outbox:
                left_open += 1  # died again after this run replayed it: left for the operator
                continue
            result = await asyncio.to_thread(store.outbox.replay_dead_letter, letter.id, note, actor=actor)
            results.append(result)
            if result.done:
                replayed += 1
                replayed_outbox.add(letter.outbox_id)
            else:
                skipped += 1
                if not result.message.startswith("already resolved"):
                    left_open += 1
    return BulkReplay(matched=len(results), replayed=replayed, skipped=skipped, results=results)


async def pull_now(pulls: PullRunner, store: Store, system: str, entity_type: str, actor: str) -> int:
    """Run one pull of (system, entity type) at once, from its saved cursor; audited."""
    records = await pulls.pull(system, entity_type)
    await asyncio.to_thread(store.access.audit, actor, "pull.now", f"cursor:{system}/{entity_type}", None, {"records": records})
    return records
