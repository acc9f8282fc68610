"""Filtering and paging of operator listings, written once: `Listing(select(...))` narrowed by the filters
that were given (None means "not asked for"), ordered, and cut to a page.

    rows = (Listing(select(table))
            .equal(table.c.system, system)
            .range(table.c.received_at, since, until)
            .page((table.c.id,), limit, offset)
            .fetch(conn))

A page is asked for by `limit` and either `offset` or `after` (keyset: the sort key of the last row of
the previous page), which stays fast on a table of millions of rows where a large offset does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, tuple_
from sqlalchemy.sql import Select


class Listing:
    def __init__(self, stmt: Select[Any]) -> None:
        self.stmt = stmt

    def equal(self, column: ColumnElement[Any], value: Any) -> Listing:
        if value is not None:
            self.stmt = self.stmt.where(column == value)
        return self

    def range(self, column: ColumnElement[Any], since: datetime | None, until: datetime | None) -> Listing:
        """`since` inclusive, `until` exclusive, each only when given."""
        if since is not None:
            self.stmt = self.stmt.where(column >= since)
        if until is not None:
            self.stmt = self.stmt.where(column < until)
        return self

    def contains(self, column: ColumnElement[Any], text: str | None) -> Listing:
        if text:
            self.stmt = self.stmt.where(column.contains(text, autoescape=True))  # LIKE wildcards taken literally
        return self

    def where(self, condition: ColumnElement[bool] | None) -> Listing:
        if condition is not None:
            self.stmt = self.stmt.where(condition)
        return self

    def page(
        self,
        order: Sequence[ColumnElement[Any]],
        limit: int,
        offset: int = 0,
        *,
        after: Sequence[Any] | None = None,
    ) -> Listing:
        """Ordered by `order` (the last column must make the order total), `limit` rows from `offset`, or
        from just past the row whose sort key is `after` (keyset paging needs an ascending order)."""
        if after is not None:
            if any(getattr(column, "modifier", None) is not None for column in order):
                raise ValueError("keyset paging needs an ascending order (a descending column would skip rows)")
            self.stmt = self.stmt.where(tuple_(*order) > tuple_(*after))
        self.stmt = self.stmt.order_by(*order).limit(limit).offset(offset)
        return self

    def fetch(self, conn: Connection) -> list[Row[Any]]:
        return list(conn.execute(self.stmt))
