"""Bodies on the wire: records out of a JSON or CSV answer in its charset, and a record into a request body."""

from __future__ import annotations

import codecs
import csv
import io
import json
from decimal import Decimal
from typing import Any

from plugins.sola.transport import CSV, Body
from prasan import PayloadError, PayloadLimits, loads_strict_json, tabular_records


def at_path(value: Any, path: str | None) -> Any:
    """`a.b.0.c` inside nested objects and lists; None when any step is missing. A key spelled exactly
    like the whole path wins, since Thai headers end with dots (`รหัส อปท.`)."""
    if not path:
        return value
    if isinstance(value, dict) and path in value:
        return value[path]
    for step in path.split("."):
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


def charset_of(content_type: str | None, body: Body) -> str:
    """The answer's own charset wins over the declared one: a system that says what it sends is right."""
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return body.charset


def decode_text(payload: bytes, charset: str) -> str:
    try:
        return payload.decode(codecs.lookup(charset).name if charset.lower() != "utf-8" else "utf-8-sig")
    except LookupError:
        raise PayloadError("payload.charset_unsupported", f"unknown charset {charset!r}") from None
    except UnicodeDecodeError as exc:
        raise PayloadError("payload.encoding", f"the body is not valid {charset} (byte {exc.start})") from None


def records_of(
    payload: bytes, body: Body, charset: str, records_path: str | None, limits: PayloadLimits | None = None
) -> tuple[list[Any], Any]:
    """(records, the whole JSON answer or None for CSV). An empty page is no records, not an error; an
    item that is not an object is left for the caller to reject on its own, not the whole page.
    `limits`: the hub's (`context.limits`); None reads within the defaults."""
    limits = limits or PayloadLimits()
    if body.media_type == CSV:
        if not payload.strip():
            return [], None
        try:
            return tabular_records(payload, CSV, charset, limits), None
        except PayloadError as exc:
            if exc.rule == "payload.no_records":  # a header line alone: the last page
                return [], None
            raise
    document = loads_strict_json(decode_text(payload, charset), limits)
    found = at_path(document, records_path) if isinstance(document, dict) else document
    # A path that finds nothing is a wrong declaration, not an empty page: reading nothing in silence
    # would let a changed interface go unnoticed.
    if not isinstance(found, list):
        where = f"at {records_path!r}" if records_path else "as the answer"
        raise PayloadError("sola.records_shape", f"expected a list of records {where}, found {type(found).__name__}")
    return found, document


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def encode(record: dict[str, Any], body: Body) -> tuple[bytes, str]:
    """(bytes, Content-Type) of one record in the declared media type and charset."""
    if body.media_type == CSV:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(record), lineterminator="\r\n")
        writer.writeheader()
        writer.writerow({key: _plain(value) for key, value in record.items()})
        text = out.getvalue()
    else:
        text = json.dumps(record, ensure_ascii=False, default=_plain)
    try:
        return text.encode(body.charset), f"{body.media_type}; charset={body.charset}"
    except UnicodeEncodeError as exc:
        raise PayloadError("payload.encoding", f"the record cannot be written in {body.charset}: {exc.reason}") from None
