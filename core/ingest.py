"""The ingest pipeline: native payload -> native records -> canonical entities -> one store transaction.

Used by the push endpoint and by scheduled pulls alike. Nothing here raises for a bad record: every
record ends accepted or rejected with its field, value and rule, and the raw payload is always kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError

from canonical_model import ENTITY_TYPES
from canonical_model.envelope import content_hash
from canonical_model.rejection import Rejection, rejections_from_validation_error
from core.payloads import PayloadError
from core.contract import AgencySystem, await_me_maybe
from core.plugin_types import MappedRecord, NativeRecord
from core.scope import ProducerScope, ScopeViolation
from core.store import IdempotencyConflict
from core.store.records import CursorUpdate, InboundMessage, IncomingEntity, IngestOutcome, RowRejection

log = structlog.get_logger("prasan.ingest")


@dataclass
class IngestReport:
    """What the hub answers a producer."""

    outcome: IngestOutcome
    records: int

    def as_response(self) -> dict[str, Any]:
        return {
            "message_id": self.outcome.message_id,
            "accepted": len(self.outcome.entities),
            "entities": [
                {"row": e.row, "entity_type": e.entity_type, "id": e.entity_id, "version": e.version, "changed": e.changed}
                for e in self.outcome.entities
            ],
            "rejected": [_row_answer(r) for r in self.outcome.rejected if r.rule != PLUGIN_FAULT],
            # The hub's own failures, not the producer's mistakes: kept, and replayable once fixed.
            "faults": [_row_answer(r) for r in self.outcome.rejected if r.rule == PLUGIN_FAULT],
        }


def _row_answer(rejection: RowRejection) -> dict[str, Any]:
    return {
        "row": rejection.row,
        "field": rejection.field,
        "value": _text(rejection.value),
        "rule": rejection.rule,
        "reason": rejection.reason,
    }


def _response_of(records: int) -> Callable[[IngestOutcome], dict[str, Any]]:
    return lambda outcome: IngestReport(outcome, records).as_response()


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int)) else str(value)


# A record the plugin's own code failed on: a server-side fault, answered apart from rejections.
PLUGIN_FAULT = "plugin.fault"


def _mapping_rejections(exc: Exception) -> list[Rejection]:
    as_rejections = getattr(exc, "as_rejections", None)
    if callable(as_rejections):
        return list(as_rejections())
    if isinstance(exc, Rejection):
        return [exc]
    if isinstance(exc, ValidationError):
        return rejections_from_validation_error(exc)
    return [
        Rejection(
            PLUGIN_FAULT,
            f"the hub failed on this record ({type(exc).__name__} in the plugin); it is kept and can be "
            "replayed once the plugin is fixed",
        )
    ]


def _is_fault(exc: Exception) -> bool:
    return not (callable(getattr(exc, "as_rejections", None)) or isinstance(exc, (Rejection, ValidationError)))


def require_owner(
    reference: Any, org_code: str, classifications: Any = None, adding: tuple[Any, ...] = ()
) -> None:
    """The owning organisation must exist: a DLA code in the registry, or a 5-digit Budget Bureau
    agency code in the national classification, as shipped or as its authority (e-budgeting) extended
    it (`classifications`, core/classification.py), this very record's additions (`adding`) included."""
    if len(org_code) == 5:
        if classifications is not None:
            known = classifications.is_agency(org_code) or any(
                a.code == org_code and a.level == "budgetary_unit" for a in adding
            )
        else:
            node = reference.code_lists["national-classification"].get(org_code)
            known = node is not None and node.level == "budgetary_unit"
        if not known:
            raise Rejection("org.unknown_agency", "no budgetary unit has this agency code", org_code, "org_code")
        return
    reference.require_org(org_code, "org_code")


class IdempotencyKeyReused(Exception):
    """The producer sent a different body under an Idempotency-Key it had used before (answered 409)."""

    def __init__(self, message_id: str) -> None:
        super().__init__(f"this Idempotency-Key was already used for another body (message {message_id})")
        self.message_id = message_id


class IngestObserver:
    """Callbacks for metrics; the defaults do nothing so ingest runs without the metrics module."""

    def on_ingested(self, system: str, outcome: IngestOutcome, entity_type: str | None = None) -> None:
        """A message was stored; `entity_type` is known on the pull path (rejected rows carry none)."""

    def on_payload_failed(self, system: str, rule: str) -> None:
        """A payload could not be read at all."""


class IdempotencyKeyInProgress(IdempotencyKeyReused):
    """The first request with this key and body has not been answered yet; the producer should retry."""

    def __init__(self, message_id: str) -> None:
        Exception.__init__(
            self,
            f"the first request with this Idempotency-Key is still being processed (message {message_id}); "
            "retry shortly",
        )
        self.message_id = message_id


class Ingestor:
    # The classifications an authority may extend (core/classification.py), set by the Hub; None: the
    # shipped lists only, and nobody extends them.
    classifications: Any = None

    def __init__(
        self,
        store: Any,
        reference: Any,
        route: Callable[[str, IncomingEntity], list[Any]],
        observer: IngestObserver | None = None,
    ) -> None:
        self.store = store
        self.reference = reference
        self.route = route
        self.observer = observer or IngestObserver()

    async def answer_push(
        self, plugin: AgencySystem, message: InboundMessage, scope: ProducerScope | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Ingest a pushed payload and return the answer for the producer, and whether it is a replay.

        With an Idempotency-Key, the same key and the same body return the first answer without
        storing anything again; the same key with another body raises IdempotencyKeyReused. A record
        outside the client's `scope` raises ScopeViolation (see `_refuse_outside_scope`).
        """
        if message.idempotency_key:
            replay = await self._earlier_answer(message)
            if replay is not None:
                return replay, True
        try:
            report = await self.ingest_payload(plugin, message, scope)
        except IdempotencyConflict:  # a concurrent request with the same key won the race
            replay = await self._earlier_answer(message)
            if replay is None:
                raise IdempotencyKeyReused(message.message_id) from None
            return replay, True
        return report.as_response(), False

    async def _earlier_answer(self, message: InboundMessage) -> dict[str, Any] | None:
        earlier = await asyncio.to_thread(
            self.store.inbox.find_message_by_idempotency_key, message.client_name, message.idempotency_key
        )
        if earlier is None:
            return None
        if earlier.payload_sha256 != message.payload_sha256:
            raise IdempotencyKeyReused(earlier.message_id)
        if earlier.response is None:
            raise IdempotencyKeyInProgress(earlier.message_id)
        return earlier.response

    async def ingest_payload(
        self, plugin: AgencySystem, message: InboundMessage, scope: ProducerScope | None = None
    ) -> IngestReport:
        """Parse, map and store one pushed payload. A payload that cannot be read at all is stored as
        failed and the PayloadError is raised again for the caller to answer 400."""
        try:
            records = await await_me_maybe(plugin.parse(message.payload, message.media_type or "", message.charset))
            if not isinstance(records, list) or not all(isinstance(r, NativeRecord) for r in records):
                raise PayloadError("payload.unreadable", f"the {plugin.name} plugin could not read the payload")
        except Exception as exc:
            # Any failure to read the payload, expected or not, is the producer's 400, never a 500,
            # and the payload is kept. Without its Idempotency-Key: a corrected repeat is judged anew.
            failure = exc if isinstance(exc, PayloadError) else PayloadError(
                "payload.unreadable", f"the payload could not be read: {type(exc).__name__}: {exc}"[:500]
            )
            kept = dataclasses.replace(message, idempotency_key=None)
            await asyncio.to_thread(self.store.inbox.record_failed_message, kept, failure.reason, failure.rule)
            self.observer.on_payload_failed(plugin.name, failure.rule)
            if failure is exc:
                raise
            raise failure from exc
        return await self.ingest_records(plugin, message, records, scope=scope)

    async def ingest_records(
        self,
        plugin: AgencySystem,
        message: InboundMessage,
        records: list[NativeRecord],
        cursor: CursorUpdate | None = None,
        *,
        scope: ProducerScope | None = None,
    ) -> IngestReport:
        # Bound for every line logged while this message is handled, the store's and plugins' included.
        with structlog.contextvars.bound_contextvars(message_id=message.message_id, system=plugin.name):
            entities, rejections = await self.map_records(plugin, records)
            if scope is not None:
                await self._refuse_outside_scope(scope, message, entities)
            message.record_count = len(records)
            respond = _response_of(len(records)) if message.idempotency_key else None
            outcome = await asyncio.to_thread(
                functools.partial(self.store.inbox.ingest, respond=respond),
                message, entities, rejections, self.route, cursor,
            )
            self.observer.on_ingested(plugin.name, outcome, cursor.entity_type if cursor else None)
            if self.classifications is not None:  # known here at once; other processes on their refresh
                self.classifications.applied(entities)
            log.info(
                "ingested",
                message_id=outcome.message_id,
                accepted=len(outcome.entities),
                changed=outcome.changed_count,
                rejected=len(outcome.rejected),
            )
        return IngestReport(outcome, len(records))

    async def _refuse_outside_scope(
        self, scope: ProducerScope, message: InboundMessage, entities: list[IncomingEntity]
    ) -> None:
        """One record of an organisation the client may not write for refuses the whole request.

        The payload is kept in the inbox with outcome 'refused' and a rejection per offending row, so
        nothing is lost, but no entity, version or delivery comes of it. It is kept without its
        Idempotency-Key, so that a repeat is judged again (by then the scope may have been fixed)
        instead of replaying the refusal.
        """
        outside = scope.outside(entities)
        if not outside:
            return
        orgs = sorted({entity.org_code or "" for entity in outside})
        rejections = [
            RowRejection(
                row=entity.row,
                rule="scope.org_outside",
                reason=f"client {scope.client.name!r} may not write for this organisation",
                field="org_code",
                value=entity.org_code,
            )
            for entity in outside
        ]
        refused = dataclasses.replace(message, idempotency_key=None)
        await asyncio.to_thread(
            self.store.inbox.record_refused_message,
            refused,
            rejections,
            actor=f"client:{scope.client.name}",
            detail=f"records for organisations outside the client's scope: {', '.join(orgs)}",
        )
        log.warning("ingest_refused_scope", message_id=message.message_id, client=scope.client.name, orgs=orgs[:20])
        raise ScopeViolation(scope.client.name, orgs, message.message_id)

    async def map_records(
        self, plugin: AgencySystem, records: list[NativeRecord]
    ) -> tuple[list[IncomingEntity], list[RowRejection]]:
        entities: list[IncomingEntity] = []
        rejections: list[RowRejection] = []
        for record in records:
            if record.problems:
                rejections.extend(RowRejection.from_rejection(record.row, p, record.data) for p in record.problems)
                continue
            try:
                mapped: list[MappedRecord] = await await_me_maybe(plugin.map_in(record))
                row_entities = [self._to_incoming(record.row, item, plugin.name, record) for item in mapped]
            except Exception as exc:  # every failure of one record stays that record's rejection
                if _is_fault(exc):
                    log.error("plugin_map_in_failed", row=record.row, exc_info=exc)
                rejections.extend(
                    RowRejection.from_rejection(record.row, rejection, record.data)
                    for rejection in _mapping_rejections(exc)
                )
                continue
            entities.extend(row_entities)
        return entities, rejections

    def _to_incoming(
        self, row: int, mapped: MappedRecord, system: str | None = None, record: NativeRecord | None = None
    ) -> IncomingEntity:
        model = ENTITY_TYPES.get(mapped.entity_type)
        if model is None:
            raise Rejection("entity.unknown_type", "the plugin produced an unknown entity type", mapped.entity_type)
        entity = mapped.payload if isinstance(mapped.payload, model) else model.model_validate(mapped.payload)
        additions: tuple[Any, ...] = ()
        if self.classifications is not None and system is not None:
            # Nodes its authority names that the year's classification lacks are added, not rejected.
            native = record.data if record is not None else {}
            additions = self.classifications.additions_for(system, entity, row, mapped.external_id, native)
        require_owner(self.reference, entity.org_code, self.classifications, additions)
        body = entity.content()
        return IncomingEntity(
            row=row,
            entity_type=mapped.entity_type,
            external_id=mapped.external_id,
            org_code=entity.org_code,
            fiscal_year=getattr(entity, "fiscal_year", None),
            payload=body,
            content_hash=content_hash(body),
            mapping_version=mapped.mapping_version,
            classification_additions=additions,
        )
