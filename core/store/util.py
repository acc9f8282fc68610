"""Small helpers shared by the store modules: chunking, JSON, ids."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# Bound parameters per IN-list: far below SQLite's limit (32766) and PostgreSQL's (65535), and small
# enough that the statement cache stays useful.
IN_CHUNK = 500


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def dumps(value: Any) -> str:
    # ensure_ascii=False keeps Thai text readable in the database and about a third of the size.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def new_entity_id() -> str:
    """32 hex characters: 12 of milliseconds since the epoch, then 80 random bits.

    Sortable by creation time (index locality on insert, readable ordering in admin views) and
    unguessable enough that ids can appear in URLs.
    """
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def unique(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))
