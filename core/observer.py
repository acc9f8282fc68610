"""What the hub tells its observer (metrics): every callback a no-op here, so the hub runs without
metrics and the metrics module depends on nothing but these names."""

from __future__ import annotations

from core.delivery import DeliveryObserver
from core.ingest import IngestObserver


class HubObserver(DeliveryObserver, IngestObserver):
    """Callbacks of ingest, delivery, pulls and HTTP; `render` gives the exposition (empty here)."""

    def pulled(self, system: str, entity_type: str, records: int, seconds: float = 0.0) -> None:
        """A pull of (system, entity type) succeeded after reading `records`."""

    def pull_failed(self, system: str, entity_type: str, seconds: float) -> None:
        """A pull of (system, entity type) failed."""

    def purged(self, kind: str, rows: int) -> None:
        """Retention purged `rows` of `kind` (outbox_rows, inbox_payloads)."""

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """The HTTP layer served one request."""

    def render(self) -> bytes:
        """The text exposition of the metrics (may run SQL: call it off the event loop)."""
        return b""
