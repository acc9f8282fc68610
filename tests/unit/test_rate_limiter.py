"""The token bucket: a burst, a steady rate, and no reset of everyone's limits under a flood of keys."""

from __future__ import annotations

from admin_api.ratelimit import RateLimiter


def test_burst_then_rate() -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst=3)
    assert [limiter.take("a", now=0.0) for _ in range(3)] == [None, None, None]
    wait = limiter.take("a", now=0.0)
    assert wait is not None and 0.4 <= wait <= 0.5
    assert limiter.take("a", now=0.5) is None


def test_a_flood_of_new_keys_does_not_reset_an_active_limit() -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=2, max_clients=3)
    assert limiter.take("victim", now=0.0) is None and limiter.take("victim", now=0.0) is None
    assert limiter.take("victim", now=0.0) is not None  # limited
    for index in range(10):  # the table is full of active keys: newcomers wait
        limiter.take(f"flood-{index}", now=0.1)
    assert limiter.take("victim", now=0.1) is not None  # still limited, not reset
    assert limiter.take("late", now=5.0) is None  # idle keys are forgotten once full again
