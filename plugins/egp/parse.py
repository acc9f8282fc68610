"""Reading a pushed e-GP payload: the open-data CSV (UTF-8 or TIS-620) or the CGDCONTRACT JSON."""

from __future__ import annotations

from typing import Any

from plugins.egp import headers as h
from prasan import NativeRecord, PayloadError, PayloadLimits, fold_headers, require_columns, tabular_records


def csv_row(raw: dict[str, Any]) -> dict[str, Any]:
    return fold_headers(raw, h.canonical_header, "egp.header_repeated")


def _json_projects(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API answers {"result": [...]}; a producer may post that answer as it got it, or its projects."""
    if len(rows) == 1 and isinstance(rows[0].get("result"), list):
        projects = rows[0]["result"]
        if not projects or not all(isinstance(p, dict) for p in projects):
            raise PayloadError("json.shape", "`result` must be a non-empty list of project objects")
        return projects
    return rows


def parse(
    payload: bytes, media_type: str, charset: str | None, limits: PayloadLimits | None = None
) -> list[NativeRecord]:
    """`limits`: the hub's (`self.context.limits`); None reads within the defaults."""
    rows = tabular_records(payload, media_type, charset, limits or PayloadLimits())
    if "json" in media_type:
        return [NativeRecord(row=n, data=row) for n, row in enumerate(_json_projects(rows), start=1)]
    rows = [csv_row(row) for row in rows]
    require_columns(rows, h.REQUIRED, "egp.header_missing", "the e-GP table has no column")
    return [NativeRecord(row=n, data=row) for n, row in enumerate(rows, start=1)]
