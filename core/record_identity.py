"""When two systems' records are the same real-world record, and whose figures win on it.

The same project is kept in e-Plan and in SOLA, each under its own id. Without identity rules the hub would
hold two entities for it and deliver both. `config/identity.yaml` declares, per entity type:

- **match keys**: fields whose values, all present and equal, make a record from another system the same
  record (for a plan project: its organisation and project code, or its organisation and exact title).
  A record no system's id knows yet is joined to the one entity that has one of its keys; two candidates
  join nothing, since a guess would merge two projects' money.
- **authority**: the fields each system is authoritative for. On an entity that more than one system
  feeds, a value offered for a field owned by another of its sources is not taken: the owner's value is
  kept and the offer recorded as a conflict (field, value, who offered it, the value kept and whose it is).
  A field no system owns takes the latest value, except that an empty value never erases what another
  system gave (SOLA keeps no plan revision; its updates must not wipe e-Plan's).

An entity fed by one system behaves as it always did: the rules change nothing until a second joins.
This module does no I/O; core/store/identity.py runs it against the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from canonical_model import ENTITY_TYPES
from core.errors import ConfigError
from canonical_model.thai_text import TITLE_MAX
from core.linking import Subject, key_text, values_of


class MatchKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,30}$", description="short name, shown as the evidence of a join")
    fields: list[str] = Field(min_length=1, max_length=4, description="canonical fields, all present and equal")


class TypeIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match_keys: list[MatchKey] = Field(default_factory=list, max_length=8)
    authority: dict[str, list[str]] = Field(
        default_factory=dict, description="system name -> the top-level fields it is authoritative for"
    )

    @model_validator(mode="after")
    def _one_owner_per_field(self) -> TypeIdentity:
        owners: dict[str, str] = {}
        for system, fields in self.authority.items():
            for name in fields:
                if name in owners:
                    raise ValueError(f"field {name!r} is owned by both {owners[name]!r} and {system!r}")
                owners[name] = system
        return self

    @property
    def owners(self) -> dict[str, str]:
        return {name: system for system, fields in self.authority.items() for name in fields}


@dataclass(frozen=True)
class Conflict:
    """A value offered by `system` for a field `kept_by` is authoritative for; `kept` stayed."""

    field: str
    system: str
    offered: Any
    kept_by: str
    kept: Any


KEY_TEXT_MAX = 200

# Fields that place a record rather than describe it: never merged, an entity keeps its owner and type.
_ENVELOPE = frozenset({"entity_type", "org_code"})


def _stored(text: str) -> str:
    # A title is a key too, and titles run past what an indexed column should hold; their digest matches
    # exactly when they do.
    if len(text) <= KEY_TEXT_MAX:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class IdentityRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity_types: dict[str, TypeIdentity] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_fields(self) -> IdentityRules:
        for entity_type, rules in self.entity_types.items():
            model = ENTITY_TYPES.get(entity_type)
            if model is None:
                raise ValueError(f"unknown entity type {entity_type!r}")
            fields = set(model.model_fields)
            named = [f.split(".")[0] for key in rules.match_keys for f in key.fields] + list(rules.owners)
            for name in named:
                if name not in fields:
                    raise ValueError(f"{entity_type}: {name!r} is not a field of {entity_type}")
            for name in rules.owners:
                if name in _ENVELOPE:
                    raise ValueError(f"{entity_type}: {name!r} places the record and cannot be owned")
        return self

    @classmethod
    def from_file(cls, path: Path) -> IdentityRules:
        if not path.is_file():
            return cls()
        try:
            return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except (ValidationError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path.name}: {exc}") from exc

    def check_systems(self, systems: Mapping[str, Any]) -> None:
        """Authority named for a system the hub does not run is a typo that would silently own nothing."""
        for entity_type, rules in self.entity_types.items():
            for system in rules.authority:
                if system not in systems:
                    raise ConfigError(f"identity: {entity_type} names unknown system {system!r} as an authority")

    def applies_to(self, entity_type: str) -> bool:
        return entity_type in self.entity_types

    def keys(self, entity_type: str, payload: Mapping[str, Any]) -> dict[str, str]:
        """Stored key name -> key text for every match key whose fields are all present."""
        rules = self.entity_types.get(entity_type)
        if rules is None:
            return {}
        subject = Subject("", entity_type, payload)
        out = {}
        for key in rules.match_keys:
            values = values_of(subject, tuple(key.fields), TITLE_MAX)
            if values is not None:
                out[f"{entity_type}.{key.name}"] = _stored(key_text(values))
        return out

    def merge(
        self, entity_type: str, system: str, current: Mapping[str, Any], offered: Mapping[str, Any], other_sources: set[str]
    ) -> tuple[dict[str, Any], list[Conflict]]:
        """The body to store when `system` sends `offered` for an entity whose current body is `current`
        and which `other_sources` also feed; and the offers that lost to another system's authority."""
        rules = self.entity_types.get(entity_type)
        if rules is None or not other_sources:
            return dict(offered), []
        owners = rules.owners
        merged = dict(offered)
        conflicts = []
        for name, owner in owners.items():
            if owner == system or owner not in other_sources or name not in current:
                continue
            kept = current[name]
            merged[name] = kept
            value = offered.get(name)
            if not _empty(value) and value != kept:
                conflicts.append(Conflict(name, system, value, owner, kept))
        for name, value in current.items():
            if name not in owners and name not in _ENVELOPE and _empty(merged.get(name)) and not _empty(value):
                merged[name] = value
        return merged, conflicts
