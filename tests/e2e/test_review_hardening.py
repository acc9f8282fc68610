"""HTTP hardening found in review: header bytes that are not ASCII, 405's Allow, authentication before
anything about the system, over-long Content-Type parts, client scope changes, and a per-address limit."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from core.signing import sign_headers
from tests.e2e.conftest import RunningHub

BODY = json.dumps({"projects": []}).encode()


async def raw_request(url: str, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send exactly these header bytes (aiohttp's client would refuse or re-encode \\xff)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    lines = [f"{method} {path} HTTP/1.1".encode(), f"Host: {parts.netloc}".encode(), b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"Content-Length: " + str(len(body)).encode())
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    answer = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), answer, rest


async def test_header_bytes_that_are_not_ascii_get_401_or_400_never_500(running_hub: RunningHub) -> None:
    hub = running_hub
    url, key = hub.url, hub.eplan_key.encode()
    json_type = (b"Content-Type", b"application/json")

    status, _, _ = await raw_request(url, "GET", "/api/v1/routes", [(b"Authorization", b"Bearer \xff\xfe")])
    assert status == 401
    status, _, _ = await raw_request(
        url, "POST", "/api/v1/inbound/eplan", [(b"Authorization", b"Bearer \xff\xfe"), json_type], BODY
    )
    assert status == 401
    status, _, body = await raw_request(
        url, "POST", "/api/v1/inbound/eplan", [(b"Authorization", b"Bearer " + key), json_type, (b"Idempotency-Key", b"\xff")], BODY
    )
    assert status == 400, body
    status, _, body = await raw_request(
        url, "POST", "/api/v1/inbound/eplan",
        [(b"Authorization", b"Bearer " + key), (b"Content-Type", b"application/json; charset=\xff")], BODY,
    )
    assert status == 400, body

    # A client that signs: a signature or nonce header with a byte that is not ASCII is refused as unsigned.
    _, signed_key = await asyncio.to_thread(hub.hub.store.access.add_client, "signer", "eplan", hmac=True, actor="test")
    signed = sign_headers("x", BODY)
    timestamp, nonce = signed["X-Prasan-Timestamp"].encode(), signed["X-Prasan-Nonce"].encode()
    for bad_nonce, signature in ((nonce, b"sha256=\xff"), (nonce, b"sha256=\xc3\xa9"), (nonce + b"\xc3\xa9", b"sha256=00")):
        status, _, body = await raw_request(
            url, "POST", "/api/v1/inbound/eplan",
            [(b"Authorization", b"Bearer " + signed_key.encode()), json_type, (b"X-Prasan-Timestamp", timestamp),
             (b"X-Prasan-Nonce", bad_nonce), (b"X-Prasan-Signature", signature)], BODY,
        )
        assert status == 401, body
        assert json.loads(body)["rule"] == "signature.invalid"


async def test_a_405_keeps_its_allow_header(running_hub: RunningHub) -> None:
    async with running_hub.http.delete(f"{running_hub.url}/healthz") as response:
        assert response.status == 405
        assert response.content_type == "application/problem+json"
        assert "GET" in response.headers["Allow"]


async def test_inbound_authenticates_before_naming_systems(running_hub: RunningHub) -> None:
    hub = running_hub
    async with hub.http.post(f"{hub.url}/api/v1/inbound/no-such-system", data=BODY) as response:
        assert response.status == 401
    headers = {"Authorization": "Bearer prs_not-a-key", "Content-Type": "application/json"}
    async with hub.http.post(f"{hub.url}/api/v1/inbound/no-such-system", data=BODY, headers=headers) as response:
        assert response.status == 401
    headers["Authorization"] = f"Bearer {hub.eplan_key}"
    async with hub.http.post(f"{hub.url}/api/v1/inbound/no-such-system", data=BODY, headers=headers) as response:
        assert response.status == 403  # the key's own system is the only one it learns about


async def test_over_long_media_type_or_charset_is_refused_before_the_store(running_hub: RunningHub) -> None:
    hub = running_hub
    before = await asyncio.to_thread(hub.hub.store.inbox.list_messages)
    for content_type in ("application/" + "x" * 300, "application/json; charset=" + "u" * 100):
        headers = {"Authorization": f"Bearer {hub.eplan_key}", "Content-Type": content_type}
        async with hub.http.post(f"{hub.url}/api/v1/inbound/eplan", data=BODY, headers=headers) as response:
            assert response.status == 400, await response.text()
            assert response.content_type == "application/problem+json"
    assert await asyncio.to_thread(hub.hub.store.inbox.list_messages) == before


async def _patch(hub: RunningHub, name: str, body: dict[str, Any]) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {hub.admin_token}"}
    async with hub.http.patch(f"{hub.url}/api/v1/clients/{name}", json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def test_ending_a_clients_restrictions_needs_all_orgs_true(running_hub: RunningHub) -> None:
    hub = running_hub
    await asyncio.to_thread(hub.hub.store.access.add_client, "scoped", "eplan", ["0001"], None, actor="test")

    status, body = await _patch(hub, "scoped", {"allowed_orgs": None})
    assert status == 400, body
    client = await asyncio.to_thread(hub.hub.store.access.get_client, "scoped")
    assert client.allowed_orgs == ["0001"] and not client.writes_every_org

    status, body = await _patch(hub, "scoped", {"allowed_orgs": ["0002"], "all_orgs": True})
    assert status == 400, body
    status, body = await _patch(hub, "scoped", {"allowed_orgs": None, "allowed_provinces": ["10"]})
    assert status == 200 and body["allowed_provinces"] == ["10"] and not body["all_orgs"]
    status, body = await _patch(hub, "scoped", {"all_orgs": True})
    assert status == 200 and body["all_orgs"] and body["allowed_orgs"] is None and body["allowed_provinces"] is None
    status, body = await _patch(hub, "scoped", {"disabled": True})  # unrestricted already: no scope change
    assert status == 200 and body["disabled"]


@pytest.mark.hub_settings(security={"address_rate_limit_per_s": 0.5, "address_rate_limit_burst": 3})
async def test_unauthenticated_requests_are_limited_per_address(running_hub: RunningHub) -> None:
    hub = running_hub
    statuses = []
    for _ in range(4):
        async with hub.http.get(f"{hub.url}/api/v1/routes", headers={"Authorization": "Bearer guess"}) as response:
            statuses.append(response.status)
            retry_after = response.headers.get("Retry-After")
    assert statuses == [401, 401, 401, 429]
    assert retry_after is not None and int(retry_after) >= 1
    async with hub.http.get(f"{hub.url}/healthz") as response:
        assert response.status == 200  # only /api/v1/ is limited
