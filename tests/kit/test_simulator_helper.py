"""The simulator helper of prasan.testing: credential check, the standard log, idempotent apply, faults."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from prasan.testing import SimulatorState, serve, simulator_app
from tests.kit.agencies import PROJECTS, SIM_KEY, create_app

PROJECT = {"org": "5400103", "id": "P-9", "name": "ถนน"}
AUTH = {"X-Api-Key": SIM_KEY}


@pytest.fixture
async def sim() -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    runner, url = await serve(create_app())
    async with aiohttp.ClientSession() as http:
        yield url, http
    await runner.cleanup()


async def call(http: aiohttp.ClientSession, method: str, url: str, **kwargs: object) -> tuple[int, dict, dict]:
    async with http.request(method, url, **kwargs) as response:
        return response.status, dict(response.headers), await response.json()


async def log_of(http: aiohttp.ClientSession, url: str) -> list[dict]:
    return (await call(http, "GET", f"{url}/_sim/log"))[2]["entries"]


def test_serve_binds_a_free_port_on_the_loopback() -> None:
    import asyncio

    async def run() -> str:
        runner, url = await serve(web.Application())
        await runner.cleanup()
        return url

    url = asyncio.run(run())
    assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0


async def test_a_wrong_key_is_answered_401_and_logged(sim) -> None:
    url, http = sim
    status, _, _ = await call(http, "POST", f"{url}{PROJECTS}", json=PROJECT, headers={"X-Api-Key": "wrong", "Idempotency-Key": "k1"})
    assert status == 401
    [entry] = await log_of(http, url)
    assert (entry["idempotency_key"], entry["status"], entry["replayed"], entry["method"], entry["path"]) == (
        "k1", 401, False, "POST", PROJECTS
    )
    assert (await call(http, "GET", f"{url}/_sim/records"))[2] == {"records": []}


async def test_a_repeated_key_is_applied_once_and_logged_as_replayed(sim) -> None:
    url, http = sim
    answers = [
        await call(http, "POST", f"{url}{PROJECTS}", json=PROJECT, headers={**AUTH, "Idempotency-Key": "k1"}) for _ in range(2)
    ]
    assert answers[0][2] == answers[1][2] and answers[0][0] == 201
    log = await log_of(http, url)
    assert [(e["seq"], e["idempotency_key"], e["status"], e["replayed"]) for e in log] == [
        (1, "k1", 201, False),
        (2, "k1", 201, True),
    ]
    [record] = (await call(http, "GET", f"{url}/_sim/records"))[2]["records"]
    assert record == {"record_id": answers[0][2]["id"], "record": PROJECT, "idempotency_key": "k1"}


async def test_faults_are_answered_with_retry_after_then_cleared(sim) -> None:
    url, http = sim
    status, _, pending = await call(http, "POST", f"{url}/_sim/faults", json={"status": 429, "times": 2, "retry_after": 7})
    assert status == 200 and pending["pending"][0]["times"] == 2
    status, headers, _ = await call(http, "POST", f"{url}{PROJECTS}", json=PROJECT, headers={**AUTH, "Idempotency-Key": "k1"})
    assert status == 429 and headers["Retry-After"] == "7"
    assert (await call(http, "DELETE", f"{url}/_sim/faults"))[2] == {"pending": []}
    status, _, _ = await call(http, "POST", f"{url}{PROJECTS}", json=PROJECT, headers={**AUTH, "Idempotency-Key": "k1"})
    assert status == 201
    assert [(e["status"], e["replayed"]) for e in await log_of(http, url)] == [(429, False), (201, False)]


async def test_a_delayed_fault_holds_the_answer(sim) -> None:
    url, http = sim
    await call(http, "POST", f"{url}/_sim/faults", json={"status": 503, "delay_s": 0.3})
    started = time.monotonic()
    status, _, _ = await call(http, "GET", f"{url}{PROJECTS}", headers=AUTH)
    assert status == 503 and time.monotonic() - started >= 0.3


def test_apply_is_idempotent_per_key_and_replaces_by_id() -> None:
    state = SimulatorState(api_key=None)
    record_id, first = state.apply("k1", {"v": 1})
    assert first and state.apply("k1", {"v": 2}) == (record_id, False)
    assert state.records[record_id].record == {"v": 1}
    assert state.apply("k2", {"v": 3}, record_id=record_id) == (record_id, True)
    assert state.records[record_id].record == {"v": 3} and len(state.records) == 1
    assert state.apply(None, {"v": 4})[1] and state.apply(None, {"v": 4})[1]  # no key: every write applies
    assert len(state.records) == 3


async def test_no_api_key_means_no_credential_check() -> None:
    runner, url = await serve(simulator_app(SimulatorState(api_key=None)))
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{url}/_sim/health") as response:
            assert response.status == 200
        async with aiohttp.ClientSession() as http, http.get(f"{url}/missing") as response:
            assert response.status == 404  # past the credential check, to the router
    finally:
        await runner.cleanup()
