"""Where a reader of the announcement feeds stands, and which items are new since then.

The e-GP feed can be neither paged nor asked for items since a date: each request answers the latest
announcements of one unit and type. So the position is kept on the hub's side, per feed: the newest
publication time read and the links published at that very time (several items can share a second).
An item is new when it is later than that, or at that time with a link not yet seen.
"""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

Position = dict[str, dict[str, Any]]


def load(cursor: str | None) -> Position:
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except ValueError:
        return {}  # a cursor from before this format: read the feeds again; unchanged items make no version
    return value if isinstance(value, dict) else {}


def dump(position: Position) -> str:
    return json.dumps(position, ensure_ascii=False, sort_keys=True)


def _moment(item: dict[str, Any]) -> datetime | None:
    try:
        return parsedate_to_datetime(item.get("pubDate", ""))
    except (TypeError, ValueError, IndexError):
        return None


def newer(feed: str, items: list[dict[str, Any]], position: Position) -> list[dict[str, Any]]:
    """The items of `feed` not read before, oldest first; moves `position[feed]` past them."""
    mark = position.get(feed) or {}
    since = datetime.fromisoformat(mark["at"]) if mark.get("at") else None
    seen = set(mark.get("links") or [])
    dated = [(_moment(item), item) for item in items]
    # An item whose date cannot be read is passed on (its record is rejected for it) but never moves the mark.
    fresh = [
        (moment, item)
        for moment, item in dated
        if moment is None or since is None or moment > since or (moment == since and item.get("link") not in seen)
    ]
    fresh.sort(key=lambda pair: (pair[0] is not None, pair[0] or datetime.min))
    latest = max((moment for moment, _ in dated if moment is not None), default=since)
    if latest is not None and latest != since:
        seen = set()
    if latest is not None:
        seen |= {item.get("link") for moment, item in dated if moment == latest and item.get("link")}
        position[feed] = {"at": latest.isoformat(), "links": sorted(seen)}
    return [item for _, item in fresh]
