"""The entity repository: versioned canonical entities and their cross-references."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from core.store import identity as _identity
from core.store import reads as _reads
from core.store import search as _search
from core.store.database import Database
from core.store.records import EntitySummary, EntityVersionView, EntityView


class EntityRepository:
    """Entities, their versions and their cross-references to each system's own ids."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get_entity(self, entity_id: str) -> EntityView | None:
        return self.db.read(lambda conn: _reads.get_entity(conn, entity_id))

    def conflicts(self, entity_id: str) -> list[_identity.ConflictView]:
        """Values systems offered for fields another of the entity's systems is authoritative for, newest first."""
        return self.db.read(lambda conn: _identity.conflicts_of(conn, entity_id))

    def entity_versions(self, entity_id: str) -> list[EntityVersionView]:
        return self.db.read(lambda conn: _reads.list_entity_versions(conn, entity_id))

    def find_entity_by_xref(self, system: str, entity_type: str, external_id: str) -> EntityView | None:
        def work(conn: Connection) -> EntityView | None:
            entity_id = _reads.find_entity_id_by_xref(conn, system, entity_type, external_id)
            return None if entity_id is None else _reads.get_entity(conn, entity_id)

        return self.db.read(work)

    def search_entities(self, **filters: Any) -> list[EntitySummary]:
        return self.db.read(lambda conn: _search.search_entities(conn, **filters))

    def trace_entity(self, entity_id: str) -> list[dict[str, Any]]:
        return self.db.read(lambda conn: _search.trace_entity(conn, entity_id))
