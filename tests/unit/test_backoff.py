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


# --- the outage budget (docs/decisions/0009-outage-budget.md) ---------------------------------------

from datetime import UTC, datetime, timedelta  # noqa: E402

from core.delivery import exhausted, nominal_delay, retry_schedule  # noqa: E402
from core.store.records import ClaimedDelivery  # noqa: E402

DAY = 86_400.0


def test_the_default_schedule_retries_for_at_least_a_day() -> None:
    settings = DeliverySettings()
    assert settings.retry_window_s >= DAY
    schedule = retry_schedule(settings, max_attempts=8)
    assert schedule[:6] == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    assert max(schedule) == settings.backoff_max_s == 3600.0
    assert sum(schedule) >= DAY
    # About 34 attempts: eleven doubling delays (68 minutes), then one an hour until the day is over.
    assert 30 <= len(schedule) + 1 <= 40
    assert sum(schedule[:-1]) < DAY  # and no longer than needed


def test_the_window_holds_whatever_the_jitter() -> None:
    settings = DeliverySettings()
    for jitter in (0.5, 1.0, 1.5):
        assert sum(retry_schedule(settings, 8, jitter=jitter)) >= DAY


def test_the_routes_max_attempts_is_a_floor_and_a_zero_window_restores_counting() -> None:
    counted = DeliverySettings(retry_window_s=0)
    schedule = retry_schedule(counted, 8)
    assert len(schedule) == 7 and sum(schedule) == 2 + 4 + 8 + 16 + 32 + 64 + 128  # 8 attempts, 254 s
    short_window = DeliverySettings(retry_window_s=10, backoff_base_s=1)
    assert len(retry_schedule(short_window, 20)) == 19  # the window is spent, the attempts are not yet
    assert len(retry_schedule(short_window, 1)) == 4  # 1 + 2 + 4 + 8 >= 10 s


def test_a_delivery_is_exhausted_only_when_attempts_and_window_are_both_spent() -> None:
    settings = DeliverySettings(retry_window_s=3600)
    now = datetime(2025, 12, 15, tzinfo=UTC)

    def claimed(attempts: int, failing_for_s: float | None) -> ClaimedDelivery:
        first = None if failing_for_s is None else now - timedelta(seconds=failing_for_s)
        return ClaimedDelivery(
            outbox_id=1, delivery_key="k", destination="elaas", route="r", entity_id="E", entity_type="t",
            version=1, attempts=attempts, max_attempts=8, received_at=None, payload={}, xrefs={},
            first_failed_at=first,
        )

    assert not exhausted(claimed(8, None), now, settings)  # the first failure starts the window
    assert not exhausted(claimed(30, 3599), now, settings)
    assert not exhausted(claimed(7, 7200), now, settings)
    assert exhausted(claimed(8, 3600), now, settings)
    assert exhausted(claimed(8, None), now, DeliverySettings(retry_window_s=0))


def test_nominal_delay_stays_finite_for_any_attempt() -> None:
    assert nominal_delay(10_000, DeliverySettings()) == 3600.0
    assert backoff_delay(10_000, DeliverySettings(), rng=random.Random(1)) <= 1.5 * 3600.0
