"""The links repository: which record belongs to which (core/linking.py), and which belong to nothing yet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection

from core.store import links as _links
from core.store.database import Database
from core.store.links import Chain, LinkRefused, LinkView, UnlinkedView
from core.store.records import utcnow

__all__ = ["LinkRefused", "LinkRepository"]


class LinkRepository:
    """Links made by the rules when versions are stored, or by operators; the unlinked list; chains."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Work that must happen in the transaction of an operator's link or unlink, called with (conn, the
        # two records' ids, now): the Store adds the area ledger.
        self.after_change: list[Callable[[Connection, Sequence[str], datetime], None]] = []

    # Called by the inbox inside the ingest transaction, so a version is never stored unjudged.
    on_ingested = staticmethod(_links.on_ingested)

    def relink(self, *, page_size: int = 1000, now: datetime | None = None) -> int:
        """Run the rules over every stored record, a page per transaction (records stored before links
        existed, or after the rules changed); returns the pages read."""
        after: str | None = None
        pages = 0
        while True:
            after = self.db.write(lambda conn: _links.relink_page(conn, now or utcnow(), after, page_size), retry=True)
            if after is None:
                return pages
            pages += 1

    def link(self, from_id: str, to_id: str, *, actor: str, note: str | None = None) -> LinkView:
        """An operator's link (raises LinkRefused), audited in the same transaction."""
        at = utcnow()
        return self.db.write(lambda conn: self._changed(conn, _links.link(conn, from_id, to_id, actor, note, at), at))

    def unlink(self, from_id: str, to_id: str, *, actor: str, note: str | None = None) -> LinkView | None:
        """Remove a link (None when there is none), audited in the same transaction."""
        at = utcnow()
        return self.db.write(lambda conn: self._changed(conn, _links.unlink(conn, from_id, to_id, actor, note, at), at))

    def _changed(self, conn: Connection, view: LinkView | None, at: datetime) -> LinkView | None:
        if view is not None:
            for hook in self.after_change:
                hook(conn, [view.from_id, view.to_id], at)
        return view

    def list_unlinked(
        self,
        *,
        system: str | None = None,
        entity_type: str | None = None,
        org_code: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[UnlinkedView]:
        return self.db.read(lambda conn: _links.list_unlinked(conn, system, entity_type, org_code, limit, offset))

    def unlinked_counts(self) -> dict[tuple[str, str], int]:
        return self.db.read(_links.unlinked_counts)

    def links_of(self, entity_id: str) -> list[LinkView]:
        return self.db.read(lambda conn: _links.links_of(conn, entity_id))

    def chain(self, entity_id: str) -> Chain | None:
        """The record and everything linked to it (for a plan project: its budget, procurement, contracts,
        disbursements and progress), or None when there is no such record."""
        return self.db.read(lambda conn: _links.chain(conn, entity_id))
