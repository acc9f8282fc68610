"""Polling e-Plan for projects changed since a cursor (its `updated_seq`)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from core.errors import ConfigError, PermanentError, TransientError, classify_http_status, scrub_secrets
from core.payloads import PayloadError, loads_strict_json
from core.plugin_types import Health, NativeRecord, ReadBatch
from plugins.eplan.settings import EplanSettings

SYSTEM = "eplan"
# Transport metadata of the poll, not part of the ผ.02 row; the cursor lives in ReadBatch instead.
_TRANSPORT_KEYS = ("updated_seq",)


def _headers(settings: EplanSettings) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if settings.api_key is not None:
        headers["X-Api-Key"] = settings.api_key.get_secret_value()
    return headers


async def read(cursor: str | None, settings: EplanSettings, http: aiohttp.ClientSession) -> ReadBatch:
    since = cursor or "0"
    url = f"{settings.base_url.rstrip('/')}/api/v1/projects"
    try:
        async with http.get(
            url,
            params={"since": since, "limit": str(settings.page_size)},
            headers=_headers(settings),
            timeout=aiohttp.ClientTimeout(total=settings.timeout_s),
        ) as response:
            if response.status >= 400:
                text = scrub_secrets((await response.text())[:300])
                kind = classify_http_status(response.status) or PermanentError
                retry_after = response.headers.get("Retry-After")
                if kind is TransientError:
                    raise TransientError(
                        f"e-Plan answered {response.status}: {text}",
                        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
                        system=SYSTEM,
                    )
                raise kind(f"e-Plan answered {response.status}: {text}", system=SYSTEM)
            # Strict JSON, numbers with a fraction as Decimal: a polled amount must never pass through a float.
            try:
                body: dict[str, Any] = loads_strict_json(await response.text())
            except PayloadError as exc:
                raise PermanentError(f"e-Plan answered unreadable JSON: {exc.reason}", system=SYSTEM) from None
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise TransientError(f"e-Plan could not be reached: {type(exc).__name__}", system=SYSTEM) from exc
    records = []
    for offset, item in enumerate(body.get("records") or [], start=1):
        data = {k: v for k, v in item.items() if k not in _TRANSPORT_KEYS}
        records.append(NativeRecord(row=offset, data=data))
    return ReadBatch(records=records, next_cursor=str(body.get("next_since") or since), more=bool(body.get("more")))


async def healthcheck(settings: EplanSettings, http: aiohttp.ClientSession) -> Health:
    url = f"{settings.base_url.rstrip('/')}/api/v1/projects"
    try:
        async with http.get(
            url, params={"since": "0", "limit": "1"}, headers=_headers(settings),
            timeout=aiohttp.ClientTimeout(total=settings.timeout_s),
        ) as response:
            if response.status in (401, 403):
                raise ConfigError(f"e-Plan refused the credentials ({response.status})", system=SYSTEM)
            return Health(ok=response.status == 200, detail=f"GET /api/v1/projects answered {response.status}")
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return Health(ok=False, detail=f"cannot reach e-Plan: {type(exc).__name__}")
