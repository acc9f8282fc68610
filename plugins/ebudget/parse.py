"""Reading a pushed e-budgeting payload: bbgfproject rows as a JSON array, an API page, or JSON lines.

Three shapes arrive: what an agency exports (a JSON array of rows), what the open-data API answers
(`{"result": [...]}`, where some API versions hand `result` over as JSON text [I]) and the line-per-row
dumps collectors keep (application/x-ndjson, application/jsonl). In JSON lines a broken line is that
row's rejection; the rows around it are still read.
"""

from __future__ import annotations

from typing import Any

from prasan import NativeRecord, PayloadError, PayloadLimits, Rejection, loads_strict_json

JSON = "application/json"
JSON_LINES = ("application/x-ndjson", "application/jsonl")
FORMATS = (JSON, *JSON_LINES)
# The hub's bound on one request (it holds the rows in memory and in one transaction).
MAX_ROWS = 50_000
_CODECS = {
    "utf-8": "utf-8-sig", "utf8": "utf-8-sig", "ascii": "ascii", "us-ascii": "ascii",
    "tis-620": "tis-620", "tis620": "tis-620", "iso-8859-11": "tis-620",
    "windows-874": "cp874", "cp874": "cp874", "x-windows-874": "cp874",
}  # fmt: skip


def decode(payload: bytes, charset: str | None) -> str:
    """The body as text in its declared charset; without one UTF-8, since TIS-620 bytes decode as
    something in most 8-bit charsets and a wrong guess corrupts Thai silently."""
    if not payload.strip():
        raise PayloadError("payload.empty", "the request body is empty")
    codec = _CODECS.get((charset or "utf-8").strip().strip('"').lower())
    if codec is None:
        reason = f"unsupported charset {charset!r}; send UTF-8 or TIS-620"
        raise PayloadError("payload.charset_unsupported", reason)
    try:
        return payload.decode(codec)
    except UnicodeDecodeError as exc:
        hint = "" if charset else "; declare it, e.g. 'Content-Type: application/json; charset=tis-620'"
        reason = f"the body is not valid {charset or 'UTF-8'} (byte {exc.start}){hint}"
        raise PayloadError("payload.encoding", reason) from None


def rows_of(value: Any, limits: PayloadLimits | None = None) -> list[Any]:
    """The rows of a JSON document: an array, an API page `{"result": ...}`, or one row."""
    if isinstance(value, dict) and "result" in value:
        value = value["result"]
        if isinstance(value, str):
            value = loads_strict_json(value, limits or PayloadLimits()) if value.strip() else []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise PayloadError("json.shape", 'expected an array of rows, {"result": [...]} or one row')
    return value


def record_of(row: int, value: Any) -> NativeRecord:
    if isinstance(value, dict):
        return NativeRecord(row=row, data=value)
    problem = Rejection("ebudget.not_an_object", "a bbgfproject row is a JSON object", value, None)
    return NativeRecord(row=row, data={}, problems=(problem,))


def _line_record(row: int, line: str, limits: PayloadLimits) -> NativeRecord:
    try:
        return record_of(row, loads_strict_json(line, limits))
    except PayloadError as exc:
        return NativeRecord(row=row, data={}, problems=(Rejection(exc.rule, exc.reason, line[:200], None),))


def parse(
    payload: bytes, media_type: str, charset: str | None, limits: PayloadLimits | None = None
) -> list[NativeRecord]:
    """`limits`: the hub's (`self.context.limits`); None reads within the defaults."""
    limits = limits or PayloadLimits()
    text = decode(payload, charset)
    if media_type in JSON_LINES:
        lines = [line for line in text.splitlines() if line.strip()]
        records = [_line_record(n, line, limits) for n, line in enumerate(lines, 1)]
    else:
        records = [record_of(n, value) for n, value in enumerate(rows_of(loads_strict_json(text, limits), limits), 1)]
    if not records:
        raise PayloadError("payload.no_records", "the payload holds no rows")
    most = min(MAX_ROWS, limits.max_records)  # the operator's limit may be tighter than the plugin's own
    if len(records) > most:
        raise PayloadError("payload.too_many_rows", f"a payload may hold at most {most:,} rows; split it", status=413)
    return records
