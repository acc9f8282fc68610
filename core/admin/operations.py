"""Operator actions that span several store calls: bulk dead-letter replay, pull now."""

from __future__ import annotations

import asyncio
from typing import Any

from core.scheduler import PullRunner
from core.store import Store
from core.store.records import ResolveResult

BULK_REPLAY_MAX = 1000


async def replay_many(store: Any, filters: dict[str, Any], actor: str, note: str | None, limit: int) -> list[ResolveResult]:
    """Replay every unresolved dead letter matching `filters`, up to `limit`. Each replay reuses its
    delivery key, so running the same bulk replay twice sends nothing new."""
    letters = await asyncio.to_thread(
        store.find_dead_letters, **filters, include_resolved=False, limit=min(limit, BULK_REPLAY_MAX)
    )
    results = []
    for letter in letters:
        results.append(await asyncio.to_thread(store.replay_dead_letter, letter.id, note, actor=actor))
    return results


async def pull_now(pulls: PullRunner, store: Store, system: str, entity_type: str, actor: str) -> int:
    """Run one pull of (system, entity type) at once, from its saved cursor; audited."""
    records = await pulls.pull(system, entity_type)
    await asyncio.to_thread(store.audit, actor, "pull.now", f"cursor:{system}/{entity_type}", None, {"records": records})
    return records
