"""Per-client rate limits: a token bucket per API client or admin token, kept in this process's memory.

With several hub processes each process limits on its own, so a client may reach N times the rate
across N processes; that is accepted (the limit protects each process, not a quota).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, max_clients: int = 100_000) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, now: float | None = None) -> float | None:
        """Spend one request of `key`; None if allowed, else the seconds to wait before retrying."""
        at = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_clients and not self._forget_idle(at):
                # Every tracked key is active (a flood of new addresses): clearing would reset everyone's
                # limit, so the newcomer waits instead.
                return 1.0 / self.rate
            bucket = self._buckets[key] = _Bucket(float(self.burst), at)
        bucket.tokens = min(float(self.burst), bucket.tokens + (at - bucket.updated) * self.rate)
        bucket.updated = at
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self.rate


    def _forget_idle(self, at: float) -> bool:
        """Drop buckets idle long enough to be full again (forgetting them changes nothing)."""
        refill_s = self.burst / self.rate
        idle = [key for key, bucket in self._buckets.items() if at - bucket.updated >= refill_s]
        for key in idle:
            del self._buckets[key]
        return bool(idle)


def retry_after_header(wait_s: float) -> int:
    return max(1, math.ceil(wait_s))
