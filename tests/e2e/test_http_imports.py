"""POST /api/v1/imports/{system}: a whole file uploaded in one request, written to disk as it arrives and
imported in the background, on a real hub over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from yarl import URL

from benchmarks.import_file import HEADER, organisations, p02_row, write_p02_csv
from core.signing import sign_headers
from core.store.schema import entities
from tests.e2e.conftest import RunningHub, hub_with_simulators

CSV_TYPE = "text/csv; charset=utf-8"


async def _upload(hub: RunningHub, body: Any, key: str | None = None, *, query: str = "", content_type: str = CSV_TYPE,
                  **headers: str) -> tuple[int, Any, dict[str, str]]:  # fmt: skip
    sent = {"Content-Type": content_type, "Authorization": f"Bearer {key or hub.eplan_key}", **headers}
    async with hub.http.post(f"{hub.url}/api/v1/imports/eplan{query}", data=body, headers=sent) as response:
        return response.status, await response.json(content_type=None), dict(response.headers)


async def _get(hub: RunningHub, path: str, key: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {key or hub.eplan_key}"}
    async with hub.http.get(f"{hub.url}{path}", headers=headers) as response:
        return response.status, await response.read()


async def _finished(hub: RunningHub, href: str, key: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def ended() -> bool:
        status, body = await _get(hub, href, key)
        assert status == 200, body
        found.update(json.loads(body))
        return found["state"] not in ("receiving", "importing")

    await hub.wait_until(ended, "the import to end", limit_s=120)
    return found


def _csv(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows([HEADER, *rows])
    return text.getvalue().encode("utf-8")


def _entity_count(hub: RunningHub) -> int:
    return hub.hub.store.read(lambda conn: conn.execute(select(func.count()).select_from(entities)).scalar_one())


@pytest.fixture
async def importing_hub(database_url: str, tmp_path: Path) -> AsyncIterator[RunningHub]:
    async with hub_with_simulators(
        database_url, var_dir=tmp_path / "var", scheduler_enabled=False,
        imports={"max_file_bytes": 2_000_000, "max_concurrent": 1},
    ) as running:  # fmt: skip
        yield running


def _folder(hub: RunningHub) -> Path:
    return hub.hub.imports.folder


async def test_a_file_is_imported_in_the_background_and_its_rejects_can_be_fetched(
    importing_hub: RunningHub, tmp_path: Path
) -> None:
    hub = importing_hub
    file = tmp_path / "p02.csv"
    rows, bad = write_p02_csv(file, 1_200_000, organisations(), bad_every=400)
    assert rows > 1000 and bad == rows // 400

    with file.open("rb") as body:
        status, answer, headers = await _upload(hub, body)
    assert status == 202, answer
    assert answer["state"] == "importing" and answer["file_bytes"] == file.stat().st_size
    assert headers["Location"] == answer["href"] == f"/api/v1/imports/eplan/{answer['import_id']}"

    done = await _finished(hub, answer["href"])
    assert done["state"] == "done" and done["error"] is None
    assert datetime.fromisoformat(done["created_at"]) <= datetime.fromisoformat(done["finished_at"])
    assert "T" in done["finished_at"] and done["finished_at"].endswith("+00:00")
    counts = done["counts"]
    assert counts["rows_read"] == rows and counts["rejected"] == bad
    assert counts["accepted"] == counts["changed"] == counts["entities"] == rows - bad
    assert counts["messages"] == -(-rows // 1000)  # one inbox message per chunk of 1,000 rows, kept for replay
    assert counts["total_bytes"] == counts["bytes_read"] == file.stat().st_size
    assert await asyncio.to_thread(_entity_count, hub) == rows - bad

    status, text = await _get(hub, done["rejects_href"])
    assert status == 200
    rejects = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert rejects[0] == [*HEADER, "reason"] and len(rejects) == bad + 1
    assert all("งบประมาณ 2568 = '12,34,5': money.separator" in line[-1] for line in rejects[1:])
    # The uploaded file is gone once imported; its status and rejects stay for imports.keep_days.
    assert sorted(p.suffix for p in _folder(hub).iterdir()) == [".csv", ".json"]


async def test_the_corrected_rejects_import_and_a_repeat_changes_nothing(importing_hub: RunningHub, tmp_path: Path) -> None:
    hub = importing_hub
    orgs = organisations()
    body = _csv([p02_row(i, orgs, bad=i == 3) for i in range(10)])
    status, answer, _ = await _upload(hub, body)
    done = await _finished(hub, answer["href"])
    assert (done["counts"]["accepted"], done["counts"]["rejected"]) == (9, 1)

    _, rejects = await _get(hub, done["rejects_href"])
    corrected = rejects.decode("utf-8-sig").replace("12,34,5", "12,345")
    status, answer, _ = await _upload(hub, corrected.encode())
    fixed = await _finished(hub, answer["href"])
    assert (fixed["counts"]["accepted"], fixed["counts"]["changed"], fixed["counts"]["rejected"]) == (1, 1, 0)
    assert fixed["rejects_href"] is None
    status, _ = await _get(hub, f"{answer['href']}/rejects")
    assert status == 404

    status, answer, _ = await _upload(hub, body.replace(b"12,34,5", b"12,345"))
    again = await _finished(hub, answer["href"])
    assert (again["counts"]["accepted"], again["counts"]["changed"]) == (10, 0)
    assert await asyncio.to_thread(_entity_count, hub) == 10


async def _slow_body(first: bytes, go_on: asyncio.Event, rest: bytes) -> AsyncIterator[bytes]:
    yield first
    await go_on.wait()
    yield rest


async def test_limits_refuse_early_and_keep_nothing(importing_hub: RunningHub) -> None:
    hub = importing_hub
    over = b"x" * 2_000_001
    status, answer, _ = await _upload(hub, over)
    assert status == 413 and answer["rule"] == "import.too_large"

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: refused by its running size
        for _ in range(40):
            yield b"y" * 64_000

    status, answer, _ = await _upload(hub, chunked())
    assert status == 413 and answer["rule"] == "import.too_large"
    assert list(_folder(hub).iterdir()) == []

    status, answer, _ = await _upload(hub, b"a,b\n1,2\n", content_type="application/pdf")
    assert status == 415 and answer["rule"] == "import.format"
    status, answer, _ = await _upload(hub, b"a,b\n1,2\n", content_type="text/csv; charset=ebcdic")
    assert status == 415 and answer["rule"] == "payload.charset_unsupported"
    status, answer, _ = await _upload(hub, b"a,b\n1,2\n", query="?entity_type=spaceship")
    assert status == 400 and answer["rule"] == "entity.unknown_type"

    # One import at a time (imports.max_concurrent = 1): a second upload is answered 503 at once.
    go_on = asyncio.Event()
    header = ",".join(HEADER).encode() + b"\n"
    first = asyncio.create_task(_upload(hub, _slow_body(header, go_on, b"")))
    await hub.wait_until(lambda: _has_upload(hub), "the first upload to start")
    status, answer, headers = await _upload(hub, b"a,b\n1,2\n")
    assert status == 503 and answer["rule"] == "import.busy" and headers["Retry-After"] == "30"
    go_on.set()
    status, answer, _ = await first
    assert status == 202
    failed = await _finished(hub, answer["href"])
    assert failed["state"] == "failed" and failed["error"]["rule"] == "payload.no_records"


async def test_an_upload_that_stops_sending_is_refused_and_frees_its_slot(database_url: str, tmp_path: Path) -> None:
    async with hub_with_simulators(
        database_url, var_dir=tmp_path / "var", scheduler_enabled=False, imports={"stall_s": 0.5},
    ) as hub:  # fmt: skip
        never = asyncio.Event()
        header = ",".join(HEADER).encode() + b"\n"
        status, answer, _ = await _upload(hub, _slow_body(header, never, b""))
        assert status == 408 and answer["rule"] == "import.stalled"
        assert list(_folder(hub).iterdir()) == []
        never.set()
        status, answer, _ = await _upload(hub, _csv([p02_row(0, organisations())]))
        assert status == 202  # the slot (imports.max_concurrent = 1) was given back
        assert (await _finished(hub, answer["href"]))["counts"]["accepted"] == 1


async def _has_upload(hub: RunningHub) -> bool:
    folder = _folder(hub)
    return folder.is_dir() and any(p.suffix == ".upload" for p in folder.iterdir())


async def test_an_import_is_only_the_posting_clients_and_needs_a_key(importing_hub: RunningHub) -> None:
    hub = importing_hub
    body = _csv([p02_row(0, organisations())])
    status, answer, _ = await _upload(hub, body)
    assert status == 202
    _, other_key = await asyncio.to_thread(hub.hub.store.access.add_client, "other-eplan", "eplan")
    _, elaas_key = await asyncio.to_thread(hub.hub.store.access.add_client, "an-elaas", "elaas")
    assert (await _get(hub, answer["href"], other_key))[0] == 404
    assert (await _get(hub, answer["href"], elaas_key))[0] == 403
    async with hub.http.get(f"{hub.url}{answer['href']}") as response:
        assert response.status == 401
    # An id that is not one, an escaped way out of the folder among them, is no import; never a file read.
    for bad in ("not-an-id", "..%2F..%2Fhub.db", "..%2F" + "0" * 27):
        async with hub.http.get(URL(f"{hub.url}/api/v1/imports/eplan/{bad}", encoded=True),
                                headers={"Authorization": f"Bearer {hub.eplan_key}"}) as response:  # fmt: skip
            assert response.status == 404 and (await response.json())["detail"] == "no such import of this client"
    status, _, _ = await _upload(hub, body, key="no-such-key")
    assert status == 401
    await _finished(hub, answer["href"])


async def test_a_signing_client_signs_the_whole_file(importing_hub: RunningHub) -> None:
    hub = importing_hub
    client, key = await asyncio.to_thread(hub.hub.store.access.add_client, "signer", "eplan", hmac=True)
    body = _csv([p02_row(i, organisations()) for i in range(3)])
    status, answer, _ = await _upload(hub, body, key, **sign_headers(client.hmac_secret, body + b"tampered"))
    assert status == 401 and answer["rule"] == "signature.invalid"
    assert list(_folder(hub).iterdir()) == []
    status, answer, _ = await _upload(hub, body, key)
    assert status == 401 and answer["rule"] == "signature.invalid"

    status, answer, _ = await _upload(hub, body, key, **sign_headers(client.hmac_secret, body))
    assert status == 202
    assert (await _finished(hub, answer["href"], key))["counts"]["accepted"] == 3


async def test_rows_of_organisations_outside_the_clients_scope_go_to_the_rejects(importing_hub: RunningHub) -> None:
    hub = importing_hub
    orgs = organisations()
    _, key = await asyncio.to_thread(hub.hub.store.access.add_client, "one-org", "eplan", [orgs[0]])
    # Chunks of 1,000 rows: the first holds only the client's organisation, the second one other row.
    rows = [p02_row(i * len(orgs), orgs) for i in range(1000)] + [p02_row(1, orgs)]
    status, answer, _ = await _upload(hub, _csv(rows), key)
    assert status == 202
    done = await _finished(hub, answer["href"], key)
    assert done["state"] == "done"
    assert (done["counts"]["accepted"], done["counts"]["rejected"]) == (1000, 1)
    _, rejects = await _get(hub, done["rejects_href"], key)
    refused = list(csv.reader(io.StringIO(rejects.decode("utf-8-sig"))))[1:]
    assert len(refused) == 1 and refused[0][1] == orgs[1] and "scope.org_outside" in refused[0][-1]


async def test_an_import_cut_by_a_shutdown_reads_as_interrupted(database_url: str, tmp_path: Path) -> None:
    file = tmp_path / "p02.csv"
    rows, _ = write_p02_csv(file, 1_900_000, organisations())
    async with hub_with_simulators(database_url, var_dir=tmp_path / "var", scheduler_enabled=False) as hub:
        with file.open("rb") as body:
            status, answer, _ = await _upload(hub, body)
        assert status == 202
        imports = hub.hub.imports
    # The hub has stopped (SIGTERM's path: Hub.stop) while the import was running.
    seen = await asyncio.to_thread(imports.status, answer["import_id"])
    assert seen is not None and seen.state == "interrupted", seen
    assert seen.error == {"rule": "import.interrupted", "reason": "the hub stopped during the import; post the file again"}
    assert seen.summary["rows_read"] < rows  # cut before its end, not finished in time
    assert not imports.upload_path(answer["import_id"]).exists()
