"""A payload larger than ingest.store_chunk_records is stored a chunk per transaction: the answer and the
stored state are those of one transaction, a crash between chunks is completed from the kept payload
without storing any chunk twice, and a writer that lost the message to another stores nothing.
On SQLite and PostgreSQL (docs/decisions/0013-chunked-ingest.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.hub import Hub
from core.settings import HubSettings, IngestSettings
from core.store import ChunkTakenOver, InboundMessage
from core.store.schema import entity_versions, inbox_chunks, inbox_messages, outbox

CHUNK = 3
ROWS = 8  # three chunks: 3 + 3 + 2


def table(rows: int = ROWS, amount: int = 1000) -> bytes:
    lines = ["รหัส อปท.,แผนงาน,ชื่อโครงการ,งบประมาณ 2568"]
    lines += [f"5400103,การศึกษา,ก่อสร้างถนนสายที่ {n},{amount + n}" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def message(body: bytes, key: str | None = "k-1") -> InboundMessage:
    return InboundMessage(system="eplan", payload=body, media_type="text/csv", charset="utf-8", client_name="c", idempotency_key=key)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    url = f"sqlite:///{tmp_path / 'hub.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_schema_url")
    built = Hub.build(
        HubSettings(database_url=url, scheduler_enabled=False, ingest=IngestSettings(store_chunk_records=CHUNK))
    )
    await asyncio.to_thread(built.store.upgrade)
    built.ingestor.start()
    try:
        yield built
    finally:
        built.ingestor.stop()
        built.store.dispose()


def counts(hub: Hub, message_id: str) -> dict[str, object]:
    with hub.store.engine.connect() as conn:
        row = conn.execute(select(inbox_messages).where(inbox_messages.c.message_id == message_id)).one()
        return {
            "outcome": row.outcome,
            "accepted": row.accepted_count,
            "stored_chunks": row.stored_chunks,
            "versions": conn.execute(select(func.count()).select_from(entity_versions)).scalar_one(),
            "deliveries": conn.execute(select(func.count()).select_from(outbox)).scalar_one(),
            "chunk_answers": conn.execute(select(func.count()).select_from(inbox_chunks)).scalar_one(),
        }


async def test_a_large_payload_is_stored_in_chunks_with_one_answer(hub: Hub) -> None:
    plugin = hub.systems.get("eplan")
    answer, replayed = await hub.ingestor.answer_push(plugin, message(table()))
    assert not replayed and answer["accepted"] == ROWS and answer["rejected"] == []
    assert [e["row"] for e in answer["entities"]] == list(range(1, ROWS + 1))
    assert all(e["version"] == 1 and e["changed"] for e in answer["entities"])
    assert counts(hub, answer["message_id"]) == {
        "outcome": "accepted", "accepted": ROWS, "stored_chunks": 3, "versions": ROWS, "deliveries": ROWS,
        "chunk_answers": 0,
    }
    # The same key and body: the stored answer, all chunks of it, and nothing stored again.
    again, replayed = await hub.ingestor.answer_push(plugin, message(table()))
    assert replayed and again == answer
    assert counts(hub, answer["message_id"])["versions"] == ROWS


async def test_a_crash_between_chunks_is_completed_without_storing_a_chunk_twice(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = hub.systems.get("eplan")
    store_chunk = hub.store.inbox.store_chunk

    def dies_before_the_second_chunk(msg, chunk, *args):  # type: ignore[no-untyped-def]
        if chunk == 1:
            raise ConnectionError("the process died here")
        return store_chunk(msg, chunk, *args)

    monkeypatch.setattr(hub.store.inbox, "store_chunk", dies_before_the_second_chunk)
    sent = message(table())
    with pytest.raises(ConnectionError):
        await hub.ingestor.answer_push(plugin, sent)
    left = counts(hub, sent.message_id)
    assert left == {
        "outcome": "storing", "accepted": CHUNK, "stored_chunks": 1, "versions": CHUNK, "deliveries": CHUNK,
        "chunk_answers": 1,
    }
    monkeypatch.undo()

    # Not yet stalled long enough (ingest.resume_after_s): left to the process that may still be at it.
    assert await hub.ingestor.complete_unfinished(hub.systems) == []
    assert await hub.ingestor.complete_unfinished(hub.systems, stalled_for_s=0) == [sent.message_id]
    assert counts(hub, sent.message_id) == {
        "outcome": "accepted", "accepted": ROWS, "stored_chunks": 3, "versions": ROWS, "deliveries": ROWS,
        "chunk_answers": 0,
    }
    assert await hub.ingestor.complete_unfinished(hub.systems, stalled_for_s=0) == []
    # The producer's repeat gets the whole answer, chunks stored before the crash included.
    answer, replayed = await hub.ingestor.answer_push(plugin, message(table()))
    assert replayed and answer["accepted"] == ROWS
    assert [e["row"] for e in answer["entities"]] == list(range(1, ROWS + 1))
    assert all(e["version"] == 1 and e["changed"] for e in answer["entities"])


async def test_a_writer_that_lost_the_message_stores_nothing(hub: Hub) -> None:
    plugin = hub.systems.get("eplan")
    answer, _ = await hub.ingestor.answer_push(plugin, message(table(), key=None))
    before = counts(hub, answer["message_id"])
    sent = message(table(amount=5000), key=None)
    records = plugin.parse(sent.payload, "text/csv", "utf-8")
    entities, rejections = await hub.ingestor.map_records(plugin, records[:CHUNK])
    await asyncio.to_thread(hub.store.inbox.begin_chunks, sent, CHUNK)
    await asyncio.to_thread(hub.store.inbox.store_chunk, sent, 0, entities, rejections, [], hub.ingestor.route)
    # A second writer (one that thought the first dead) arrives with the same chunk: refused, nothing written.
    with pytest.raises(ChunkTakenOver):
        await asyncio.to_thread(hub.store.inbox.store_chunk, sent, 0, entities, rejections, [], hub.ingestor.route)
    with pytest.raises(ChunkTakenOver):
        await asyncio.to_thread(hub.store.inbox.finish_chunks, sent.message_id, 3, None)
    now = counts(hub, sent.message_id)
    assert now["stored_chunks"] == 1 and now["accepted"] == CHUNK
    assert now["versions"] == before["versions"] + CHUNK and now["deliveries"] == before["deliveries"] + CHUNK
