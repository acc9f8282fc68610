"""The transport declaration (`transport.yaml`): where a declared REST system keeps its records, how it
pages, what it accepts, and which mapping file turns each record into a canonical entity.

SOLA's interface is not public, so everything that would differ in the real system is data here: when
its format is known, the YAML changes and the Python does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from prasan import ConfigError

JSON = "application/json"
CSV = "text/csv"


class _Strict(BaseModel):
    # A misspelt key would otherwise silently fall back to a default and read the wrong place.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Auth(_Strict):
    header: str = Field("X-Api-Key", description="header that carries the credential")
    scheme: str | None = Field(None, description='word before the credential ("Bearer"), if any')


class Body(_Strict):
    media_type: Literal["application/json", "text/csv"] = Field(JSON, description="what the system sends or takes")
    charset: str = Field("utf-8", description="charset used when the answer's Content-Type names none (tis-620 ...)")


class Paging(_Strict):
    style: Literal["cursor", "offset", "none"] = Field("cursor", description="how the next page is asked for")
    cursor_param: str = Field("cursor", description="cursor style: query parameter carrying the cursor")
    first_cursor: str | None = Field(None, description="cursor style: value sent on the very first read (none: left out)")
    next_cursor: str | None = Field(None, description="cursor style: path of the next cursor in a JSON answer")
    next_cursor_header: str | None = Field(None, description="cursor style: header carrying the next cursor")
    more: str | None = Field(
        None, description="path of the 'more pages' flag in a JSON answer (none: a full page means more)"
    )
    offset_param: str = Field("offset", description="offset style: query parameter of the first record wanted")
    limit_param: str | None = Field("limit", description="query parameter of the page size (none: not sent)")
    page_size: int = Field(100, ge=1, le=5000, description="records asked for per page")
    max_pages: int = Field(50, ge=1, description="pages read by one pull; the next pull resumes from the cursor")

    @model_validator(mode="after")
    def _cursor_found_somewhere(self) -> Paging:
        if self.style == "cursor" and not (self.next_cursor or self.next_cursor_header):
            raise ValueError("cursor paging needs next_cursor (a JSON path) or next_cursor_header")
        return self


class ExternalId(_Strict):
    """One way to name a record: the first alternative whose fields are all filled wins."""

    fields: list[str] = Field(default_factory=list, description="native fields joined with sep")
    hash: list[str] = Field(default_factory=list, description="native fields hashed (for records without an id)")
    sep: str = ":"
    prefix: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> ExternalId:
        if bool(self.fields) == bool(self.hash):
            raise ValueError("an external_id alternative takes either fields or hash")
        return self


class Read(_Strict):
    path: str = Field(description="path of the list endpoint, from base_url")
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str] = Field(default_factory=dict, description="fixed query parameters")
    body: Body = Field(default_factory=Body)
    records: str | None = Field(None, description="path of the record list in a JSON answer (none: the answer is the list)")
    paging: Paging = Field(default_factory=Paging)
    interval_s: float = Field(300.0, gt=0, description="default time between two pulls")
    incremental: bool = Field(True, description="a saved cursor resumes where the last pull stopped")
    drop: list[str] = Field(default_factory=list, description="transport fields of a record that are not its content")


class Write(_Strict):
    path: str = Field(description="path of a new record")
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    update_path: str | None = Field(None, description="path of a record already written, with {external_id}")
    update_method: Literal["POST", "PUT", "PATCH"] = "PUT"
    body: Body = Field(default_factory=Body)
    external_id: str | None = Field(None, description="path of the system's id of the record in a write answer")


class Resource(_Strict):
    """One canonical entity type: its mapping, how its records are named, and how it is read or written."""

    mapping: str = Field(description="mapping file, relative to this transport file")
    external_id: list[ExternalId] = Field(default_factory=list, description="alternatives, first filled wins")
    read: Read | None = None
    write: Write | None = None


class Push(_Strict):
    entity_type: str = Field(description="entity type a pushed payload holds")
    media_types: list[Literal["application/json", "text/csv"]] = Field(default_factory=list)
    records: str | None = Field(None, description="path of the record list in a pushed JSON object")


class Transport(_Strict):
    version: int | str = 1
    description: str | None = None
    auth: Auth = Field(default_factory=Auth)
    idempotency_header: str = "Idempotency-Key"
    error_message: str | None = Field(None, description="path of the system's own words in an error answer")
    health: str | None = Field(None, description="path answered by a cheap GET when the system is up")
    resources: dict[str, Resource]
    push: Push | None = None
    #: the folder the file was read from: mapping files are found next to it
    folder: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _push_is_a_resource(self) -> Transport:
        if self.push is not None and self.push.entity_type not in self.resources:
            raise ValueError(f"push.entity_type {self.push.entity_type!r} has no resource")
        return self

    def resource(self, entity_type: str) -> Resource:
        if entity_type not in self.resources:
            raise ConfigError(f"the transport declares no resource {entity_type!r}")
        return self.resources[entity_type]

    def mapping_path(self, entity_type: str) -> Path:
        return self.folder / self.resource(entity_type).mapping


def load_transport(path: Path) -> Transport:
    """The declaration in `path`; a file that cannot be read or is wrongly declared is a ConfigError,
    naming each problem, since nothing can be read or written until an operator fixes it."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"transport file {path.name} cannot be read: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"transport file {path.name} must hold a mapping of keys")
    try:
        return Transport.model_validate({**raw, "folder": path.parent})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"transport file {path.name} is wrongly declared: {problems}") from None
