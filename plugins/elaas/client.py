"""Writing budget expense documents to e-LAAS and reading its answers as delivery results.

Status table (the hub's, see core.errors): 2xx delivered; 429 and 5xx retry later, honouring Retry-After;
401/403 is a configuration error for the whole batch; any other 4xx is a rejection of that item, with
e-LAAS's own message; a connection failure or timeout is retryable.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any
from urllib.parse import quote

import aiohttp

from core.errors import ConfigError, TransientError, classify_http_status, scrub_secrets
from core.plugin_types import Delivered, Health, Rejected, Retryable, WriteItem, WriteResult
from plugins.elaas.settings import ElaasSettings

SYSTEM = "elaas"


def _headers(settings: ElaasSettings, key: str | None = None) -> dict[str, str]:
    headers = {"X-Api-Key": settings.api_key.get_secret_value(), "Accept": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; the hub's own backoff is good enough


def _message(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return scrub_secrets(text[:500])
    if isinstance(body, dict) and body.get("Message"):
        return scrub_secrets(str(body["Message"]))
    return scrub_secrets(text[:500])


def _record_id(text: str) -> str | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    d = body.get("d") if isinstance(body, dict) else None
    return str(d["RecordID"]) if isinstance(d, dict) and d.get("RecordID") else None


def result_for(status: int, text: str, retry_after: str | None) -> WriteResult:
    """One HTTP answer as a delivery result; 401/403 raise, since no other item can succeed either."""
    kind = classify_http_status(status)
    if kind is None:
        record_id = _record_id(text)
        if record_id is None:
            return Retryable(f"e-LAAS answered {status} without a RecordID")
        return Delivered(external_id=record_id)
    if kind is ConfigError:
        raise ConfigError(f"e-LAAS refused the credentials ({status}): {_message(text)}", system=SYSTEM)
    if kind is TransientError:
        return Retryable(f"e-LAAS answered {status}: {_message(text)}", retry_after=_retry_after(retry_after))
    return Rejected(f"e-LAAS refused the record ({status}): {_message(text)}")


async def _send(item: WriteItem, settings: ElaasSettings, http: aiohttp.ClientSession) -> tuple[int | None, WriteResult]:
    """One write and its HTTP status (None when e-LAAS could not be reached)."""
    # A record e-LAAS already holds is replaced in place, so a new version never doubles the budget.
    url = f"{settings.base_url.rstrip('/')}/api/BudgetExpense"
    method = http.put if item.external_id else http.post
    if item.external_id:
        url = f"{url}/{quote(item.external_id, safe='')}"
    try:
        async with method(
            url,
            json=item.native,
            headers=_headers(settings, item.delivery_key),
            timeout=aiohttp.ClientTimeout(total=settings.timeout_s),
        ) as response:
            text = await response.text()
            return response.status, result_for(response.status, text, response.headers.get("Retry-After"))
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return None, Retryable(f"e-LAAS could not be reached: {type(exc).__name__}: {scrub_secrets(str(exc))}")


async def write_one(item: WriteItem, settings: ElaasSettings, http: aiohttp.ClientSession) -> WriteResult:
    status, result = await _send(item, settings, http)
    if status == 404 and item.external_id:
        # The record is gone from e-LAAS (deleted by hand, or a restored database): create it anew,
        # under a derived key, since e-LAAS remembers the 404 under the delivery key.
        fresh = dataclasses.replace(item, external_id=None, delivery_key=f"{item.delivery_key}:recreate")
        _, result = await _send(fresh, settings, http)
    return result


async def write_batch(items: list[WriteItem], settings: ElaasSettings, http: aiohttp.ClientSession) -> list[WriteResult]:
    """All items in one call to the batch endpoint; each item still carries its own idempotency key."""
    body = {"Items": [{"IdempotencyKey": item.delivery_key, "Document": item.native} for item in items]}
    try:
        async with http.post(
            f"{settings.base_url.rstrip('/')}/api/BudgetExpense/Batch",
            json=body,
            headers=_headers(settings),
            timeout=aiohttp.ClientTimeout(total=settings.timeout_s),
        ) as response:
            text = await response.text()
            if response.status >= 300:
                whole = result_for(response.status, text, response.headers.get("Retry-After"))
                if isinstance(whole, Rejected):
                    # A refusal of the whole batch may be caused by one record; write them one by one
                    # so that it cannot take the good ones down with it (the idempotency keys make the
                    # second try harmless).
                    return [await write_one(item, settings, http) for item in items]
                return [whole for _ in items]
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        reason = f"e-LAAS could not be reached: {type(exc).__name__}: {scrub_secrets(str(exc))}"
        return [Retryable(reason) for _ in items]
    results = json.loads(text).get("d", {}).get("Results", [])
    if len(results) != len(items):
        return [Retryable(f"e-LAAS answered {len(results)} results for {len(items)} items") for _ in items]
    return [_item_result(result) for result in results]


def _item_result(result: dict[str, Any]) -> WriteResult:
    status = int(result.get("Status", 500))
    payload = {"d": {"RecordID": result["RecordID"]}} if result.get("RecordID") else {"Message": result.get("Message")}
    return result_for(status, json.dumps(payload, ensure_ascii=False), None)


# Updates go one request each (the batch endpoint only creates); a few at a time keeps a batch of
# updates within the hub's write timeout without flooding e-LAAS.
UPDATE_CONCURRENCY = 8


async def write(items: list[WriteItem], settings: ElaasSettings, http: aiohttp.ClientSession) -> list[WriteResult]:
    """New records go in one batch call, first; updates of records e-LAAS already holds follow, a few
    at a time."""
    results: dict[int, WriteResult] = {}
    new = [(i, item) for i, item in enumerate(items) if not item.external_id]
    if len(new) == 1:
        results[new[0][0]] = await write_one(new[0][1], settings, http)
    elif new:
        for (i, _), result in zip(new, await write_batch([item for _, item in new], settings, http), strict=True):
            results[i] = result
    gate = asyncio.Semaphore(UPDATE_CONCURRENCY)

    async def update(i: int, item: WriteItem) -> None:
        async with gate:
            results[i] = await write_one(item, settings, http)

    await asyncio.gather(*(update(i, item) for i, item in enumerate(items) if item.external_id))
    return [results[i] for i in range(len(items))]


async def healthcheck(settings: ElaasSettings, http: aiohttp.ClientSession) -> Health:
    """The แผนงาน dropdown is the cheapest real page that proves the service and its master data are up."""
    url = f"{settings.base_url.rstrip('/')}/DropDownService.asmx/GetExpExpensePlan"
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=settings.timeout_s)) as response:
            text = await response.text()
            if response.status != 200:
                return Health(ok=False, detail=f"GetExpExpensePlan answered {response.status}")
            count = text.count("<DropdownData>")
            return Health(ok=count > 0, detail=f"{count} แผนงาน in the master data", extra={"plans": count})
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return Health(ok=False, detail=f"cannot reach e-LAAS: {type(exc).__name__}")
