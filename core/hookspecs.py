"""The plugin contract: every government system is a pluggy plugin answering these hooks.

Hooks that every plugin answers (`prasan_systems`) only describe; they do no I/O. The hooks that belong
to one system (parse, read, map-in, map-out, write, healthcheck) are called for that system's plugin
alone, through `core.plugin_manager.SystemPlugin`, so no implementation has to ask "is this call mine?".
Any hook may be a coroutine function, and `read` may also be an async generator; the facade awaits them.

Change hooks by adding arguments only: pluggy lets an implementation take fewer arguments than its
specification, so older plugins keep working.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any

import aiohttp
import pluggy
from pydantic import BaseModel

from core.plugin_types import (
    Health,
    MappedRecord,
    NativeRecord,
    ReadBatch,
    SystemDescription,
    WriteItem,
    WriteResult,
)

hookspec = pluggy.HookspecMarker("prasan")
hookimpl = pluggy.HookimplMarker("prasan")

# --- description (every plugin) ---------------------------------------------------------------


@hookspec
def prasan_systems() -> list[SystemDescription]:
    """Describe the systems this plugin provides.

    Called once when the plugin manager is built. A system name claimed by two plugins is an error.

    Returns:
        One `SystemDescription` per system: name, title, owner agency, entity types read and
        written, formats, capabilities and the pydantic model of its settings.
    """


# --- push path ----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def prasan_parse(
    system: str, payload: bytes, media_type: str, charset: str | None
) -> list[NativeRecord] | Awaitable[list[NativeRecord]]:
    """Turn a payload POSTed to `/api/v1/inbound/{system}` into native records.

    Args:
        system: the system's name.
        payload: the raw request body, exactly as received.
        media_type: the request's media type (`text/csv`, `application/json`, ...).
        charset: the `charset` parameter of the request's Content-Type, if any.

    Returns:
        The records in payload order. A row that cannot be read carries its `problems`; a payload
        that cannot be read at all raises `core.payloads.PayloadError` (answered with 400).
    """


# --- pull path ----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def prasan_read(
    system: str,
    entity_type: str,
    cursor: str | None,
    settings: BaseModel | None,
    http: aiohttp.ClientSession,
) -> ReadBatch | Awaitable[ReadBatch] | AsyncIterator[ReadBatch]:
    """Read records changed since `cursor` (polling).

    Called by the scheduler on the system's schedule. The cursor is saved only after the records of a
    batch are committed, so a crash re-reads at most one batch.

    Args:
        system: the system's name.
        entity_type: the canonical entity type being pulled.
        cursor: where the previous pull stopped (None: from the beginning).
        settings: the system's validated settings, or None.
        http: the hub's shared client session.

    Returns:
        A `ReadBatch` (records and the next cursor), or an async iterator of them.
    """


# --- field mapping ------------------------------------------------------------------------------


@hookspec(firstresult=True)
def prasan_map_in(
    system: str, record: NativeRecord, reference: Any
) -> list[MappedRecord] | Awaitable[list[MappedRecord]]:
    """Map one native record to canonical entity bodies.

    Args:
        record: the native record.
        reference: `core.reference_data.ReferenceData` (code lists, crosswalks, organisations).

    Returns:
        The entities the record contributes. Raise `core.mapping.MappingError` to reject the record;
        its problems name the native field, the value and the rule.
    """


@hookspec(firstresult=True)
def prasan_map_out(
    system: str, entity_type: str, entity: dict[str, Any], reference: Any
) -> dict[str, Any] | Awaitable[dict[str, Any]]:
    """Map a canonical entity (its JSON body) to the system's native record for writing.

    Called by a delivery worker for each claimed outbox row, before `prasan_write`.

    Args:
        system: the destination system's name.
        entity_type: the canonical entity type of `entity`.
        entity: the entity's JSON body at the version being delivered.
        reference: `core.reference_data.ReferenceData` (code lists, crosswalks, organisations).

    Returns:
        The native record. Raise `core.mapping.MappingError` when the entity cannot be expressed in
        the system's terms (the delivery is then dead-lettered with the reason).
    """


# --- write path ---------------------------------------------------------------------------------


@hookspec(firstresult=True)
def prasan_write(
    system: str, batch: list[WriteItem], settings: BaseModel | None, http: aiohttp.ClientSession
) -> list[WriteResult] | Awaitable[list[WriteResult]]:
    """Write a batch of native records to the system.

    Each item carries its delivery key, which the plugin passes to the system as an idempotency key
    so that a repeated delivery has no second effect.

    Args:
        system: the destination system's name.
        batch: the deliveries, each with its native record (from `prasan_map_out`) and delivery key.
        settings: the system's validated settings, or None.
        http: the hub's shared client session.

    Returns:
        One result per item, in order: `Delivered(external_id)`, `Retryable(reason, retry_after)` or
        `Rejected(reason)`. Raising a `core.errors.TransientError` retries the whole batch,
        a `ConfigError` or `PermanentError` rejects it.
    """


@hookspec(firstresult=True)
def prasan_healthcheck(
    system: str, settings: BaseModel | None, http: aiohttp.ClientSession
) -> Health | Awaitable[Health]:
    """Report whether the system can be reached with the configured settings.

    Called by the hub for `/readyz` and the plugin-health metric, at most every few seconds per system.
    Must be cheap (one light request) and must not raise for an unreachable system.

    Args:
        system: the system's name.
        settings: the system's validated settings (its `settings_model`), or None.
        http: the hub's shared client session.

    Returns:
        `Health(ok, detail)`; `ok` False with the reason in `detail` when the system cannot be used.
    """
