"""The inbox repository: payloads as received and what became of them."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from core.store import audit as _audit
from core.store import classification as _classification
from core.store import identity as _identity
from core.store import reads as _reads
from core.store import search as _search
from core.record_identity import IdentityRules
from core.store.database import Database
from core.store.inbox import chunks as _chunks
from core.store.inbox import ingest as _ingest
from core.store.records import (
    CursorUpdate,
    EntityOutcome,
    InboundMessage,
    IncomingEntity,
    IngestOutcome,
    MessageSummary,
    EarlierMessage,
    MessageView,
    RowRejection,
    utcnow,
)


@dataclass
class IngestRequest:
    """One payload's `ingest`, to be stored with others that arrived with it (`ingest_together`)."""

    message: InboundMessage
    entities: Sequence[IncomingEntity]
    rejections: Sequence[RowRejection]
    route: Callable[[str, IncomingEntity], Sequence[Any]]
    cursor: CursorUpdate | None = None
    respond: Callable[[IngestOutcome], Any] | None = None
    # The caller's context (its log's bound message_id): a payload stored alone is stored in it.
    context: contextvars.Context | None = None


class InboxRepository:
    """The inbox: raw payloads as received, their rejections and the answers given; `ingest` is the one
transaction that also versions entities and queues deliveries, since a payload is kept with what it
became or not at all."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Work that must happen in the ingest transaction itself, each called with (conn, system, entities,
        # entity outcomes, now) after the versions are written: the Store adds linking (core/linking.py).
        self.after_ingest: list[Callable[..., None]] = []
        # Which records of different systems are one (config/identity.yaml); none: every system's record
        # is its own entity.
        self.identity: IdentityRules = IdentityRules()

    def ingest(
        self,
        message: InboundMessage,
        entities: Sequence[IncomingEntity],
        rejections: Sequence[RowRejection],
        route: Callable[[str, IncomingEntity], Sequence[Any]],
        cursor: CursorUpdate | None = None,
        *,
        now: datetime | None = None,
        respond: Callable[[IngestOutcome], Any] | None = None,
    ) -> IngestOutcome:
        """Keep the message, version what changed, queue deliveries and move the cursor, all or nothing.

        `respond` builds the producer's answer from the outcome; it is stored with the message in the
        same transaction, for idempotent repeats. Raises `IdempotencyConflict` when the client already
        used the message's idempotency key.
        """
        request = IngestRequest(message, entities, rejections, route, cursor, respond)
        return self.db.write(self._work(request, now or utcnow()), retry=True)

    def _work(
        self, request: IngestRequest, at: datetime, keys: _identity.MatchKeys | None = None
    ) -> Callable[[Connection], IngestOutcome]:
        """What `ingest` does in its transaction, for a transaction of the caller's choosing (`keys`: the
        match keys already worked out for its bodies)."""
        message, entities = request.message, request.entities
        additions = _classification.additions_of(message, entities, at)

        def work(conn: Connection) -> IngestOutcome:
            keys_of = keys or _identity.MatchKeys(self.identity)
            resolved = _identity.resolve(conn, self.identity, message, entities, at, keys=keys_of)
            outcome = _ingest.ingest_batch(
                conn, message, resolved, request.rejections, request.route, request.cursor, at, request.respond
            )
            self._with_versions(conn, message, resolved, outcome.entities, additions, at, keys_of)
            _ingest.refresh_statistics(conn, 0, _queued(outcome.entities))
            return outcome

        return work if request.context is None else functools.partial(request.context.run, work)

    def ingest_together(self, requests: Sequence[IngestRequest]) -> list[IngestOutcome | Exception]:
        """Several payloads' `ingest` in one transaction (group commit of payloads pushed at the same time),
        each answered its outcome, or the exception it raised, as if each had been stored alone in turn.

        Consecutive payloads that share nothing (one system and router, no cursor, no record, match key or
        idempotency key in common) are stored as one batch is: each statement once for all of them, the
        work that costs a single-record push twenty times its record. Should anything fail, the
        transaction is rolled back and each payload is stored alone (`Database.write_together`)."""
        at = utcnow()
        keys = _identity.MatchKeys(self.identity)
        runs = self._runs_sharing_nothing(requests, keys)

        def together(conn: Connection) -> list[IngestOutcome]:
            out: list[IngestOutcome] = []
            for run in runs:
                out += self._ingest_run(conn, run, at, keys)
            return out

        return self.db.write_together([self._work(request, at, keys) for request in requests], together=together)

    def _runs_sharing_nothing(
        self, requests: Sequence[IngestRequest], keys: _identity.MatchKeys
    ) -> list[list[IngestRequest]]:
        runs: list[list[IngestRequest]] = []
        taken: set[Any] = set()
        for request in requests:
            marks = self._marks(request, keys)
            first = runs[-1][0] if runs else None
            if (
                first is None
                or request.cursor is not None
                or first.cursor is not None
                or request.message.system != first.message.system
                or request.route is not first.route
                or not taken.isdisjoint(marks)
            ):
                runs.append([request])
                taken = set(marks)
            else:
                runs[-1].append(request)
                taken |= marks
        return runs

    def _marks(self, request: IngestRequest, keys: _identity.MatchKeys) -> set[Any]:
        """What two payloads stored as one batch must not share: records, match keys, idempotency keys."""
        marks: set[Any] = set()
        for entity in request.entities:
            marks.add((entity.entity_type, entity.external_id))
            if self.identity.applies_to(entity.entity_type):
                found = keys.of(entity.entity_type, entity.payload)
                marks.update((entity.entity_type, name, value) for name, value in found.items())
        if request.message.idempotency_key is not None:
            marks.add(("idempotency", request.message.client_name, request.message.idempotency_key))
        return marks

    def _ingest_run(
        self, conn: Connection, run: Sequence[IngestRequest], at: datetime, keys: _identity.MatchKeys
    ) -> list[IngestOutcome]:
        if len(run) == 1:
            return [self._work(run[0], at, keys)(conn)]
        message_of = {id(entity): request.message.message_id for request in run for entity in request.entities}
        incoming = [entity for request in run for entity in request.entities]
        resolved = _identity.resolve(
            conn, self.identity, run[0].message, incoming, at,
            message_id_of=lambda entity: message_of[id(entity)], keys=keys,
        )  # fmt: skip
        batches, start = [], 0
        for request in run:
            end = start + len(request.entities)
            batches.append(_ingest.Batch(request.message, resolved[start:end], request.rejections, request.respond))
            start = end
        outcomes = _ingest.ingest_batches(conn, batches, run[0].route, at)
        additions = [a for request in run for a in _classification.additions_of(request.message, request.entities, at)]
        stored = [e for o in outcomes for e in o.entities]
        self._with_versions(conn, run[0].message, resolved, stored, additions, at, keys)
        for outcome in outcomes:
            _ingest.refresh_statistics(conn, 0, _queued(outcome.entities))
        return outcomes

    def _with_versions(
        self,
        conn: Connection,
        message: InboundMessage,
        entities: Sequence[IncomingEntity],
        outcomes: Sequence[EntityOutcome],
        additions: Sequence[Any],
        at: datetime,
        keys: _identity.MatchKeys | None = None,
    ) -> None:
        # Classification nodes the entities add (core/classification.py) are stored with the records that
        # brought them, or not at all, and audited as done by the system that sent them.
        if additions:
            _classification.add_missing(conn, additions, f"system:{message.system}", at)
        _identity.store_keys(conn, self.identity, entities, outcomes, keys)
        for hook in self.after_ingest:
            hook(conn, message.system, entities, outcomes, at)

    # --- a large payload, chunk by chunk (core/store/inbox/chunks.py) -------------------------------

    def begin_chunks(self, message: InboundMessage, chunk_records: int) -> None:
        """Keep the message, 'storing', before its first chunk; raises IdempotencyConflict for a reused key."""
        self.db.write(lambda conn: _chunks.begin(conn, message, chunk_records, utcnow()))

    def store_chunk(
        self,
        message: InboundMessage,
        chunk: int,
        entities: Sequence[IncomingEntity],
        rejections: Sequence[RowRejection],
        warnings: Sequence[dict[str, Any]],
        route: Callable[[str, IncomingEntity], Sequence[Any]],
    ) -> _chunks.ChunkOutcome:
        """One chunk of a message's records, in its own transaction; ChunkTakenOver when the message is
        no longer waiting for this chunk (another process completed it)."""
        at = utcnow()
        additions = _classification.additions_of(message, entities, at)

        def work(conn: Connection) -> _chunks.ChunkOutcome:
            keys = _identity.MatchKeys(self.identity)
            resolved = _identity.resolve(conn, self.identity, message, entities, at, keys=keys)
            stored = _chunks.store_chunk(conn, message, chunk, resolved, rejections, warnings, route, at)
            self._with_versions(conn, message, resolved, stored.entities, additions, at, keys)
            queued = _queued(stored.entities)  # chunks are of one size, so this one's count stands for each before
            _ingest.refresh_statistics(conn, queued * chunk, queued * (chunk + 1))
            return stored

        return self.db.write(work, retry=True)

    def finish_chunks(self, message_id: str, chunks: int, response: Any | None) -> str:
        """The message's outcome and answer once its `chunks` chunks are stored; returns the outcome."""
        return self.db.write(lambda conn: _chunks.finish(conn, message_id, chunks, response, utcnow()))

    def unfinished_messages(self, progressed_before: datetime, limit: int = 20) -> list[tuple[str, datetime | None]]:
        """Messages left 'storing' that have not progressed since `progressed_before`."""
        return self.db.read(lambda conn: _chunks.unfinished(conn, progressed_before, limit))

    def claim_unfinished(self, message_id: str, seen_progress_at: datetime | None) -> _chunks.UnfinishedMessage | None:
        return self.db.write(lambda conn: _chunks.claim(conn, message_id, seen_progress_at, utcnow()))

    def chunked_outcome(
        self, message_id: str
    ) -> tuple[list[EntityOutcome], list[RowRejection], list[dict[str, Any]]]:
        """What a chunked message's stored chunks became (entities, rejections, warnings)."""
        return self.db.read(lambda conn: _chunks.stored_outcome(conn, message_id))

    def record_failed_message(self, message: InboundMessage, reason: str, rule: str = "payload.unreadable") -> None:
        """Keep a payload that could not even be parsed, with outcome 'failed' and the reason."""
        rejection = RowRejection(row=None, rule=rule, reason=reason)
        self.db.write(lambda conn: _ingest.record_failed(conn, message, rejection))

    def record_refused_message(
        self, message: InboundMessage, rejections: Sequence[RowRejection], *, actor: str, detail: str
    ) -> None:
        """Keep a request refused as a whole (outcome 'refused') and audit the refusal, together."""
        at = utcnow()

        def work(conn: Connection) -> None:
            _ingest.record_refused(conn, message, rejections)
            _audit.append(
                conn, at, actor, "ingest.refused", f"message:{message.message_id}", None, {"system": message.system}, detail
            )

        self.db.write(work)

    def get_message(self, message_id: str) -> MessageView | None:
        return self.db.read(lambda conn: _reads.get_message(conn, message_id))

    def find_message_by_idempotency_key(self, client_name: str | None, idempotency_key: str) -> EarlierMessage | None:
        return self.db.read(lambda conn: _reads.find_message_by_idempotency_key(conn, client_name, idempotency_key))

    def set_response(self, message_id: str, response: Any) -> bool:
        """Remember the answer given for a message, so an idempotent repeat gets the same answer."""
        return self.db.write(lambda conn: _reads.set_response(conn, message_id, response))

    def list_messages(self, **filters: Any) -> list[MessageSummary]:
        """Inbox messages by system, organisation, client, time and outcome, newest first."""
        return self.db.read(lambda conn: _search.list_messages(conn, **filters))

    def message_versions(self, message_id: str) -> list[dict[str, Any]]:
        """The entity versions a message became."""
        return self.db.read(lambda conn: _search.versions_from_message(conn, message_id))


def _queued(outcomes: Sequence[EntityOutcome]) -> int:
    """Deliveries a batch queued: one per destination of each changed record."""
    return sum(len(o.destinations) for o in outcomes)
