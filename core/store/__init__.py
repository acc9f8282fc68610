"""The store: the only place in the hub that speaks SQL (SQLite by default, PostgreSQL in production).

Use `Store(url)`, call `upgrade()` once at start-up, then the batch methods. Inputs and outputs are
the plain dataclasses re-exported here.
"""

from core.store.engine import DEFAULT_URL, make_store_url_for_sqlite
from core.store.inbox.chunks import ChunkTakenOver
from core.store.inbox.ingest import IdempotencyConflict
from core.store.records import (
    ApiClient,
    ClaimedDelivery,
    CompletionSummary,
    CursorUpdate,
    Dead,
    DeadLetter,
    Acknowledged,
    DeliveryResult,
    DeliveryView,
    Destination,
    DestinationStats,
    EntityOutcome,
    EntityVersionView,
    EntityView,
    InboundMessage,
    IncomingEntity,
    IngestOutcome,
    MessageView,
    ResolveResult,
    Retry,
    RowRejection,
    StoredRejection,
)
from core.store.store import Store

__all__ = [
    "DEFAULT_URL",
    "ApiClient",
    "ClaimedDelivery",
    "CompletionSummary",
    "ChunkTakenOver",
    "CursorUpdate",
    "Dead",
    "DeadLetter",
    "Acknowledged",
    "DeliveryResult",
    "DeliveryView",
    "Destination",
    "DestinationStats",
    "EntityOutcome",
    "EntityVersionView",
    "EntityView",
    "IdempotencyConflict",
    "InboundMessage",
    "IncomingEntity",
    "IngestOutcome",
    "MessageView",
    "ResolveResult",
    "Retry",
    "RowRejection",
    "Store",
    "StoredRejection",
    "make_store_url_for_sqlite",
]
