"""Which answers are built on the event loop: only those of payloads small in records and in bytes, since
an answer repeats the cells it rejects or warns about."""

from __future__ import annotations

from core.ingest import ON_LOOP_BYTES, ON_LOOP_RECORDS, answered_on_loop


def test_a_small_payload_is_answered_on_the_loop() -> None:
    assert answered_on_loop(200, 1)
    assert answered_on_loop(ON_LOOP_BYTES, ON_LOOP_RECORDS)


def test_few_records_of_long_cells_are_answered_off_the_loop() -> None:
    assert not answered_on_loop(ON_LOOP_BYTES + 1, 1)
    assert not answered_on_loop(30 * 2**20, ON_LOOP_RECORDS)


def test_many_short_records_are_answered_off_the_loop() -> None:
    assert not answered_on_loop(1_000, ON_LOOP_RECORDS + 1)
