"""Plain dataclasses that go in and out of the store; no SQL and no SQLAlchemy types leak out."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

# "refused": the whole request was turned away (a producer wrote outside its scope); kept for the record.
# "storing": a large payload whose chunks are still being stored (core/store/inbox/chunks.py).
Outcome = Literal["accepted", "partial", "rejected", "failed", "refused", "storing"]
# "held": waiting for a paused route or destination to resume; never claimed while held.
DeliveryState = Literal["pending", "held", "in_flight", "delivered", "dead"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class RandomHex:
    """Random hex strings of `nbytes` bytes each, read from os.urandom for `at_once` strings at a time.

    os.urandom lets go of the GIL: the thread drawing one id per call (a message on the event loop, an
    entity per new record in the store's thread) then waits to take it back behind the other threads'
    work (0.2-0.5 ms a push in benchmarks/single_posts.py; 15 µs a new record in benchmarks/profile_run.py,
    more than writing its entity row). `list.pop` hands each string out once even to threads drawing at
    the same time; a forked child draws its own instead of handing out its parent's again."""

    def __init__(self, nbytes: int, at_once: int = 256) -> None:
        self.nbytes = nbytes
        self.at_once = at_once
        self._unused: list[str] = []
        self._pid = os.getpid()

    def take(self) -> str:
        if self._pid != os.getpid():
            self._unused = []
            self._pid = os.getpid()
        try:
            return self._unused.pop()
        except IndexError:
            block = os.urandom(self.nbytes * self.at_once).hex()
            step = 2 * self.nbytes
            self._unused.extend(block[i : i + step] for i in range(0, len(block), step))
            return self._unused.pop()


_uuid_bits = RandomHex(16)


def new_message_id() -> str:
    """A random (version 4) UUID in hex, as `uuid.uuid4().hex`."""
    return uuid.UUID(hex=_uuid_bits.take(), version=4).hex


# --- ingest --------------------------------------------------------------------------------------


@dataclass
class InboundMessage:
    """One inbound payload exactly as it arrived (pushed by a system or read by the scheduler)."""

    system: str
    payload: bytes
    media_type: str | None = None
    charset: str | None = None
    client_name: str | None = None
    received_at: datetime = field(default_factory=utcnow)
    message_id: str = field(default_factory=new_message_id)
    idempotency_key: str | None = None
    request_hash: str | None = None
    # Rows seen in the payload; when None the store counts accepted plus rejected rows.
    record_count: int | None = None

    @property
    def payload_sha256(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()


@dataclass
class IncomingEntity:
    """A canonical entity mapped from one native row, not yet given a canonical id or version."""

    row: int
    entity_type: str
    external_id: str
    org_code: str | None
    fiscal_year: int | None
    payload: dict[str, Any]
    content_hash: str
    mapping_version: str | None = None
    # Classification nodes this entity names that the hub had not seen, from the system that is the
    # authority on them (core/classification.py); stored with the message that brought them.
    classification_additions: tuple[ClassificationAddition, ...] = ()


@dataclass(frozen=True)
class ClassificationAddition:
    """A node added to a fiscal year's classification by its authority, with where it came from."""

    scheme: str
    fiscal_year: int
    level: str
    code: str
    name_th: str
    parent: str | None
    system: str
    row: int
    external_id: str
    # The native record's scalar fields, bounded: what the system actually sent for this node.
    native: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.fiscal_year}:{self.scheme}:{self.code}"


@dataclass
class RowRejection:
    """Why one native row (or the whole payload, row None) was refused, with the row kept for replay."""

    row: int | None
    rule: str
    reason: str
    field: str | None = None
    value: Any = None
    native_record: dict[str, Any] | None = None

    @classmethod
    def from_rejection(
        cls, row: int | None, rejection: Any, native_record: dict[str, Any] | None = None
    ) -> RowRejection:
        """From a `canonical_model.Rejection` (or anything with rule, reason, field, value)."""
        return cls(
            row=row,
            rule=rejection.rule,
            reason=rejection.reason,
            field=getattr(rejection, "field", None),
            value=getattr(rejection, "value", None),
            native_record=native_record,
        )


@dataclass(frozen=True)
class Destination:
    """Where a changed entity must go, as decided by the router."""

    system: str
    route_name: str | None = None
    max_attempts: int = 10
    held: bool = False  # the route or destination is paused: queue the delivery, but do not send it yet


@dataclass(frozen=True)
class CursorUpdate:
    system: str
    entity_type: str
    cursor: str | None


class EntityOutcome(NamedTuple):
    """What one accepted row became. A tuple: CPython stops tracking a tuple of plain values, so the
    50,000 outcomes of a large payload cost the garbage collector nothing while the payload is stored."""

    row: int
    entity_type: str
    entity_id: str
    version: int
    changed: bool
    external_id: str = ""
    destinations: tuple[str, ...] = ()


@dataclass
class IngestOutcome:
    message_id: str
    outcome: Outcome
    entities: list[EntityOutcome]
    rejected: list[RowRejection]

    @property
    def changed_count(self) -> int:
        return sum(1 for e in self.entities if e.changed)


# --- outbox --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedDelivery:
    outbox_id: int
    delivery_key: str
    destination: str
    route: str | None
    entity_id: str
    entity_type: str
    version: int
    attempts: int
    max_attempts: int
    received_at: datetime | None
    payload: dict[str, Any]
    xrefs: dict[str, str]
    # When this delivery first failed with a retryable error (None: it has not); the outage budget
    # (delivery.retry_window_s) runs from here.
    first_failed_at: datetime | None = None


# `attempt` is the fencing token: pass `ClaimedDelivery.attempts` back so that a worker whose lease
# expired (and whose row was claimed again by someone else) cannot retry or bury the newer claim.
# Left as None, only the row's state is checked.


@dataclass(frozen=True)
class Acknowledged:
    outbox_id: int
    external_id: str | None = None
    at: datetime | None = None
    attempt: int | None = None
    # The body of the version delivered, as claimed (ClaimedDelivery.payload): the area ledger projects a
    # plan project's first delivery from it, while it is still the current version, instead of reading it back.
    body: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Retry:
    outbox_id: int
    next_attempt_at: datetime
    error: str
    attempt: int | None = None
    # The outage budget the worker applied (delivery.retry_window_s). Given, a retry past the row's
    # max_attempts is kept while the row's first failure is younger than this; None: attempts decide.
    retry_window_s: float | None = None


@dataclass(frozen=True)
class GiveBack(Retry):
    """A claimed delivery handed back unsent (its lease would end before a write could finish): it is
    due again at `next_attempt_at` and the attempt its claim counted is not charged."""


@dataclass(frozen=True)
class Dead:
    outbox_id: int
    reason: str
    attempt: int | None = None


DeliveryResult = Acknowledged | Retry | Dead


@dataclass(frozen=True)
class CompletionSummary:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    # Results for rows that were no longer in flight (a claim expired and someone else took over).
    ignored: tuple[int, ...] = ()
    # Delivered rows whose returned external id already belongs to another entity at that system.
    xref_conflicts: tuple[int, ...] = ()


@dataclass(frozen=True)
class DeadLetter:
    id: int
    outbox_id: int
    delivery_key: str
    destination: str
    entity_id: str
    entity_type: str
    version: int
    reason: str
    attempts: int
    created_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    resolution_note: str | None


@dataclass(frozen=True)
class ResolveResult:
    """What `replay_dead_letter` / `discard_dead_letter` did; `done` False means nothing changed."""

    dead_letter_id: int
    done: bool
    message: str
    delivery_key: str | None = None


@dataclass(frozen=True)
class DestinationStats:
    destination: str
    pending: int
    in_flight: int
    delivered: int
    dead: int
    oldest_pending_received_at: datetime | None
    oldest_pending_created_at: datetime | None
    held: int = 0


# --- reads ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryView:
    destination: str
    version: int
    state: str
    attempts: int
    last_error: str | None
    delivery_key: str
    delivered_at: datetime | None


@dataclass(frozen=True)
class EntityView:
    entity_id: str
    entity_type: str
    version: int
    content_hash: str
    org_code: str | None
    fiscal_year: int | None
    created_at: datetime
    updated_at: datetime
    payload: dict[str, Any]
    xrefs: list[dict[str, str]]
    deliveries: list[DeliveryView]


@dataclass(frozen=True)
class EntityVersionView:
    entity_id: str
    version: int
    content_hash: str
    payload: dict[str, Any]
    message_id: str | None
    source_system: str
    mapping_version: str | None
    created_at: datetime


@dataclass(frozen=True)
class StoredRejection:
    row: int | None
    field: str | None
    value: str | None
    rule: str
    reason: str
    native_record: dict[str, Any] | None


@dataclass(frozen=True)
class EarlierMessage:
    """What a repeat under the same Idempotency-Key is judged by: the earlier body's checksum and the answer
    it was given (None while it is still being stored). Neither its bytes nor its rejections are read."""

    message_id: str
    payload_sha256: str
    request_hash: str | None
    response: Any


@dataclass(frozen=True)
class MessageView:
    message_id: str
    system: str
    client_name: str | None
    received_at: datetime
    media_type: str | None
    charset: str | None
    payload: bytes
    payload_sha256: str
    idempotency_key: str | None
    request_hash: str | None
    response: Any
    record_count: int
    accepted_count: int
    rejected_count: int
    outcome: str
    rejections: list[StoredRejection]
    payload_purged_at: datetime | None = None  # retention dropped the payload (core/store/retention.py)


# --- clients -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiClient:
    client_id: str
    name: str
    system: str | None
    key_prefix: str
    created_at: datetime
    disabled: bool
    allowed_orgs: list[str] | None
    allowed_provinces: list[str] | None
    hmac_secret: str | None = field(default=None, repr=False)

    @property
    def writes_every_org(self) -> bool:
        """No organisation or province list at all means every organisation (the demo's clients)."""
        return self.allowed_orgs is None and self.allowed_provinces is None

    @property
    def signed_requests(self) -> bool:
        return self.hmac_secret is not None


# --- admin ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminToken:
    token_id: str
    name: str
    role: str
    token_prefix: str
    created_at: datetime
    disabled: bool


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    before: Any
    after: Any
    detail: str | None


@dataclass(frozen=True)
class MessageSummary:
    message_id: str
    system: str
    client_name: str | None
    received_at: datetime
    media_type: str | None
    record_count: int
    accepted_count: int
    rejected_count: int
    outcome: str


@dataclass(frozen=True)
class EntitySummary:
    entity_id: str
    entity_type: str
    org_code: str | None
    fiscal_year: int | None
    version: int
    updated_at: datetime


@dataclass(frozen=True)
class CursorView:
    system: str
    entity_type: str
    cursor: str | None
    updated_at: datetime


@dataclass(frozen=True)
class ConfigOverride:
    kind: str
    name: str
    value: Any
    updated_at: datetime
    updated_by: str
