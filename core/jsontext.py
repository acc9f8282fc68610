"""JSON text of large values without stalling the other threads."""

from __future__ import annotations

import json
from typing import Any

# Items of a list encoded per json.dumps call by `dumps_in_pieces`: a few milliseconds each.
JSON_PIECE = 1_000


def dumps_in_pieces(value: Any, **options: Any) -> str:
    """json.dumps(value, **options), with long lists (those of a dict too) encoded a slice at a time. One
    json.dumps call holds the GIL throughout: for the 50,000 entities of a large payload's answer, that is
    more than 100 ms in which no other thread, the event loop's included, runs."""
    if isinstance(value, list) and len(value) > JSON_PIECE:
        pieces = (json.dumps(value[i : i + JSON_PIECE], **options)[1:-1] for i in range(0, len(value), JSON_PIECE))
        return "[" + ",".join(pieces) + "]"
    if isinstance(value, dict) and all(isinstance(k, str) for k in value) and any(
        isinstance(v, list) and len(v) > JSON_PIECE for v in value.values()
    ):
        members = (f"{json.dumps(k, **options)}:{dumps_in_pieces(v, **options)}" for k, v in value.items())
        return "{" + ",".join(members) + "}"
    return json.dumps(value, **options)
