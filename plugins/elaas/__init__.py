"""e-LAAS (DLA local accounting, laas.go.th): the destination of budget lines in the local classification.

Writes budget expense documents whose classification is given as e-LAAS master-data GUIDs
(codelists/guids.yaml), with the delivery key as Idempotency-Key.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from core.errors import ConfigError
from core.hookspecs import hookimpl
from core.plugin_types import Capability, Health, SystemDescription, WriteItem, WriteResult
from plugins.elaas import client, mapper
from plugins.elaas.settings import ElaasSettings

SYSTEM = "elaas"


@hookimpl
def prasan_systems() -> list[SystemDescription]:
    return [
        SystemDescription(
            name=SYSTEM,
            title="e-LAAS: ระบบบัญชีคอมพิวเตอร์ขององค์กรปกครองส่วนท้องถิ่น",
            owner_agency="กรมส่งเสริมการปกครองท้องถิ่น (DLA)",
            version="1",
            writes=("plan_project", "budget_line"),
            formats=("application/json",),
            capabilities=frozenset({Capability.WRITE, Capability.BATCH_WRITE}),
            settings_model=ElaasSettings,
        )
    ]


@hookimpl
def prasan_map_out(entity_type: str, entity: dict[str, Any], reference: Any) -> dict[str, Any]:
    return mapper.map_out(entity_type, entity, reference)


def _settings(settings: Any) -> ElaasSettings:
    if not isinstance(settings, ElaasSettings):
        raise ConfigError("e-LAAS needs settings (base_url, api_key)", system=SYSTEM)
    return settings


@hookimpl
async def prasan_write(
    batch: list[WriteItem], settings: ElaasSettings | None, http: aiohttp.ClientSession
) -> list[WriteResult]:
    return await client.write(batch, _settings(settings), http)


@hookimpl
async def prasan_healthcheck(settings: ElaasSettings | None, http: aiohttp.ClientSession) -> Health:
    return await client.healthcheck(_settings(settings), http)
