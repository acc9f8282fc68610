"""`Store`: the one object the rest of the hub uses to reach the database.

Every public method is synchronous and is exactly one transaction; the async hub calls them through
`asyncio.to_thread`. The store never calls plugins: routing arrives as a plain callable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.store import admin_tokens as _tokens
from core.store import audit as _audit
from core.store import clients as _clients
from core.store import cursors as _cursors
from core.store import gauges as _gauges
from core.store import migrate as _migrate
from core.store import outbox as _outbox
from core.store import overrides as _overrides
from core.store import reads as _reads
from core.store import search as _search
from core.store import signatures as _signatures
from core.store.engine import DEFAULT_URL, create_store_engine, read_transaction, write_transaction
from core.store.inbox import ingest as _ingest
from core.store.records import (
    AdminToken,
    ApiClient,
    AuditEntry,
    ConfigOverride,
    CursorView,
    EntitySummary,
    MessageSummary,
    ClaimedDelivery,
    CompletionSummary,
    CursorUpdate,
    DeadLetter,
    DeliveryResult,
    DestinationStats,
    EntityVersionView,
    EntityView,
    InboundMessage,
    IncomingEntity,
    IngestOutcome,
    MessageView,
    ResolveResult,
    RowRejection,
    utcnow,
)

T = TypeVar("T")

# PostgreSQL error codes worth one more try: unique violation (two processes created the same new
# entity at once), serialization failure, deadlock.
_RETRYABLE_PG_CODES = {"23505", "40001", "40P01"}
_MAX_TRIES = 4


class Store:
    """The hub's database: inbox, entities and versions, xrefs, outbox, dead letters, cursors, clients."""

    def __init__(self, url: str = DEFAULT_URL, *, engine: Engine | None = None, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = engine if engine is not None else create_store_engine(url, **engine_kwargs)
        # (route, destination) pairs paused in this process's route table; RouteService.load sets it.
        # Their deliveries are not claimed, and a retry or replay of one is held.
        self.paused: _outbox.Paused = _outbox.NOTHING_PAUSED

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    # --- lifecycle ---------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Apply Alembic migrations up to `revision` (safe to call from several processes at once)."""
        _migrate.upgrade(self.engine, revision)

    def current_revision(self) -> str | None:
        return _migrate.current_revision(self.engine)

    @staticmethod
    def head_revision() -> str | None:
        return _migrate.head_revision()

    def is_current(self) -> bool:
        """True when the database schema is at the newest migration (for /readyz)."""
        try:
            return self.current_revision() == self.head_revision()
        except DBAPIError:
            return False

    def dispose(self) -> None:
        self.engine.dispose()

    # --- transactions ------------------------------------------------------------------------

    def _write(self, work: Callable[[Connection], T], *, retry: bool = False) -> T:
        tries = _MAX_TRIES if retry and self.dialect == "postgresql" else 1
        for attempt in range(1, tries + 1):
            try:
                with write_transaction(self.engine) as conn:
                    return work(conn)
            except DBAPIError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                if attempt == tries or code not in _RETRYABLE_PG_CODES:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _read(self, work: Callable[[Connection], T]) -> T:
        with read_transaction(self.engine) as conn:
            return work(conn)

    # --- inbox and ingest ----------------------------------------------------------------------

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
        at = now or utcnow()
        return self._write(
            lambda conn: _ingest.ingest_batch(conn, message, entities, rejections, route, cursor, at, respond),
            retry=True,
        )

    def record_failed_message(self, message: InboundMessage, reason: str, rule: str = "payload.unreadable") -> None:
        """Keep a payload that could not even be parsed, with outcome 'failed' and the reason."""
        rejection = RowRejection(row=None, rule=rule, reason=reason)
        self._write(lambda conn: _ingest.record_failed(conn, message, rejection))

    def get_message(self, message_id: str) -> MessageView | None:
        return self._read(lambda conn: _reads.get_message(conn, message_id))

    def find_message_by_idempotency_key(self, client_name: str | None, idempotency_key: str) -> MessageView | None:
        return self._read(lambda conn: _reads.find_message_by_idempotency_key(conn, client_name, idempotency_key))

    def set_response(self, message_id: str, response: Any) -> bool:
        """Remember the answer given for a message, so an idempotent repeat gets the same answer."""
        return self._write(lambda conn: _reads.set_response(conn, message_id, response))

    # --- entities ------------------------------------------------------------------------------

    def get_entity(self, entity_id: str) -> EntityView | None:
        return self._read(lambda conn: _reads.get_entity(conn, entity_id))

    def entity_versions(self, entity_id: str) -> list[EntityVersionView]:
        return self._read(lambda conn: _reads.list_entity_versions(conn, entity_id))

    def find_entity_by_xref(self, system: str, entity_type: str, external_id: str) -> EntityView | None:
        def work(conn: Connection) -> EntityView | None:
            entity_id = _reads.find_entity_id_by_xref(conn, system, entity_type, external_id)
            return None if entity_id is None else _reads.get_entity(conn, entity_id)

        return self._read(work)

    # --- outbox --------------------------------------------------------------------------------

    def claim_due(
        self,
        worker_id: str,
        limit: int = 500,
        now: datetime | None = None,
        lease_seconds: float = 60,
        destination: str | None = None,
    ) -> list[ClaimedDelivery]:
        """Lease up to `limit` due deliveries (of `destination` only, when given) to `worker_id`,
        lowest open version first per entity."""
        at = now or utcnow()
        paused = self.paused
        return self._write(
            lambda conn: _outbox.claim_due(conn, worker_id, limit, at, lease_seconds, paused, destination)
        )

    def complete(self, results: Sequence[DeliveryResult], now: datetime | None = None) -> CompletionSummary:
        """Record a batch of delivery results (Delivered, Retry, Dead) in one transaction."""
        if not results:
            return CompletionSummary()
        at = now or utcnow()
        paused = self.paused
        return self._write(lambda conn: _outbox.complete(conn, results, at, paused))

    def outbox_stats(self) -> list[DestinationStats]:
        return self._read(_outbox.outbox_stats)

    def delivery_latencies(self, destination: str | None = None) -> list[float]:
        """Seconds from receipt at the hub to acknowledgement by the destination, per delivered row."""
        return self._read(lambda conn: _outbox.delivery_latencies(conn, destination))

    def list_dead_letters(
        self, destination: str | None = None, unresolved_only: bool = True, limit: int = 100, offset: int = 0
    ) -> list[DeadLetter]:
        return self._read(lambda conn: _outbox.list_dead_letters(conn, destination, unresolved_only, limit, offset))

    def get_dead_letter(self, dead_letter_id: int) -> DeadLetter | None:
        return self._read(lambda conn: _outbox.get_dead_letter(conn, dead_letter_id))

    def replay_dead_letter(
        self,
        dead_letter_id: int,
        note: str | None = None,
        *,
        force: bool = False,
        now: datetime | None = None,
        actor: str | None = None,
    ) -> ResolveResult:
        """Queue a dead delivery again under the same delivery key; a resolved one is left alone.

        Refuses (without `force`) when a newer version already reached that destination, or is queued,
        in flight or held for it, because the old one would then roll the destination back. A replay
        on a paused route is held until it resumes. With `actor`, a replay that happened is written to
        the audit log in the same transaction.
        """
        at = now or utcnow()
        paused = self.paused

        def work(conn: Connection) -> ResolveResult:
            result = _outbox.replay_dead_letter(conn, dead_letter_id, at, note, force, paused)
            if actor is not None and result.done:
                _audit.append(
                    conn, at, actor, "dead_letter.replay", f"dead_letter:{dead_letter_id}",
                    {"resolution": None}, {"resolution": "replayed", "delivery_key": result.delivery_key}, note,
                )
            return result

        return self._write(work)

    def discard_dead_letter(
        self, dead_letter_id: int, note: str | None = None, *, actor: str | None = None
    ) -> ResolveResult:
        at = utcnow()

        def work(conn: Connection) -> ResolveResult:
            result = _outbox.discard_dead_letter(conn, dead_letter_id, note, at)
            if actor is not None and result.done:
                _audit.append(
                    conn, at, actor, "dead_letter.discard", f"dead_letter:{dead_letter_id}",
                    {"resolution": None}, {"resolution": "discarded"}, note,
                )
            return result

        return self._write(work)

    def find_dead_letters(self, **filters: Any) -> list[DeadLetter]:
        """Dead letters by destination, entity type or id, creation time, reason text (see search)."""
        return self._read(lambda conn: _search.find_dead_letters(conn, **filters))

    def reconcile_holds(
        self, paused: _outbox.Paused, destinations: Sequence[str], *, now: datetime | None = None
    ) -> tuple[int, int]:
        """Adopt `paused` ((route, destination) pairs) and make the outbox match it: hold the queued
        deliveries of paused pairs, release held ones of every other pair. Returns (held, released)."""
        at = now or utcnow()
        self.paused = frozenset(paused)
        pairs = self.paused
        # Every process runs this every few seconds next to claims and completions: a deadlock or
        # serialization failure on PostgreSQL is tried again rather than failing a pause or resume.
        return self._write(lambda conn: _outbox.reconcile_holds(conn, pairs, list(destinations), at), retry=True)

    # --- cursors -------------------------------------------------------------------------------

    def get_cursor(self, system: str, entity_type: str) -> str | None:
        return self._read(lambda conn: _cursors.get_cursor(conn, system, entity_type))

    def set_cursor(self, system: str, entity_type: str, cursor: str | None, *, actor: str | None = None) -> None:
        at = utcnow()

        def work(conn: Connection) -> None:
            before = _cursors.get_cursor(conn, system, entity_type) if actor is not None else None
            _cursors.set_cursor(conn, system, entity_type, cursor, at)
            if actor is not None:
                _audit.append(
                    conn, at, actor, "cursor.set", f"cursor:{system}/{entity_type}", {"cursor": before}, {"cursor": cursor}
                )

        self._write(work)

    def list_cursors(self) -> list[CursorView]:
        return self._read(_search.list_cursors)

    def get_cursor_view(self, system: str, entity_type: str) -> CursorView | None:
        return self._read(lambda conn: _search.get_cursor_view(conn, system, entity_type))

    def mark_pulled(self, system: str, entity_type: str) -> None:
        """Remember that a pull of (system, entity type) succeeded now (its cursor stays as it is)."""
        at = utcnow()
        self._write(lambda conn: _gauges.mark_pulled(conn, system, entity_type, at))

    # --- figures for metrics -------------------------------------------------------------------

    def gauge_snapshot(self) -> _gauges.GaugeSnapshot:
        """Backlog, oldest pending row, unresolved dead letters and last pulls, in one read."""
        return self._read(_gauges.snapshot)

    # --- API clients ---------------------------------------------------------------------------

    def add_client(
        self,
        name: str,
        system: str | None = None,
        allowed_orgs: list[str] | None = None,
        allowed_provinces: list[str] | None = None,
        *,
        hmac: bool = False,
        actor: str | None = None,
    ) -> tuple[ApiClient, str]:
        """Create a client; returns it with the plain key, which is not stored and cannot be shown again.

        No organisation and no province list means the client may write for every organisation.
        With `hmac`, the client gets a signing secret (`client.hmac_secret`) and must sign requests.
        """
        at = utcnow()
        secret = _clients.new_hmac_secret() if hmac else None

        def work(conn: Connection) -> tuple[ApiClient, str]:
            client, key = _clients.add_client(conn, name, system, allowed_orgs, allowed_provinces, at, secret)
            if actor is not None:
                _audit.append(conn, at, actor, "client.add", f"client:{name}", None, _client_audit(client))
            return client, key

        return self._write(work)

    def get_client(self, name: str) -> ApiClient | None:
        return self._read(lambda conn: _clients.get_client(conn, name))

    def update_client(self, name: str, changes: dict[str, Any], *, actor: str) -> ApiClient | None:
        """Change a client's scope or disable it; audited with the state before and after."""
        at = utcnow()

        def work(conn: Connection) -> ApiClient | None:
            before = _clients.get_client(conn, name)
            if before is None:
                return None
            after = _clients.update_client(conn, name, changes)
            _audit.append(conn, at, actor, "client.update", f"client:{name}", _client_audit(before), _client_audit(after))
            return after

        return self._write(work)

    def replace_client_key(self, name: str, system: str | None = None) -> tuple[ApiClient, str]:
        """Issue a new key for `name` (creating the client if needed); the previous key is revoked."""
        at = utcnow()
        return self._write(lambda conn: _clients.replace_key(conn, name, system, at))

    def authenticate(self, plain_key: str) -> ApiClient | None:
        if not plain_key:
            return None
        return self._read(lambda conn: _clients.authenticate(conn, plain_key))

    def list_clients(self) -> list[ApiClient]:
        return self._read(_clients.list_clients)

    def disable_client(self, name: str, disabled: bool = True) -> bool:
        return self._write(lambda conn: _clients.set_disabled(conn, name, disabled))

    # --- signed requests -----------------------------------------------------------------------

    def claim_signature(self, signature: str, client_id: str, expires_at: datetime) -> bool:
        """Record a request signature as used; False if it was already used (a replayed request)."""
        at = utcnow()
        return self._write(lambda conn: _signatures.claim(conn, signature, client_id, expires_at, at))

    # --- admin tokens --------------------------------------------------------------------------

    def add_admin_token(self, name: str, role: str, *, actor: str) -> tuple[AdminToken, str]:
        """Create an admin token; the plain token is returned once and only its hash is kept."""
        at = utcnow()

        def work(conn: Connection) -> tuple[AdminToken, str]:
            token, plain = _tokens.add_token(conn, name, role, at)
            _audit.append(conn, at, actor, "token.add", f"token:{name}", None, {"name": name, "role": role})
            return token, plain

        return self._write(work)

    def authenticate_admin(self, plain_token: str) -> AdminToken | None:
        if not plain_token:
            return None
        return self._read(lambda conn: _tokens.authenticate(conn, plain_token))

    def list_admin_tokens(self) -> list[AdminToken]:
        return self._read(_tokens.list_tokens)

    def revoke_admin_token(self, name: str, *, actor: str) -> bool:
        at = utcnow()

        def work(conn: Connection) -> bool:
            before = _tokens.get_token(conn, name)
            if before is None or before.disabled:
                return False
            _tokens.set_disabled(conn, name, True)
            _audit.append(conn, at, actor, "token.revoke", f"token:{name}", {"disabled": False}, {"disabled": True})
            return True

        return self._write(work)

    # --- audit log -----------------------------------------------------------------------------

    def audit(
        self, actor: str, action: str, target: str | None, before: Any = None, after: Any = None, detail: str | None = None
    ) -> int:
        at = utcnow()
        return self._write(lambda conn: _audit.append(conn, at, actor, action, target, before, after, detail))

    def audit_entries(
        self,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        return self._read(lambda conn: _audit.list_entries(conn, actor, action, since, limit, offset))

    # --- configuration overrides ---------------------------------------------------------------

    def put_override(
        self, kind: str, name: str, value: Any, *, actor: str, action: str, before: Any = None
    ) -> None:
        """Store a run-time configuration change and its audit entry in one transaction."""
        at = utcnow()

        def work(conn: Connection) -> None:
            _overrides.put(conn, kind, name, value, actor, at)
            _audit.append(conn, at, actor, action, f"{kind}:{name}", before, value)

        self._write(work)

    def overrides(self, kind: str) -> list[ConfigOverride]:
        return self._read(lambda conn: _overrides.list_kind(conn, kind))

    # --- operator reads ------------------------------------------------------------------------

    def list_messages(self, **filters: Any) -> list[MessageSummary]:
        """Inbox messages by system, organisation, client, time and outcome, newest first."""
        return self._read(lambda conn: _search.list_messages(conn, **filters))

    def message_versions(self, message_id: str) -> list[dict[str, Any]]:
        """The entity versions a message became."""
        return self._read(lambda conn: _search.versions_from_message(conn, message_id))

    def search_entities(self, **filters: Any) -> list[EntitySummary]:
        return self._read(lambda conn: _search.search_entities(conn, **filters))

    def trace_entity(self, entity_id: str) -> list[dict[str, Any]]:
        return self._read(lambda conn: _search.trace_entity(conn, entity_id))

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

        self._write(work)


def _client_audit(client: ApiClient | None) -> dict[str, Any] | None:
    """What the audit log keeps of a client: never its key or signing secret."""
    if client is None:
        return None
    return {
        "name": client.name,
        "system": client.system,
        "allowed_orgs": client.allowed_orgs,
        "allowed_provinces": client.allowed_provinces,
        "disabled": client.disabled,
        "signed_requests": client.hmac_secret is not None,
    }
