"""The envelope every canonical entity carries, and the content hash that decides what a new version is."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from canonical_model.thai_text import CANONICAL_ID_MAX, EXTERNAL_ID_MAX, identifier_text

# Fields the hub assigns or derives; they are not content, so they never change the hash.
ENVELOPE_ONLY_FIELDS = frozenset({"id", "version", "content_hash", "sources"})

# An id the hub assigned, cited exactly as given: hidden characters are refused, nothing is normalised.
CanonicalId = identifier_text(CANONICAL_ID_MAX, "a canonical id", normalise=False)
# A system's own id for an entity, and the system's name: exact, like canonical ids.
ExternalId = identifier_text(EXTERNAL_ID_MAX, "an external id", normalise=False)
SystemName = identifier_text(40, "a system name", normalise=False)


class SourceRef(BaseModel):
    """One system's own id for this entity (the cross-reference, "xref")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: SystemName
    external_id: ExternalId


class CanonicalModel(BaseModel):
    """Base of every value object in the model: strict about unknown fields, so typos are rejections."""

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="strings")


class Entity(CanonicalModel):
    """The envelope. `id`, `version` and `content_hash` are assigned by the hub, so they are optional
    on the way in; `org_code` is the owning organisation (DLA code or a central agency code).
    Each subclass declares `entity_type` as a Literal with its own name as the default."""

    id: CanonicalId | None = None
    version: int | None = Field(default=None, ge=1)
    content_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    org_code: str = Field(pattern=r"^[0-9]{5}([0-9]{2})?$", description="DLA 7-digit or agency 5-digit code")
    sources: list[SourceRef] = Field(default_factory=list)

    def content(self) -> dict[str, Any]:
        """The JSON body without the envelope-only fields."""
        return self.model_dump(mode="json", exclude=set(ENVELOPE_ONLY_FIELDS))

    def compute_content_hash(self) -> str:
        return content_hash(self.content())


def field_or_none(entity: Any, name: str) -> Any:
    """`getattr(entity, name, None)` without its cost when the attribute is not there: a pydantic model
    answers a missing attribute by raising AttributeError from its own __getattr__ (3 µs; ingest asked
    for `fiscal_year` and `classification` of every plan project, which has neither)."""
    if isinstance(entity, BaseModel) and not entity.__pydantic_extra__ and not _has_attribute(type(entity), name):
        return None
    return getattr(entity, name, None)


@functools.cache
def _has_attribute(model: type[BaseModel], name: str) -> bool:
    # A field without a default is no class attribute: pydantic keeps it in model_fields.
    return name in model.model_fields or hasattr(model, name)


def content_hash(body: dict[str, Any]) -> str:
    """SHA-256 over canonical JSON (sorted keys, no whitespace): equal content gives an equal hash
    whatever order a source system sent its fields in."""
    content = {k: v for k, v in body.items() if k not in ENVELOPE_ONLY_FIELDS}
    try:
        canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # what orjson cannot write (a key not a string, an integer past 64 bits)
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()


def body_text(body: Any) -> str:
    """A body as compact JSON text with Thai written as it is: what `json.dumps(body, ensure_ascii=False,
    separators=(",", ":"), default=str)` writes, by orjson, several times faster.

    The two write every string, integer, list and object alike (escapes included); floats they write
    differently (orjson `1e-5`, json `1e-05`), but a canonical body holds none: money is a Decimal written
    as text and no entity type has a number field (tests/unit/test_entities.py). The hashes of bodies
    stored before stay what they were."""
    try:
        return orjson.dumps(body, default=str, option=_AS_JSON_WRITES_THEM).decode("utf-8")
    except TypeError:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


# Dates and dataclasses go to `default` (str), as json.dumps sends them, instead of orjson's own forms.
_AS_JSON_WRITES_THEM = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
