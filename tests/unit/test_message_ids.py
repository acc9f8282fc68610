"""Message ids (core/store/records.py new_message_id): random version-4 UUIDs in hex, drawn in blocks."""

from __future__ import annotations

import uuid

import pytest

from core.store import records


def test_message_ids_are_distinct_version_4_uuids_across_blocks() -> None:
    ids = [records.new_message_id() for _ in range(3 * records._IDS_AT_ONCE + 7)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.hex == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_process_does_not_reuse_its_parents_unused_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    records.new_message_id()  # the block is drawn; some ids of it are left unused
    left = list(records._unused_ids)
    assert left
    monkeypatch.setattr(records, "_unused_ids_pid", -1)  # as seen from a child: another pid drew them
    assert records.new_message_id() not in left
    assert not set(records._unused_ids) & set(left)
