"""The values that cross the plugin contract, in both directions.

Plugins receive and return these plain types so that a third-party plugin needs nothing of the hub but
`prasan` (which re-exports them) and the canonical model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from canonical_model.envelope import ENVELOPE_ONLY_FIELDS
from canonical_model.rejection import Rejection


class Capability(str, enum.Enum):
    PUSH = "push"  # accepts payloads POSTed to /api/v1/inbound/{system}
    READ = "read"  # can be polled
    INCREMENTAL = "incremental"  # polling resumes from a saved cursor
    WRITE = "write"  # can be a destination
    BATCH_WRITE = "batch_write"  # one call writes many records


class SystemDescription(BaseModel):
    """What a system says about itself (`AgencySystem.describe()`): shown by `prasan plugins` and the admin API."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    title: str
    owner_agency: str
    version: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    capabilities: frozenset[Capability] = frozenset()
    settings_model: type[BaseModel] | None = None


@dataclass(frozen=True)
class NativeRecord:
    """One record in the system's own shape; `row` is its 1-based position in the payload."""

    row: int
    data: dict[str, Any]
    problems: tuple[Rejection, ...] = ()


@dataclass(frozen=True)
class MappedRecord:
    """A native record turned into one canonical entity (not yet stored): its JSON body, or the
    entity model itself when the plugin has already validated it (saves validating twice)."""

    entity_type: str
    external_id: str
    payload: dict[str, Any] | Any
    mapping_version: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body without envelope fields or empty values, whichever form `payload` took."""
        if isinstance(self.payload, dict):
            return self.payload
        return self.payload.model_dump(mode="json", exclude_none=True, exclude=set(ENVELOPE_ONLY_FIELDS))


@dataclass(frozen=True)
class ReadBatch:
    records: list[NativeRecord]
    next_cursor: str | None
    more: bool = False


@dataclass(frozen=True)
class WriteItem:
    """One delivery: the native record to write, with the key that makes a repeat harmless."""

    delivery_key: str
    entity_id: str
    entity_type: str
    version: int
    native: dict[str, Any]
    external_id: str | None = None  # the destination's own id when the entity was delivered before


@dataclass(frozen=True)
class Delivered:
    external_id: str | None = None


@dataclass(frozen=True)
class Retryable:
    reason: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Rejected:
    reason: str


WriteResult = Delivered | Retryable | Rejected


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
