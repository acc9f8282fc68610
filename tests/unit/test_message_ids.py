"""Message and entity ids (core/store/records.py new_message_id, core/store/util.py new_entity_id): random
bits drawn in blocks (`RandomHex`)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from core.store import records, util


def test_message_ids_are_distinct_version_4_uuids_across_blocks() -> None:
    ids = [records.new_message_id() for _ in range(3 * records._uuid_bits.at_once + 7)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.hex == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_process_does_not_reuse_its_parents_unused_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = records._uuid_bits
    records.new_message_id()  # the block is drawn; some ids of it are left unused
    left = list(pool._unused)
    assert left
    monkeypatch.setattr(pool, "_pid", -1)  # as seen from a child: another pid drew them
    assert records.new_message_id() not in {uuid.UUID(hex=bits, version=4).hex for bits in left}
    assert not set(pool._unused) & set(left)


def test_entity_ids_are_time_then_80_random_bits_distinct_across_blocks() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [util.new_entity_id() for _ in range(3 * util._entity_bits.at_once + 7)]
    after_ms = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids:
        assert len(text) == 32 and int(text, 16) >= 0
        assert before_ms <= int(text[:12], 16) <= after_ms
    assert len({text[12:] for text in ids}) == len(ids)


def test_threads_drawing_at_once_never_get_the_same_bits() -> None:
    pool = records.RandomHex(10, at_once=8)  # small blocks: many refills while the threads race
    drawn: list[list[str]] = [[] for _ in range(4)]

    def draw(into: list[str]) -> None:
        for _ in range(5_000):
            into.append(pool.take())

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [bits for into in drawn for bits in into]
    assert len(every) == 20_000 and len(set(every)) == len(every)
    assert {len(bits) for bits in every} == {20}
