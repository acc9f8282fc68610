"""Producer security over real HTTP: organisation scope, signed requests, body limits, strict JSON,
idempotency under these rules, rate limits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.reference_data import load_reference_data
from core.signing import NONCE_HEADER, TIMESTAMP_HEADER, sign_headers
from tests.e2e.conftest import RunningHub
from tests.e2e.test_hub_end_to_end import chiang_mai_orgs, p02_rows, to_csv

pytestmark = pytest.mark.e2e
CSV = "text/csv; charset=utf-8"


async def _post(hub: RunningHub, body: Any, key: str, **headers: str) -> tuple[int, dict, dict]:
    all_headers = {"Content-Type": CSV, "Authorization": f"Bearer {key}", **headers}
    async with hub.http.post(f"{hub.url}/api/v1/inbound/eplan", data=body, headers=all_headers) as response:
        return response.status, await response.json(content_type=None), dict(response.headers)


async def _counts(hub: RunningHub) -> tuple[int, int]:
    entities = await asyncio.to_thread(hub.hub.store.entities.search_entities, limit=1000)
    stats = await asyncio.to_thread(hub.hub.store.outbox.outbox_stats)
    return len(entities), sum(s.pending + s.in_flight + s.delivered + s.held for s in stats)


async def test_a_record_outside_the_clients_organisations_fails_the_whole_request(running_hub: RunningHub) -> None:
    hub = running_hub
    rows = p02_rows(3)
    mine = [rows[0][1], rows[1][1]]
    _, key = await asyncio.to_thread(hub.hub.store.access.add_client, "scoped", "eplan", allowed_orgs=mine)
    status, answer, headers = await _post(hub, to_csv(rows), key)
    assert status == 403 and headers["Content-Type"].startswith("application/problem+json")
    outsider = chiang_mai_orgs(3)[2]
    assert answer["rule"] == "scope.org_outside" and answer["org_codes"] == [outsider]
    assert await _counts(hub) == (0, 0)  # nothing of the request is stored as accepted
    message = await asyncio.to_thread(hub.hub.store.inbox.get_message, answer["message_id"])
    assert message.outcome == "refused" and message.accepted_count == 0
    assert [r.rule for r in message.rejections] == ["scope.org_outside"] and message.rejections[0].row == 3
    [audit] = await asyncio.to_thread(hub.hub.store.access.audit_entries, action="ingest.refused")
    assert audit.actor == "client:scoped" and outsider in audit.detail

    status, answer, _ = await _post(hub, to_csv(rows[:2]), key)  # only its own organisations: accepted
    assert status == 202 and answer["accepted"] == 2


async def test_province_scope_admits_its_organisations_and_unknown_codes_stay_row_rejections(running_hub: RunningHub) -> None:
    hub = running_hub
    rows = p02_rows(2)  # Chiang Mai (50)
    _, key = await asyncio.to_thread(hub.hub.store.access.add_client, "cm", "eplan", allowed_provinces=["50"])
    unknown = list(rows[1])
    unknown[1] = _unregistered_code(rows[1][1])  # no such organisation: a rejected row, not a refusal
    status, answer, _ = await _post(hub, to_csv([rows[0], unknown]), key)
    assert status == 202 and answer["accepted"] == 1
    assert [r["rule"] for r in answer["rejected"]] == ["org.unknown"]

    elsewhere = sorted(c for c, o in load_reference_data().organizations.items() if o["province_code"] == "57")[0]  # Chiang Rai
    other = list(rows[1])
    other[1] = elsewhere
    status, answer, _ = await _post(hub, to_csv([other]), key)
    assert status == 403 and answer["org_codes"] == [elsewhere]


def _unregistered_code(near: str) -> str:
    from canonical_model import normalize_code, validate_code
    from canonical_model.rejection import Rejection

    known = load_reference_data().organizations
    base = normalize_code(near)
    for n in range(1, 100):
        candidate = f"{base[:-2]}{n:02d}"
        try:
            if validate_code("dla-lao", candidate) == candidate and candidate not in known:
                return candidate
        except Rejection:
            continue
    raise AssertionError("no unregistered code found")


async def test_idempotency_key_under_scope_and_signatures(running_hub: RunningHub) -> None:
    hub = running_hub
    rows = p02_rows(2)
    _, key = await asyncio.to_thread(hub.hub.store.access.add_client, "one-org", "eplan", allowed_orgs=[rows[0][1]])
    # A refusal is never replayed as an acceptance: the same key and body are judged again.
    for _ in range(2):
        status, _, _ = await _post(hub, to_csv(rows), key, **{"Idempotency-Key": "k-1"})
        assert status == 403
    status, first, _ = await _post(hub, to_csv(rows[:1]), key, **{"Idempotency-Key": "k-1"})
    assert status == 202
    status, again, headers = await _post(hub, to_csv(rows[:1]), key, **{"Idempotency-Key": "k-1"})
    assert status == 202 and again == first and headers.get("Idempotent-Replayed") == "true"
    status, conflict, _ = await _post(hub, to_csv(rows[:1]) + b"\n", key, **{"Idempotency-Key": "k-1"})
    assert status == 409 and conflict["message_id"] == first["message_id"]

    client, signed_key = await asyncio.to_thread(hub.hub.store.access.add_client, "signer-idem", "eplan", hmac=True)
    body = to_csv(rows[1:])
    headers_first = sign_headers(client.hmac_secret, body)
    status, first, _ = await _post(hub, body, signed_key, **{"Idempotency-Key": "k-2"}, **headers_first)
    assert status == 202
    # A repeat must be signed anew (a new nonce, in the same second too), and then replays the first answer.
    later = sign_headers(client.hmac_secret, body, int(headers_first["X-Prasan-Timestamp"]))
    status, again, headers = await _post(hub, body, signed_key, **{"Idempotency-Key": "k-2"}, **later)
    assert status == 202 and again == first and headers.get("Idempotent-Replayed") == "true"


async def test_signed_requests_refuse_replayed_tampered_stale_and_unsigned(running_hub: RunningHub) -> None:
    hub = running_hub
    client, key = await asyncio.to_thread(hub.hub.store.access.add_client, "signer", "eplan", hmac=True)
    secret = client.hmac_secret
    body = to_csv(p02_rows(1))
    headers = sign_headers(secret, body)
    status, answer, _ = await _post(hub, body, key, **headers)
    assert status == 202 and answer["accepted"] == 1

    status, answer, _ = await _post(hub, body, key, **headers)  # the same signed request again
    assert status == 401 and answer["rule"] == "signature.reused"
    # The same nonce under a new timestamp, correctly signed, is a reuse too.
    again = sign_headers(secret, body, int(headers["X-Prasan-Timestamp"]) - 1, nonce=headers["X-Prasan-Nonce"])
    status, answer, _ = await _post(hub, body, key, **again)
    assert status == 401 and answer["rule"] == "signature.reused"

    fresh = sign_headers(secret, body, int(time.time()) - 1)
    status, answer, _ = await _post(hub, body.replace(b"300", b"900"), key, **fresh)  # tampered body
    assert status == 401 and answer["rule"] == "signature.invalid"

    stale = sign_headers(secret, body, int(time.time()) - 301)
    status, answer, _ = await _post(hub, body, key, **stale)
    assert status == 401 and "300 seconds" in answer["detail"]
    future = sign_headers(secret, body, int(time.time()) + 400)
    assert (await _post(hub, body, key, **future))[0] == 401

    status, answer, _ = await _post(hub, body, key)  # unsigned
    assert status == 401 and answer["rule"] == "signature.invalid"
    unsigned_nonce = {k: v for k, v in sign_headers(secret, body).items() if k != "X-Prasan-Nonce"}
    assert (await _post(hub, body, key, **unsigned_nonce))[0] == 401
    for nonce in ("short", "n" * 129, "has.a.dot.in.it.here", "tab\tin-the-nonce-here"):
        status, answer, _ = await _post(hub, body, key, **sign_headers(secret, body, nonce=nonce))
        assert status == 401 and answer["rule"] == "signature.invalid", nonce
    # The nonce is signed: swapping in another one breaks the signature.
    swapped = {**sign_headers(secret, body), "X-Prasan-Nonce": "another-nonce-of-enough-length"}
    assert (await _post(hub, body, key, **swapped))[0] == 401
    wrong = sign_headers("prshmac_someone-else", body)
    assert (await _post(hub, body, key, **wrong))[0] == 401
    entities, _ = await _counts(hub)
    assert entities == 1  # only the first, properly signed request was stored
    assert secret not in json.dumps(answer)


async def test_two_signed_requests_with_the_same_body_in_the_same_second_are_both_accepted(
    running_hub: RunningHub,
) -> None:
    hub = running_hub
    client, key = await asyncio.to_thread(hub.hub.store.access.add_client, "twice", "eplan", hmac=True)
    other, other_key = await asyncio.to_thread(hub.hub.store.access.add_client, "elsewhere", "eplan", hmac=True)
    body = to_csv(p02_rows(1))
    second = int(time.time())
    first, again = sign_headers(client.hmac_secret, body, second), sign_headers(client.hmac_secret, body, second)
    assert first[TIMESTAMP_HEADER] == again[TIMESTAMP_HEADER] and first[NONCE_HEADER] != again[NONCE_HEADER]
    assert (await _post(hub, body, key, **first))[0] == 202
    assert (await _post(hub, body, key, **again))[0] == 202
    # A nonce is the client's own: another client may use the same one.
    same_nonce = sign_headers(other.hmac_secret, body, second, nonce=first[NONCE_HEADER])
    assert (await _post(hub, body, other_key, **same_nonce))[0] == 202
    status, answer, _ = await _post(hub, body, key, **first)
    assert status == 401 and answer["rule"] == "signature.reused"


@pytest.mark.hub_settings(security={"max_ingest_body_bytes": 4096, "max_admin_body_bytes": 2048})
async def test_oversized_bodies_get_413_and_malformed_json_400(running_hub: RunningHub) -> None:
    hub = running_hub
    status, answer, headers = await _post(hub, b"x" * 5000, hub.eplan_key)
    assert status == 413 and headers["Content-Type"].startswith("application/problem+json")
    assert "Traceback" not in json.dumps(answer)

    auth = {"Authorization": f"Bearer {hub.admin_token}", "Content-Type": "application/json"}
    url = f"{hub.url}/api/v1/dead-letters/replay"
    async with hub.http.post(url, data=b'{"note": "' + b"n" * 3000 + b'"}', headers=auth) as response:
        assert response.status == 413
    bad_bodies = {
        "json.non_finite": b'{"limit": NaN}',
        "json.duplicate_key": b'{"limit": 1, "limit": 2}',
        "json.lone_surrogate": b'{"note": "\\ud800"}',
        "json.too_deep": b'{"note": ' + b"[" * 40 + b"]" * 40 + b"}",
        "json.syntax": b'{"note": ',
    }
    for rule, body in bad_bodies.items():
        async with hub.http.post(url, data=body, headers=auth) as response:
            answer = await response.json(content_type=None)
            assert response.status == 400 and response.content_type == "application/problem+json", rule
            assert answer["rule"] == rule
    async with hub.http.post(url, data=b'{"limit": "many"}', headers=auth) as response:
        answer = await response.json(content_type=None)
        assert response.status == 400 and answer["errors"][0]["loc"] == ["body", "limit"]

    status, answer, _ = await _post(hub, b'[{"a": NaN}]', hub.eplan_key, **{"Content-Type": "application/json"})
    assert status == 400 and answer["rule"] == "json.non_finite"


# The least rate so low that the header row's bytes earn more than a stall limit: the stall answers, whenever
# they arrive.
@pytest.mark.hub_settings(security={"body_stall_s": 0.5, "body_min_bytes_per_s": 1})
async def test_a_body_that_stops_arriving_gets_408_and_the_next_push_is_taken(running_hub: RunningHub) -> None:
    hub = running_hub
    never = asyncio.Event()

    async def trickle() -> AsyncIterator[bytes]:  # the header row, then nothing
        yield b"header\n"
        await never.wait()

    async with asyncio.timeout(30):  # without the limit the hub would wait for ever: fail, do not hang
        status, answer, headers = await _post(hub, trickle(), hub.eplan_key)
    assert status == 408 and headers["Content-Type"].startswith("application/problem+json")
    assert "0.5 s" in answer["detail"]
    auth = {"Authorization": f"Bearer {hub.admin_token}", "Content-Type": "application/json"}
    replay = f"{hub.url}/api/v1/dead-letters/replay"
    async with asyncio.timeout(30), hub.http.post(replay, data=trickle(), headers=auth) as response:
        assert response.status == 408  # an admin request's body too
    never.set()
    status, _, _ = await _post(hub, to_csv(p02_rows(1)), hub.eplan_key)
    assert status == 202


@pytest.mark.hub_settings(security={"body_stall_s": 1.0, "body_min_bytes_per_s": 20})
async def test_a_body_trickled_just_inside_the_stall_limit_gets_408_once_it_falls_behind(running_hub: RunningHub) -> None:
    hub = running_hub
    sent = 0

    async def trickle() -> AsyncIterator[bytes]:  # a byte every 0.2 s: never a stall (1 s), 5 bytes a second
        nonlocal sent
        yield b"h"
        sent += 1
        while True:
            await asyncio.sleep(0.2)
            yield b"x"
            sent += 1

    started = time.monotonic()
    async with asyncio.timeout(30):  # without the least rate it would trickle for ever: fail, do not hang
        status, answer, _ = await _post(hub, trickle(), hub.eplan_key)
    took_s = time.monotonic() - started
    assert status == 408 and "slower than 20 bytes/s" in answer["detail"], answer
    # A second of grace, then each byte buys 1/20 s: a byte every 0.2 s falls behind within its 7th or 8th.
    print(f"trickle refused after {took_s:.2f} s and {sent} bytes")
    assert sent < 20
    status, _, _ = await _post(hub, to_csv(p02_rows(1)), hub.eplan_key)  # the next push, at a real pace, is taken
    assert status == 202


@pytest.mark.hub_settings(security={"body_stall_s": 1.0, "body_min_bytes_per_s": 1000})
async def test_a_fast_start_does_not_pay_for_a_trickle_after_it(running_hub: RunningHub) -> None:
    hub = running_hub
    head = to_csv(p02_rows(40))  # about 20 KB at once: 20 s of credit at 1,000 bytes/s, were it not capped

    trickled = 0

    async def fast_then_trickle() -> AsyncIterator[bytes]:
        nonlocal trickled
        yield head
        while True:
            await asyncio.sleep(0.2)  # never a stall (1 s), 5 bytes a second
            yield b"x"
            trickled += 1

    async with asyncio.timeout(30):
        status, answer, _ = await _post(hub, fast_then_trickle(), hub.eplan_key)
    assert len(head) > 15_000 and status == 408 and "slower than 1000 bytes/s" in answer["detail"], answer
    # The credit is at most one stall limit ahead: cut within the trickle's first second (about 5 bytes),
    # not after the 100-odd bytes of the 20 s the fast part would have earned.
    print(f"fast start ({len(head):,} bytes) then a trickle: refused after {trickled} trickled bytes")
    assert trickled < 10
    status, _, _ = await _post(hub, to_csv(p02_rows(1)), hub.eplan_key)  # a body at a real pace is taken
    assert status == 202


@pytest.mark.hub_settings(security={"rate_limit_per_s": 0.5, "rate_limit_burst": 3})
async def test_rate_limits_answer_429_with_retry_after_per_client(running_hub: RunningHub) -> None:
    hub = running_hub
    statuses = []
    for _ in range(4):
        status, answer, headers = await _post(hub, b"", hub.eplan_key)
        statuses.append(status)
    assert statuses[:3] == [400, 400, 400] and statuses[3] == 429
    assert int(headers["Retry-After"]) >= 1 and answer["status"] == 429
    _, other = await asyncio.to_thread(hub.hub.store.access.add_client, "other", "eplan")
    assert (await _post(hub, b"", other))[0] == 400  # another client has its own bucket

    auth = {"Authorization": f"Bearer {hub.admin_token}"}
    codes = []
    for _ in range(4):
        async with hub.http.get(f"{hub.url}/api/v1/routes", headers=auth) as response:
            codes.append(response.status)
            retry = response.headers.get("Retry-After")
    assert codes == [200, 200, 200, 429] and retry is not None
