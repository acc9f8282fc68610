"""The ingest pipeline: native payload -> native records -> canonical entities -> one store transaction.

Used by the push endpoint and by scheduled pulls alike. Nothing here raises for a bad record: every
record ends accepted or rejected with its field, value and rule, and the raw payload is always kept.

No upload can stall the hub: parsing, mapping and validating a payload is CPU work of seconds for a
large file, so it runs in the ingestor's own thread pool, never on the event loop that answers every
other request (docs/decisions/0010-ingest-off-the-loop.md). A pushed payload first takes a parse slot
(`ParseGate`): a few at once overall and per client; one that cannot get a slot in time is answered 503
with Retry-After (`IngestBusy`) instead of joining a queue without end.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import math
import pickle
import re
import traceback
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple, TypeVar

import structlog
from pydantic import ValidationError

from canonical_model import ENTITY_TYPES, formula_warnings
from canonical_model.envelope import body_text, content_hash, field_or_none
from canonical_model.rejection import Rejection, rejections_from_validation_error
from core.group_commit import GroupCommit
from core.memory import release_freed_memory
from core.payloads import PayloadError
from core.contract import AgencySystem, resolve_from_thread
from core.plugin_types import MappedRecord, NativeRecord
from core.scope import ProducerScope, ScopeViolation
from core.settings import IngestSettings
from core.store import ChunkTakenOver, IdempotencyConflict
from core.store.inbox.ingest import outcome_of, rejected_row_count
from core.store.repos.inbox import IngestRequest
from core.store.records import (
    CursorUpdate,
    EntityOutcome,
    InboundMessage,
    IncomingEntity,
    IngestOutcome,
    RowRejection,
    utcnow,
)

log = structlog.get_logger("prasan.ingest")


T = TypeVar("T")

_MAYBE_FORMULA = re.compile(r'"(?:\\[tr])*[=+\-@]')

# Payloads of up to this many records are tallied and answered on the event loop: for them a trip to a
# thread (a wake-up of the loop and a turn at the GIL behind the threads' work) costs more than the work,
# about a microsecond a record; for a larger one it is the other way round. An answer repeats the cells it
# warns about or rejects, so it is as long as the payload at worst: a payload is answered on the loop only
# when it is also small in bytes (100 rows of long formula-like cells would otherwise be megabytes there).
ON_LOOP_RECORDS = 100
ON_LOOP_BYTES = 64 * 1024


def answered_on_loop(payload_bytes: int, records: int) -> bool:
    return payload_bytes <= ON_LOOP_BYTES and records <= ON_LOOP_RECORDS

# Warnings answered per payload at most: a 50,000-row file of formula-like titles must not make an
# answer of megabytes; the count of those left out is answered instead.
MAX_WARNINGS = 1_000


@dataclass
class IngestReport:
    """What the hub answers a producer."""

    outcome: IngestOutcome
    records: int
    # text.formula_like and the like: about rows that were accepted, unchanged (see `_warnings_of`).
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # The answer, once built (a large payload's is built once, to be stored with its message).
    answer: dict[str, Any] | None = None

    def as_response(self) -> dict[str, Any]:
        if self.answer is None:
            self.answer = self._build_answer()
        return self.answer

    def _build_answer(self) -> dict[str, Any]:
        accepted_rows = {e.row for e in self.outcome.entities}
        warnings = [w for w in self.warnings if w["row"] in accepted_rows]
        answer = {
            "message_id": self.outcome.message_id,
            "accepted": len(self.outcome.entities),
            "entities": [
                {"row": e.row, "entity_type": e.entity_type, "id": e.entity_id, "version": e.version, "changed": e.changed}
                for e in self.outcome.entities
            ],
            "rejected": [_row_answer(r) for r in self.outcome.rejected if r.rule != PLUGIN_FAULT],
            # The hub's own failures, not the producer's mistakes: kept, and replayable once fixed.
            "faults": [_row_answer(r) for r in self.outcome.rejected if r.rule == PLUGIN_FAULT],
            "warnings": warnings[:MAX_WARNINGS],
        }
        if len(warnings) > MAX_WARNINGS:
            answer["warnings_omitted"] = len(warnings) - MAX_WARNINGS
        return answer


def _row_answer(rejection: RowRejection) -> dict[str, Any]:
    return {
        "row": rejection.row,
        "field": rejection.field,
        "value": _text(rejection.value),
        "rule": rejection.rule,
        "reason": rejection.reason,
    }


def _response_of(records: int, warnings: list[dict[str, Any]]) -> Callable[[IngestOutcome], dict[str, Any]]:
    return lambda outcome: IngestReport(outcome, records, warnings).as_response()


def _warnings_of(row: int, entity_type: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """What an accepted record holds that the producer should know about, without refusing or altering
    it: text a spreadsheet would run as a formula (`text.formula_like`), forwarded as it came."""
    # Walking every string of every record costs a quarter of mapping; one C-speed search of the
    # record's JSON finds the few that may hold a formula (a string starting with = + - @, after tabs
    # or carriage returns), and only those are walked.
    if not _MAYBE_FORMULA.search(body_text(body)):
        return []
    return [
        {"row": row, "entity_type": entity_type, **warning.as_dict()} for warning in formula_warnings(body)
    ]


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


@dataclass
class Mapped:
    """What mapping a payload's records made of them."""

    entities: list[IncomingEntity]
    rejections: list[RowRejection]
    warnings: list[dict[str, Any]]


class Owner(NamedTuple):
    """Whose record a row became: what the scope check needs of an entity."""

    row: int
    org_code: str | None


@dataclass
class HeldChunk:
    """A mapped chunk of a large payload waiting to be stored: `Mapped`, pickled, and its entities' owners."""

    mapped: bytes
    owners: list[Owner]


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


class _Unreadable(Exception):
    """A payload's parse failed with `cause` (carried out of the parse pool apart from mapping's failures)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class IngestBusy(Exception):
    """Every parse slot stayed taken for `ingest.parse_wait_s` (or too many payloads already wait): the
    payload is not read and the producer is answered 503 with Retry-After, to send it again later."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class ParseGate:
    """Admission to the parse pool: at most `max_concurrent_parses` payloads parse at once, at most
    `max_concurrent_parses_per_client` of one client, at most `max_waiting_parses` wait, each no longer
    than `parse_wait_s`. Bounded in every direction, so a burst of uploads costs a bounded amount of
    memory and answers 503 rather than growing a queue."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self._overall = asyncio.Semaphore(settings.max_concurrent_parses)
        # Per client, only while the client has a payload waiting or parsing: the dict stays as small as
        # the number of requests in flight, whatever the number of clients.
        self._clients: dict[str, tuple[asyncio.Semaphore, int]] = {}
        self.waiting = 0
        self.busy = 0

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.settings.parse_wait_s))

    @asynccontextmanager
    async def slot(self, client: str | None) -> AsyncIterator[None]:
        if self.waiting >= self.settings.max_waiting_parses and (self._overall.locked() or self._client_full(client)):
            raise IngestBusy(
                f"{self.waiting} payloads already wait to be read (ingest.max_waiting_parses); send it again later",
                self.retry_after_s,
            )
        key = client or ""
        semaphore, users = self._clients.get(key) or (asyncio.Semaphore(self.settings.max_concurrent_parses_per_client), 0)
        self._clients[key] = (semaphore, users + 1)
        self.waiting += 1
        acquired: list[asyncio.Semaphore] = []
        try:
            try:
                if not (semaphore.locked() or self._overall.locked()):
                    # Both free: taken at once, without arming the timer a wait needs (a single-record
                    # push would spend more on arming and cancelling it than on its parse).
                    await self._take(semaphore, acquired)
                else:
                    async with asyncio.timeout(self.settings.parse_wait_s):
                        await self._take(semaphore, acquired)
            except TimeoutError:
                whose = "this client's" if len(acquired) == 0 else "the hub's"
                raise IngestBusy(
                    f"{whose} parse slots stayed taken for {self.settings.parse_wait_s:g} s "
                    "(ingest.max_concurrent_parses, ingest.max_concurrent_parses_per_client); send it again later",
                    self.retry_after_s,
                ) from None
            finally:
                self.waiting -= 1
            self.busy += 1
            try:
                yield
            finally:
                self.busy -= 1
        finally:
            for taken in reversed(acquired):
                taken.release()
            semaphore, users = self._clients[key]
            if users <= 1:
                del self._clients[key]
            else:
                self._clients[key] = (semaphore, users - 1)

    async def _take(self, semaphore: asyncio.Semaphore, acquired: list[asyncio.Semaphore]) -> None:
        await semaphore.acquire()
        acquired.append(semaphore)
        await self._overall.acquire()
        acquired.append(self._overall)

    def _client_full(self, client: str | None) -> bool:
        entry = self._clients.get(client or "")
        return entry is not None and entry[0].locked()


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
        settings: IngestSettings | None = None,
    ) -> None:
        self.store = store
        self.reference = reference
        self.route = route
        self.observer = observer or IngestObserver()
        self.settings = settings or IngestSettings()
        self.gate = ParseGate(self.settings)
        # Payloads stored at the same time share a transaction, up to a chunk's records (decision 0013).
        self.group_commit: GroupCommit[IngestRequest, IngestOutcome] = GroupCommit(
            lambda requests: self.store.inbox.ingest_together(requests), self.settings.store_chunk_records
        )
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Create the parse pool; called by `Hub.start`."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.settings.max_concurrent_parses, thread_name_prefix="prasan-parse")

    def stop(self) -> None:
        """Shut the parse pool down without waiting: a parse still running finishes in its thread, and
        nothing queued behind it starts."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def off_loop(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in the parse pool, with this task's context (the log's bound message_id).
        An ingestor that was not started (tools, benchmarks) still keeps the work off the loop, in the
        loop's default executor."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._pool, functools.partial(context.run, function, *args))

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
        # 50,000 entities make an answer worth building off the loop too (not in the parse pool, where
        # it would wait behind other payloads' parsing).
        if answered_on_loop(len(message.payload), report.records):
            return report.as_response(), False
        return await asyncio.to_thread(report.as_response), False

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
        failed and the PayloadError is raised again for the caller to answer 400 (413 for a limit).
        Parsing and mapping hold a parse slot (IngestBusy when none comes in time); storing does not."""
        per_chunk = self.settings.store_chunk_records
        async with self.gate.slot(message.client_name):
            records, mapped = await self._parse(plugin, message, map_up_to=per_chunk)
            count = len(records)
            with structlog.contextvars.bound_contextvars(message_id=message.message_id, system=plugin.name):
                if count > per_chunk:
                    # A chunk at a time, each then stored as its own transaction; each chunk's records go
                    # once mapped, and its entities wait for the others' scope check as one pickled bytes
                    # object instead of a dozen objects per entity that every full collection would walk.
                    loop = asyncio.get_running_loop()
                    held: list[HeldChunk | None] = []
                    while records:
                        chunk = records[:per_chunk]
                        del records[:per_chunk]
                        held.append(await self.off_loop(self._map_and_hold, plugin, chunk, loop))
                        del chunk
        if mapped is not None:
            return await self._store(plugin, message, count, mapped, scope=scope)
        return await self._store_in_chunks(plugin, message, count, held, scope)

    def _map_and_hold(self, plugin: AgencySystem, records: list[NativeRecord], loop: asyncio.AbstractEventLoop) -> HeldChunk:
        mapped = self._map_sync(plugin, records, loop)
        owners = [Owner(entity.row, entity.org_code) for entity in mapped.entities]
        return HeldChunk(pickle.dumps(mapped, protocol=pickle.HIGHEST_PROTOCOL), owners)

    async def _parse(
        self, plugin: AgencySystem, message: InboundMessage, map_up_to: int = 0
    ) -> tuple[list[NativeRecord], Mapped | None]:
        """The payload's records and, when there are at most `map_up_to`, what mapping makes of them: in
        the same trip to the parse pool, since for a small payload each trip costs more than its work."""
        loop = asyncio.get_running_loop()
        try:
            return await self.off_loop(self._parse_and_map_sync, plugin, message, loop, map_up_to)
        except _Unreadable as unreadable:
            exc = unreadable.cause
            # Any failure to read the payload, expected or not, is the producer's 400, never a 500,
            # and the payload is kept. Without its Idempotency-Key: a corrected repeat is judged anew.
            failure = exc if isinstance(exc, PayloadError) else PayloadError(
                "payload.unreadable", f"the payload could not be read: {type(exc).__name__}: {exc}"[:500]
            )
            # The parser's frames hold what it had read (a 30 MB body decodes to as much text again):
            # let it go before the body is copied into the store.
            traceback.clear_frames(exc.__traceback__)
            kept = dataclasses.replace(message, idempotency_key=None)
            await asyncio.to_thread(self.store.inbox.record_failed_message, kept, failure.reason, failure.rule)
            self.observer.on_payload_failed(plugin.name, failure.rule)
            if failure is exc:
                raise exc
            raise failure from exc

    def _parse_and_map_sync(
        self, plugin: AgencySystem, message: InboundMessage, loop: asyncio.AbstractEventLoop, map_up_to: int
    ) -> tuple[list[NativeRecord], Mapped | None]:
        try:
            records = self._parse_sync(plugin, message, loop)
        except Exception as exc:  # told apart from a failure of mapping, which is not the payload's
            raise _Unreadable(exc) from exc
        if len(records) > map_up_to:
            return records, None
        with structlog.contextvars.bound_contextvars(message_id=message.message_id, system=plugin.name):
            return records, self._map_sync(plugin, records, loop)

    @staticmethod
    def _parse_sync(plugin: AgencySystem, message: InboundMessage, loop: asyncio.AbstractEventLoop) -> list[NativeRecord]:
        # In a pool thread. A coroutine `parse` is the plugin's choice to run on the loop: it is awaited
        # there, and this thread waits for it.
        records = resolve_from_thread(plugin.parse(message.payload, message.media_type or "", message.charset), loop)
        if not isinstance(records, list) or not all(isinstance(r, NativeRecord) for r in records):
            raise PayloadError("payload.unreadable", f"the {plugin.name} plugin could not read the payload")
        return records

    async def ingest_records(
        self,
        plugin: AgencySystem,
        message: InboundMessage,
        records: list[NativeRecord],
        cursor: CursorUpdate | None = None,
        *,
        scope: ProducerScope | None = None,
    ) -> IngestReport:
        """Map and store records read by a pull (or parsed by `ingest_payload`)."""
        with structlog.contextvars.bound_contextvars(message_id=message.message_id, system=plugin.name):
            mapped = await self._map(plugin, records)
        return await self._store(plugin, message, len(records), mapped, cursor, scope=scope)

    async def _store(
        self,
        plugin: AgencySystem,
        message: InboundMessage,
        count: int,
        mapped: Mapped,
        cursor: CursorUpdate | None = None,
        *,
        scope: ProducerScope | None = None,
    ) -> IngestReport:
        """`count` records mapped into `mapped`, stored in one transaction."""
        # Bound for every line logged while this message is handled, the store's and plugins' included.
        with structlog.contextvars.bound_contextvars(message_id=message.message_id, system=plugin.name):
            entities, rejections = mapped.entities, mapped.rejections
            if scope is not None:
                await self._refuse_outside_scope(scope, message, entities)
            message.record_count = count
            respond = _response_of(count, mapped.warnings) if message.idempotency_key else None
            request = IngestRequest(message, entities, rejections, self.route, cursor, respond, contextvars.copy_context())
            outcome = await self.group_commit.write(request, max(1, len(entities)))
            stored = (plugin.name, outcome, entities, cursor.entity_type if cursor else None)
            if count <= ON_LOOP_RECORDS:
                self._stored(*stored)
            else:
                await asyncio.to_thread(self._stored, *stored)
        return IngestReport(outcome, count, mapped.warnings)

    def _stored(
        self, system: str, outcome: IngestOutcome, entities: list[IncomingEntity], entity_type: str | None = None
    ) -> None:
        # Off the loop: tallying 50,000 entities for the metrics is tens of milliseconds.
        self.observer.on_ingested(system, outcome, entity_type)
        if self.classifications is not None:  # known here at once; other processes on their refresh
            self.classifications.applied(entities)
        log.info(
            "ingested",
            message_id=outcome.message_id,
            accepted=len(outcome.entities),
            changed=outcome.changed_count,
            rejected=len(outcome.rejected),
        )

    async def _store_in_chunks(
        self,
        plugin: AgencySystem,
        message: InboundMessage,
        count: int,
        held: list[HeldChunk | None],
        scope: ProducerScope | None,
    ) -> IngestReport:
        """A payload of more than `ingest.store_chunk_records` records: the message is kept first
        ('storing'), then each chunk is its own transaction, then the outcome and answer are set
        (docs/decisions/0013-chunked-ingest.md). A refusal for scope comes before anything is stored."""
        with structlog.contextvars.bound_contextvars(message_id=message.message_id, system=plugin.name):
            if scope is not None:
                await self._refuse_outside_scope(scope, message, [o for part in held if part for o in part.owners])
            message.record_count = count
            await asyncio.to_thread(self.store.inbox.begin_chunks, message, self.settings.store_chunk_records)
            outcomes: list[EntityOutcome] = []
            rejections: list[RowRejection] = []
            warnings: list[dict[str, Any]] = []
            for index, part in enumerate(held):
                assert part is not None
                held[index] = None  # once stored, nothing of this chunk is needed any more
                stored, chunk_warnings = await asyncio.to_thread(self._store_chunk, message, index, part.mapped)
                outcomes.extend(stored.entities)
                rejections.extend(stored.rejected)
                warnings.extend(chunk_warnings)
            return await self._finish_chunks(plugin, message, count, len(held), outcomes, rejections, warnings)

    def _store_chunk(
        self, message: InboundMessage, index: int, part: Mapped | bytes
    ) -> tuple[Any, list[dict[str, Any]]]:
        # In a thread: the chunk's entities unpickled, stored, and let go.
        mapped: Mapped = pickle.loads(part) if isinstance(part, bytes) else part
        stored = self.store.inbox.store_chunk(
            message, index, mapped.entities, mapped.rejections, mapped.warnings, self.route
        )
        stored_warnings = mapped.warnings
        if self.classifications is not None:
            self.classifications.applied(mapped.entities)
        del mapped
        release_freed_memory()  # a chunk's rows are gone: the next chunk starts from the same floor
        return stored, stored_warnings

    async def _finish_chunks(
        self,
        plugin: AgencySystem,
        message: InboundMessage,
        count: int,
        chunks: int,
        outcomes: list[EntityOutcome],
        rejections: list[RowRejection],
        warnings: list[dict[str, Any]],
    ) -> IngestReport:
        accepted, rejected = len(outcomes), rejected_row_count(rejections)
        outcome = IngestOutcome(message.message_id, outcome_of(accepted, rejected), outcomes, rejections)
        report = IngestReport(outcome, count, warnings)
        response = await asyncio.to_thread(report.as_response) if message.idempotency_key else None
        await asyncio.to_thread(self.store.inbox.finish_chunks, message.message_id, chunks, response)
        await asyncio.to_thread(self._stored, plugin.name, outcome, [])
        return report

    async def complete_unfinished(self, systems: Any, stalled_for_s: float | None = None) -> list[str]:
        """Complete the payloads whose chunks stopped being stored (their process died) at least
        `stalled_for_s` ago (default `ingest.resume_after_s`): parse the kept payload again, store the
        chunks not stored yet, set the outcome and answer. Returns the messages completed."""
        stalled_for_s = self.settings.resume_after_s if stalled_for_s is None else stalled_for_s
        before = utcnow() - timedelta(seconds=stalled_for_s)
        completed: list[str] = []
        for message_id, seen in await asyncio.to_thread(self.store.inbox.unfinished_messages, before):
            unfinished = await asyncio.to_thread(self.store.inbox.claim_unfinished, message_id, seen)
            if unfinished is None:
                continue  # another process took it
            message = unfinished.message
            with structlog.contextvars.bound_contextvars(message_id=message_id, system=message.system):
                if message.system not in systems:
                    log.error("ingest_resume_no_system", detail="the system is not configured in this process")
                    continue
                try:
                    await self._complete(systems.get(message.system), unfinished)
                except ChunkTakenOver:
                    continue  # the process thought dead was only slow, or another one took over
                except Exception:
                    log.exception("ingest_resume_failed")
                    continue
                log.warning("ingest_resumed", from_chunk=unfinished.stored_chunks)
                completed.append(message_id)
        return completed

    async def complete_unfinished_forever(self, systems: Any, stop: asyncio.Event) -> None:
        """`complete_unfinished` now and then until `stop`: in every process, since any may find a
        payload left by one that died (the claim lets one of them complete it)."""
        while not stop.is_set():
            try:
                await self.complete_unfinished(systems)
            except Exception:  # the database may be briefly away; the next round tries again
                log.exception("ingest_resume_round_failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(60.0, self.settings.resume_after_s / 2))
            except TimeoutError:
                pass

    async def _complete(self, plugin: AgencySystem, unfinished: Any) -> None:
        message, per_chunk = unfinished.message, unfinished.chunk_records
        loop = asyncio.get_running_loop()
        async with self.gate.slot(message.client_name):
            records = await self.off_loop(self._parse_sync, plugin, message, loop)
        count = len(records)
        chunks = -(-count // per_chunk)
        for index in range(unfinished.stored_chunks, chunks):
            async with self.gate.slot(message.client_name):
                part = await self._map(plugin, records[index * per_chunk : (index + 1) * per_chunk])
            await asyncio.to_thread(self._store_chunk, message, index, part)
        del records
        outcomes, rejections, warnings = await asyncio.to_thread(self.store.inbox.chunked_outcome, message.message_id)
        await self._finish_chunks(plugin, message, count, chunks, outcomes, rejections, warnings)

    async def _refuse_outside_scope(
        self, scope: ProducerScope, message: InboundMessage, entities: list[IncomingEntity] | list[Owner]
    ) -> None:
        """One record of an organisation the client may not write for refuses the whole request.

        The payload is kept in the inbox with outcome 'refused' and a rejection per offending row, so
        nothing is lost, but no entity, version or delivery comes of it. It is kept without its
        Idempotency-Key, so that a repeat is judged again (by then the scope may have been fixed)
        instead of replaying the refusal.
        """
        outside = scope.outside(entities) if len(entities) <= ON_LOOP_RECORDS else await asyncio.to_thread(scope.outside, entities)
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
        """The records as canonical entities and rejections, mapped and validated off the loop."""
        mapped = await self._map(plugin, records)
        return mapped.entities, mapped.rejections

    async def _map(self, plugin: AgencySystem, records: list[NativeRecord]) -> Mapped:
        return await self.off_loop(self._map_sync, plugin, records, asyncio.get_running_loop())

    def _map_sync(self, plugin: AgencySystem, records: list[NativeRecord], loop: asyncio.AbstractEventLoop) -> Mapped:
        # In a pool thread: map_in and the pydantic validation of `_to_incoming` are the CPU work of
        # ingest. A coroutine map_in is awaited on the loop, record by record; its validation stays here.
        entities: list[IncomingEntity] = []
        rejections: list[RowRejection] = []
        warnings: list[dict[str, Any]] = []
        for record in records:
            if record.problems:
                rejections.extend(RowRejection.from_rejection(record.row, p, record.data) for p in record.problems)
                continue
            try:
                mapped: list[MappedRecord] = resolve_from_thread(plugin.map_in(record), loop)
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
            for entity in row_entities:
                warnings.extend(_warnings_of(entity.row, entity.entity_type, entity.payload))
        return Mapped(entities, rejections, warnings)

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
            fiscal_year=field_or_none(entity, "fiscal_year"),
            payload=body,
            content_hash=content_hash(body),
            mapping_version=mapped.mapping_version,
            classification_additions=additions,
        )
