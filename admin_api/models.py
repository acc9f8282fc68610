"""Request and response bodies of the admin API; the OpenAPI document is generated from these."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from admin_api.types import Code, Id32, Limit, Name, Offset, Reason, Text, UtcTime
from core.router import Route
from core.store.identity import ConflictView
from core.store.links import LinkView, UnlinkedView
from core.store.records import (
    AdminToken,
    ApiClient,
    AuditEntry,
    CursorView,
    DeadLetter,
    DeliveryView,
    EntitySummary,
    EntityVersionView,
    EntityView,
    MessageSummary,
    ResolveResult,
    StoredRejection,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """An answer, read from the store's records by attribute: `Model.model_validate(record)`."""

    model_config = ConfigDict(from_attributes=True)


def record_answer(
    record: type,
    name: str,
    *,
    leave_out: tuple[str, ...] = (),
    rename: dict[str, str] | None = None,
    **fields: Any,
) -> type[Out]:
    """The answer that carries a store record: the record's fields in its order and with its types, so the
    record stays their one definition. Each is required, as the answer always holds it (a record's default
    is for building records). `fields` adds a field as `(type, default or Field)`, or gives one of the
    record's a description or a default (`Field(...)`, the record's type kept) or another type (a pair);
    `rename` shows a record's field under another name (read from the record's)."""
    hints = get_type_hints(record)
    rename = rename or {}
    declared: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        if f.name in leave_out:
            continue
        shown = rename.get(f.name, f.name)
        given = fields.pop(shown, ...)
        kind, spec = given if isinstance(given, tuple) else (hints[f.name], given)
        declared[shown] = (kind, Field(validation_alias=f.name) if shown != f.name else spec)
    return create_model(name, __base__=Out, __module__=__name__, **declared, **fields)


class Beside:
    """A record seen with attributes added or replaced: what an answer holds that the record does not
    (or holds in another form), so the answer is still validated from the record, not copied by hand."""

    def __init__(self, record: Any, **more: Any) -> None:
        self._record = record
        self._more = more

    def __getattr__(self, name: str) -> Any:
        # Through __dict__: asking for self._more here would recurse where __init__ has not run (copy).
        more = self.__dict__["_more"]
        return more[name] if name in more else getattr(self.__dict__["_record"], name)


# --- errors ----------------------------------------------------------------------------------------


class Problem(BaseModel):
    """RFC 9457 problem details; extra members (rule, message_id, errors, retry_after) may follow."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str


# --- plugins ---------------------------------------------------------------------------------------


class PluginHealthOut(Out):
    ok: bool | None = Field(description="None while the first check has not finished")
    detail: str
    checked_at: float | None = Field(description="Unix time of the last check")


class PluginOut(Out):
    name: str
    title: str
    owner_agency: str
    description: str
    version: str
    capabilities: list[str]
    reads: list[str]
    writes: list[str]
    formats: list[str]
    health: PluginHealthOut


# --- routes ----------------------------------------------------------------------------------------


class RouteOut(Route):
    origin: Literal["config", "override"] = Field(description="routes.yaml, or changed at run time")


class RouteName(Strict):
    name: Name


class RouteDestination(Strict):
    name: Name
    destination: Code


class SystemUrlIn(Strict):
    base_url: Text


class SystemUrlOut(Out):
    system: str
    base_url: str


class SystemPath(Strict):
    system: Code


# --- messages --------------------------------------------------------------------------------------


Outcome = Literal["accepted", "partial", "rejected", "failed", "refused"]


class MessageQuery(Strict):
    system: Code | None = None
    org_code: Code | None = Field(None, description="messages that produced a version of this organisation's entities")
    client: Name | None = None
    since: UtcTime | None = Field(None, description="received at or after")
    until: UtcTime | None = Field(None, description="received before")
    outcome: Outcome | None = None
    limit: Limit = 100
    offset: Offset = 0


MessageSummaryOut = record_answer(MessageSummary, "MessageSummaryOut")


RejectionOut = record_answer(StoredRejection, "RejectionOut")


class BecameOut(Out):
    entity_id: str
    version: int
    entity_type: str
    org_code: str | None
    mapping_version: str | None


class MessageOut(MessageSummaryOut):
    charset: str | None
    payload_sha256: str
    payload_text: str | None = Field(description="the raw payload as text, when it decodes")
    payload_base64: str | None = Field(description="the raw payload, base64, when it is binary (XLSX)")
    payload_purged_at: datetime | None = Field(
        None, description="when retention dropped the raw payload (payload_text and payload_base64 are then empty)"
    )
    idempotency_key: str | None
    response: Any = Field(None, description="the answer given to the producer")
    rejections: list[RejectionOut]
    became: list[BecameOut] = Field(description="the entity versions this message created")


class MessagePath(Strict):
    message_id: Code


# --- entities --------------------------------------------------------------------------------------


class EntityQuery(Strict):
    entity_type: Code | None = None
    org_code: Code | None = None
    fiscal_year: int | None = Field(None, ge=2400, le=2700)
    system: Code | None = Field(None, description="with external_id: whose own id it is")
    external_id: Text | None = Field(None, description="any system's own id of the entity")
    limit: Limit = 100
    offset: Offset = 0


EntitySummaryOut = record_answer(EntitySummary, "EntitySummaryOut", rename={"entity_id": "id"})


class XrefOut(Out):
    system: str
    external_id: str


DeliveryOut = record_answer(DeliveryView, "DeliveryOut")


VersionOut = record_answer(EntityVersionView, "VersionOut", leave_out=("entity_id", "payload"))


ConflictOut = record_answer(
    ConflictView,
    "ConflictOut",
    system=Field(description="the system whose value was not taken"),
    kept_by=Field(description="the system authoritative for the field"),
)


EntityOut = record_answer(
    EntityView,
    "EntityOut",
    rename={"entity_id": "id", "payload": "entity"},
    xrefs=(list[XrefOut], ...),
    deliveries=(list[DeliveryOut], ...),
    versions=(list[VersionOut], ...),
    conflicts=(
        list[ConflictOut],
        Field(
            description="values a system offered for a field another system of this record is authoritative for "
            "(config/identity.yaml): not taken, kept here, newest first"
        ),
    ),
)


class EntityPath(Strict):
    entity_id: Code


class TraceQuery(Strict):
    field: Text | None = Field(None, description="dotted path of the figure, e.g. budget.amount or items.0.amount")


class TraceDeliveryOut(Out):
    destination: str
    route: str | None
    state: str
    attempts: int
    delivery_key: str
    delivered_at: datetime | None
    last_error: str | None


class TraceStepOut(Out):
    version: int
    value: Any = Field(None, description="the figure in this version (the whole entity without `field`)")
    message_id: str | None
    source_system: str
    client_name: str | None
    received_at: datetime | None
    mapping_version: str | None
    created_at: datetime
    deliveries: list[TraceDeliveryOut]


class TraceOut(Out):
    entity_id: str
    entity_type: str
    field: str | None
    steps: list[TraceStepOut]


# --- dead letters ----------------------------------------------------------------------------------


class DeadLetterFilter(Strict):
    destination: Code | None = None
    entity_type: Code | None = None
    entity_id: Code | None = None
    since: UtcTime | None = None
    until: UtcTime | None = None
    reason_contains: Text | None = None


class DeadLetterQuery(DeadLetterFilter):
    include_resolved: bool = False
    limit: Limit = 100
    offset: Offset = 0


DeadLetterOut = record_answer(DeadLetter, "DeadLetterOut")


class DeadLetterPath(Strict):
    dead_letter_id: Id32


class ReplayIn(Strict):
    note: Text | None = None
    force: bool = Field(False, description="replay even when a newer version already reached the destination")


class DiscardIn(Strict):
    reason: Reason = Field(description="why it is discarded; kept with the dead letter and in the audit log")


class BulkReplayIn(DeadLetterFilter):
    note: Text | None = None
    limit: int | None = Field(None, ge=1, description="replay at most this many; default: every match")


ResolveOut = record_answer(ResolveResult, "ResolveOut")


BULK_RESULTS_SHOWN = 1000


class BulkReplayOut(Out):
    matched: int
    replayed: int
    skipped: int = Field(description="matched but left alone (a newer version already sent, or queued)")
    results: list[ResolveOut] = Field(description=f"the first {BULK_RESULTS_SHOWN} results; the counts cover all")



# --- cursors and pulls -----------------------------------------------------------------------------


class CursorPath(Strict):
    system: Code
    entity_type: Code


CursorOut = record_answer(CursorView, "CursorOut", updated_at=(datetime | None, ...))  # None: never saved


class CursorIn(Strict):
    cursor: Text | None = Field(description="where the next pull starts; null starts from the beginning (backfill)")


class PullOut(Out):
    system: str
    entity_type: str
    records: int


# --- audit -----------------------------------------------------------------------------------------


class AuditQuery(Strict):
    actor: Name | None = None
    action: Code | None = None
    since: UtcTime | None = None
    limit: Limit = 100
    offset: Offset = 0


AuditOut = record_answer(AuditEntry, "AuditOut", before=None, after=None)


# --- tokens and clients ----------------------------------------------------------------------------

Role = Literal["analyst", "viewer", "operator", "admin"]


class TokenIn(Strict):
    name: Name
    role: Role


TokenOut = record_answer(AdminToken, "TokenOut", leave_out=("token_id",))


class TokenCreated(TokenOut):
    token: str = Field(description="shown once; only its hash is kept")


class TokenPath(Strict):
    name: Name


class ClientIn(Strict):
    name: Name
    system: Code
    allowed_orgs: list[Code] | None = Field(None, max_length=10000, description="organisation codes it may write")
    allowed_provinces: list[Code] | None = Field(None, max_length=100, description="DOPA provinces it may write")
    all_orgs: bool = Field(False, description="may write for every organisation (no lists given)")
    hmac: bool = Field(False, description="require signed requests; the secret is returned once")


class ClientPatch(Strict):
    allowed_orgs: list[Code] | None = Field(None, max_length=10000)
    allowed_provinces: list[Code] | None = Field(None, max_length=100)
    all_orgs: bool | None = Field(
        None,
        description="true: may write for every organisation (clears both lists); required for any change that "
        "leaves the client with neither list",
    )
    disabled: bool | None = None


ClientOut = record_answer(
    ApiClient,
    "ClientOut",
    leave_out=("client_id", "hmac_secret"),
    all_orgs=(bool, Field(validation_alias="writes_every_org")),
    signed_requests=(bool, ...),
)


class ClientCreated(ClientOut):
    key: str = Field(description="shown once; only its hash is kept")
    hmac_secret: str | None = Field(description="shown once; sign requests with it")


class ClientPath(Strict):
    name: Name


# --- classification additions ----------------------------------------------------------------------


class ClassificationAdditionQuery(Strict):
    fiscal_year: int | None = Field(None, ge=2400, le=2700, description="additions to this BE fiscal year only")
    reviewed: bool | None = Field(None, description="true: reviewed ones only; false: those awaiting review")
    limit: Limit = 100
    offset: Offset = 0


class ClassificationAdditionPath(Strict):
    addition_id: Name = Field(description="<fiscal year>:<scheme>:<code>, as listed")


class ClassificationReviewIn(Strict):
    note: Text | None = Field(None, description="what the reviewer found; kept with the addition and in the audit log")


class ClassificationSourceOut(Out):
    system: str = Field(description="the authority that named the node")
    message_id: str | None = Field(description="the inbound message whose line named it first")
    row: int | None
    external_id: str | None = Field(description="that line's id in the system")
    native: dict[str, Any] = Field(description="the line's scalar fields as the system sent them")


class ClassificationAdditionOut(Out):
    id: str
    scheme: str
    fiscal_year: int
    level: str
    code: str
    name_th: str
    parent: str | None
    source: ClassificationSourceOut
    added_at: datetime
    reviewed: bool
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None


# --- links (core/linking.py) -----------------------------------------------------------------------


class UnlinkedQuery(Strict):
    system: Code | None = Field(None, description="the system the record's current version came from")
    entity_type: Code | None = None
    org_code: Code | None = None
    limit: Limit = 100
    offset: Offset = 0


UnlinkedOut = record_answer(
    UnlinkedView,
    "UnlinkedOut",
    reason=Field(description="link.no_reference, link.no_match, link.ambiguous or link.removed_by_operator"),
    detail=Field(description="each rule tried, the values it looked for, and the candidates when ambiguous"),
)


class LinkIn(Strict):
    from_: Code = Field(alias="from", description="the record that belongs to another (a procurement)")
    to: Code = Field(description="the record it belongs to (its plan project)")
    note: Text | None = Field(None, description="why; kept with the link and in the audit log")


class LinkPath(Strict):
    from_id: Code
    to_id: Code


LinkOut = record_answer(
    LinkView,
    "LinkOut",
    rule=Field(description="the link rule that made it, or `operator`"),
    evidence=Field(description="the field values the rule matched"),
    made_by=Field(description="`rule:<name>` or `operator:<actor>`"),
)


class ChainAmountOut(Out):
    name: str = Field(description="the canonical field: amount, budget_amount, agreed_price, budget_by_year, ...")
    fiscal_year: int | None = None
    amount: str = Field(description="baht as a decimal string, never a float")


class ChainMemberOut(Out):
    id: str = Field(validation_alias="entity_id")
    entity_type: str
    version: int
    org_code: str | None
    fiscal_year: int | None
    label: str | None = Field(description="title, description, contract or document number")
    amounts: list[ChainAmountOut]
    xrefs: list[XrefOut] = Field(description="the record's id in each system")
    deliveries: list[DeliveryOut]
    links: list[LinkOut] = Field(description="its links to records nearer the root of the chain")


class ChainOut(Out):
    """A record (a plan project) and everything linked to it, directly or through another record, grouped
    by entity type; each member names the records it is linked to."""

    root: ChainMemberOut
    budget_lines: list[ChainMemberOut]
    budget_requests: list[ChainMemberOut]
    procurements: list[ChainMemberOut]
    contracts: list[ChainMemberOut]
    disbursements: list[ChainMemberOut]
    progress_reports: list[ChainMemberOut]
    other: list[ChainMemberOut] = Field(description="linked records of any other type")
    truncated: bool = Field(description="the chain was cut at its size limit")
