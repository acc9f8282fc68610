"""Retry delays: exponential, jittered, capped, and never sooner than the system's Retry-After."""

from __future__ import annotations

import random

from core.delivery import backoff_delay
from core.settings import DeliverySettings

SETTINGS = DeliverySettings(backoff_base_s=1.0, backoff_max_s=60.0)


def test_delay_grows_exponentially_within_the_jitter_band() -> None:
    rng = random.Random(7)
    for attempt in range(1, 7):
        nominal = min(60.0, 2 ** (attempt - 1))
        for _ in range(50):
            delay = backoff_delay(attempt, SETTINGS, rng=rng)
            assert 0.5 * nominal <= delay <= 1.5 * nominal


def test_delay_is_capped() -> None:
    assert backoff_delay(40, SETTINGS, rng=random.Random(1)) <= 1.5 * 60.0


def test_retry_after_is_honoured_when_longer() -> None:
    assert backoff_delay(1, SETTINGS, retry_after=120.0, rng=random.Random(1)) == 120.0
    assert backoff_delay(5, SETTINGS, retry_after=0.1, rng=random.Random(1)) >= 8.0


def test_jitter_spreads_a_batch_that_failed_together() -> None:
    rng = random.Random(3)
    delays = {round(backoff_delay(3, SETTINGS, rng=rng), 6) for _ in range(20)}
    assert len(delays) > 10
