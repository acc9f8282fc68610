"""The configuration repository: pull cursors and run-time overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from core.store import audit as _audit
from core.store import leases as _leases
from core.store import classification as _classification
from core.store import cursors as _cursors
from core.store import gauges as _gauges
from core.store import overrides as _overrides
from core.store import search as _search
from core.store.database import Database
from core.store.records import ConfigOverride, CursorView, utcnow


class ConfigRepository:
    """Run-time state of the configuration: pull cursors and last pulls, and overrides made by operators."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get_cursor(self, system: str, entity_type: str) -> str | None:
        return self.db.read(lambda conn: _cursors.get_cursor(conn, system, entity_type))

    def set_cursor(self, system: str, entity_type: str, cursor: str | None, *, actor: str | None = None) -> None:
        at = utcnow()

        def work(conn: Connection) -> None:
            before = _cursors.get_cursor(conn, system, entity_type) if actor is not None else None
            _cursors.set_cursor(conn, system, entity_type, cursor, at)
            if actor is not None:
                _audit.append(
                    conn, at, actor, "cursor.set", f"cursor:{system}/{entity_type}", {"cursor": before}, {"cursor": cursor}
                )

        self.db.write(work)

    def list_cursors(self) -> list[CursorView]:
        return self.db.read(_search.list_cursors)

    def get_cursor_view(self, system: str, entity_type: str) -> CursorView | None:
        return self.db.read(lambda conn: _search.get_cursor_view(conn, system, entity_type))

    def mark_pulled(self, system: str, entity_type: str) -> None:
        """Remember that a pull of (system, entity type) succeeded now (its cursor stays as it is)."""
        at = utcnow()
        self.db.write(lambda conn: _gauges.mark_pulled(conn, system, entity_type, at))

    def put_override(
        self, kind: str, name: str, value: Any, *, actor: str, action: str, before: Any = None
    ) -> None:
        """Store a run-time configuration change and its audit entry in one transaction."""
        at = utcnow()

        def work(conn: Connection) -> None:
            _overrides.put(conn, kind, name, value, actor, at)
            _audit.append(conn, at, actor, action, f"{kind}:{name}", before, value)

        self.db.write(work)

    def overrides(self, kind: str) -> list[ConfigOverride]:
        return self.db.read(lambda conn: _overrides.list_kind(conn, kind))

    def classification_fingerprint(self) -> tuple[int, Any]:
        """(count, last change) of the classification additions: cheap enough to ask on every refresh."""
        return self.db.read(_classification.fingerprint)

    def classification_additions(self, fiscal_year: int | None = None) -> list[ConfigOverride]:
        """The classification nodes added at run time, of one fiscal year or all, by name."""
        return self.db.read(lambda conn: _classification.list_additions(conn, fiscal_year))

    def get_classification_addition(self, name: str) -> ConfigOverride | None:
        return self.db.read(lambda conn: _classification.get_addition(conn, name))

    def review_classification_addition(
        self, name: str, *, actor: str, note: str | None = None
    ) -> tuple[ConfigOverride | None, bool]:
        """Mark an addition reviewed, audited in the same transaction: (addition or None, newly reviewed)."""
        at = utcnow()
        return self.db.write(lambda conn: _classification.review(conn, name, actor, note, at))

    def hold_lease(self, name: str, owner: str, ttl_s: float, now: datetime) -> str:
        """Take or renew lease `name` for `owner` (core/store/leases.py); returns its holder afterwards."""
        return self.db.write(lambda conn: _leases.hold(conn, name, owner, ttl_s, now), retry=True)

    def release_lease(self, name: str, owner: str) -> bool:
        return self.db.write(lambda conn: _leases.release(conn, name, owner))
