"""Reading a ผ.02 project table (CSV, XLSX or JSON) into native records with canonical headers."""

from __future__ import annotations

from typing import Any

from plugins.eplan import headers as h
from prasan import (
    NativeRecord, PayloadError, PayloadLimits, Rejection, fold_headers, require_columns, tabular_records
)


def _is_total_row(record: dict[str, Any]) -> bool:
    """ผ.02 prints a subtotal per group and a grand total; they are sums, not projects."""
    title = str(record.get(h.TITLE) or "").strip()
    first = str(record.get(h.SEQ) or "").strip()
    return (not title and first.startswith("รวม")) or title.startswith("รวม")


def canonical_native_record(record: NativeRecord) -> NativeRecord:
    """A polled record with its headers folded; a record that cannot be folded is that record's
    rejection, not a failure of the whole pull (which would stop its cursor for good)."""
    try:
        return NativeRecord(record.row, canonical_record(record.data), record.problems)
    except PayloadError as exc:
        problem = Rejection(exc.rule, exc.reason, None, None)
        return NativeRecord(record.row, dict(record.data), (*record.problems, problem))


def canonical_record(raw: dict[str, Any]) -> dict[str, Any]:
    return fold_headers(raw, h.canonical_header, "eplan.header_repeated")


def parse(
    payload: bytes, media_type: str, charset: str | None, limits: PayloadLimits | None = None
) -> list[NativeRecord]:
    """`limits`: the hub's (`self.context.limits`); None reads within the defaults."""
    rows = [canonical_record(row) for row in tabular_records(payload, media_type, charset, limits or PayloadLimits())]
    present = require_columns(rows, h.REQUIRED, "eplan.header_missing", "the ผ.02 table has no column")
    if not any(h.budget_year_of(name) for name in present):
        raise PayloadError("eplan.header_missing", "the ผ.02 table has no column such as 'งบประมาณ 2566'")
    records = []
    for number, row in enumerate(rows, start=1):
        if _is_total_row(row):
            continue
        problems: tuple[Rejection, ...] = ()
        if not str(row.get(h.TITLE) or "").strip():
            problems = (Rejection("eplan.title_missing", "a project needs a name", row.get(h.TITLE), h.TITLE),)
        records.append(NativeRecord(row=number, data=row, problems=problems))
    return records
