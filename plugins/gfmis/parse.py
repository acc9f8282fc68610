"""Reading pushed disbursement lines (CSV in UTF-8 or TIS-620, JSON) and polled ones into native
records with the Thai field names the mapping expects."""

from __future__ import annotations

from typing import Any

from plugins.gfmis import headers as h
from prasan import (
    NativeRecord, PayloadError, PayloadLimits, Rejection, fold_headers, require_columns, tabular_records
)


def canonical_record(raw: dict[str, Any]) -> dict[str, Any]:
    # BELNR and เลขที่เอกสาร both filled: which one is right cannot be guessed.
    return fold_headers(raw, h.canonical_header, "gfmis.header_repeated", fields="fields")


def polled_record(row: int, raw: Any) -> NativeRecord:
    """A record of a poll page; one that cannot be folded is rejected alone, so that the pull (and its
    cursor) moves past it."""
    if not isinstance(raw, dict):
        problem = Rejection("gfmis.not_a_record", "a page item must be an object of fields", str(raw)[:200], None)
        return NativeRecord(row=row, data={}, problems=(problem,))
    try:
        return NativeRecord(row=row, data=canonical_record(raw))
    except PayloadError as exc:
        return NativeRecord(row=row, data=dict(raw), problems=(Rejection(exc.rule, exc.reason, None, None),))


def _is_total_row(record: dict[str, Any]) -> bool:
    """Report exports end with a รวม line; it is a sum, not a document."""
    if str(record.get(h.DOCUMENT) or "").strip():
        return False
    return any(isinstance(value, str) and value.strip().startswith("รวม") for value in record.values())


def parse_lines(
    payload: bytes, media_type: str, charset: str | None, limits: PayloadLimits | None = None
) -> list[NativeRecord]:
    """`limits`: the hub's (`self.context.limits`); None reads within the defaults."""
    rows = [canonical_record(row) for row in tabular_records(payload, media_type, charset, limits or PayloadLimits())]
    require_columns(rows, h.REQUIRED, "gfmis.header_missing", "disbursement lines need the fields")
    return [NativeRecord(row=n, data=row) for n, row in enumerate(rows, start=1) if not _is_total_row(row)]
