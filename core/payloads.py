"""Reading native payloads: bytes in a declared or sniffed encoding, as JSON, CSV or XLSX rows.

Shared by plugins' parse hooks. Strict on purpose: a payload that could be read two ways is refused
with a clear message rather than guessed at, because a wrong guess corrupts Thai text silently.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
from decimal import Decimal
from typing import Any

MAX_JSON_DEPTH = 32
# Bounds what one request can make the hub hold in memory and how long its one transaction holds the
# SQLite writer (a small XLSX can unpack to millions of rows); a national resync posts many batches.
MAX_ROWS = 50_000
_ACCEPTED_CODECS = frozenset({"utf-8", "utf-8-sig", "tis-620", "cp874", "ascii"})
_ENCODING_ALIASES = {
    "tis-620": "tis-620",
    "tis620": "tis-620",
    "iso-8859-11": "tis-620",
    "windows-874": "cp874",
    "cp874": "cp874",
    "x-windows-874": "cp874",
}


class PayloadError(ValueError):
    """The payload as a whole cannot be read; answered with 400 and kept in the inbox as failed."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


def decode(payload: bytes, charset: str | None) -> str:
    """Decode with the declared charset; without one, UTF-8 (BOM allowed) and nothing else, since
    TIS-620 bytes are almost always valid in some other 8-bit encoding and would decode to garbage."""
    if not payload.strip():
        raise PayloadError("payload.empty", "the request body is empty")
    name = (charset or "utf-8").strip().strip('"').lower()
    name = _ENCODING_ALIASES.get(name, name)
    try:
        codec = codecs.lookup(name)
    except LookupError:
        codec = None
    # Thai agency systems send UTF-8 or TIS-620/CP874; other codecs (UTF-7, UTF-16 ...) only open ways
    # to smuggle unpaired surrogates or misread bytes, so they are refused by name.
    if codec is None or codec.name not in _ACCEPTED_CODECS:
        raise PayloadError(
            "payload.charset_unsupported",
            f"unsupported charset {charset!r}; send UTF-8, TIS-620 or windows-874",
        )
    if codec.name == "utf-8":
        name = "utf-8-sig"
    try:
        text = payload.decode(name)
    except UnicodeDecodeError as exc:
        hint = "" if charset else "; declare the encoding, e.g. 'Content-Type: text/csv; charset=tis-620'"
        raise PayloadError(
            "payload.encoding",
            f"the body is not valid {charset or 'UTF-8'} (byte {exc.start}){hint}",
        ) from None
    if "\x00" in text:
        raise PayloadError("payload.nul", "the body contains NUL characters")
    return text


def _reject_constant(name: str) -> Any:
    raise PayloadError("json.non_finite", f"JSON does not allow {name}")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PayloadError("json.duplicate_key", f"JSON object has the key {key!r} twice")
        result[key] = value
    return result


def _check_depth_and_text(value: Any, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise PayloadError("json.too_deep", f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_depth_and_text(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth_and_text(item, depth + 1)
    elif isinstance(value, str):
        _check_text(value)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError("json.lone_surrogate", "JSON text contains an unpaired surrogate escape") from None


def loads_strict_json(text: str) -> Any:
    """json.loads that refuses NaN/Infinity, duplicate keys, lone surrogates and deep nesting, and reads
    every number with a fraction as Decimal so that no amount ever passes through a float."""
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicate_keys,
            parse_float=Decimal,
        )
    except PayloadError:
        raise
    except RecursionError:
        raise PayloadError("json.too_deep", f"JSON nests deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise PayloadError("json.syntax", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise PayloadError("json.number_too_large", f"a JSON number cannot be read: {exc}"[:300]) from None
    _check_depth_and_text(value)
    return value


def json_records(text: str) -> list[dict[str, Any]]:
    """Records from a JSON array of objects, an object with a `records` array, or one object."""
    value = loads_strict_json(text)
    if isinstance(value, dict) and isinstance(value.get("records"), list):
        value = value["records"]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise PayloadError("json.shape", "expected a JSON object, an array of objects, or {\"records\": [...]}")
    if not value:
        raise PayloadError("payload.no_records", "the payload holds no records")
    if len(value) > MAX_ROWS:
        raise PayloadError("payload.too_many_rows", f"a payload may hold at most {MAX_ROWS:,} records; split it")
    return value


def csv_records(text: str) -> list[dict[str, Any]]:
    """Rows of a CSV with a header line; a row with more cells than the header is a payload error,
    since the columns can no longer be trusted."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect, strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise PayloadError("csv.syntax", f"broken CSV at line {reader.line_num}: {exc}") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise PayloadError("payload.no_records", "the CSV needs a header line and at least one row")
    if len(rows) > MAX_ROWS + 1:
        raise PayloadError("payload.too_many_rows", f"a CSV may hold at most {MAX_ROWS:,} rows; split it")
    header = [cell.strip() for cell in rows[0]]
    if len(set(header)) != len(header) or any(not name for name in header):
        raise PayloadError("csv.header", "the CSV header has empty or repeated column names")
    records = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) > len(header):
            raise PayloadError("csv.columns", f"line {number} has {len(row)} cells, the header has {len(header)}")
        records.append(dict(zip(header, row + [""] * (len(header) - len(row)))))
    return records


def xlsx_records(payload: bytes) -> list[dict[str, Any]]:
    """Rows of the first worksheet, the first non-empty row being the header."""
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(payload), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise PayloadError("xlsx.unreadable", f"not a readable XLSX workbook: {exc}") from None
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for row in sheet.iter_rows(values_only=True):
            cells = ["" if cell is None else _xlsx_cell(cell) for cell in row]
            if not any(str(cell).strip() for cell in cells):
                continue  # sheets formatted far below their data report thousands of empty rows
            rows.append(cells)
            if len(rows) > MAX_ROWS + 1:
                raise PayloadError("payload.too_many_rows", f"a workbook may hold at most {MAX_ROWS:,} rows")
    except PayloadError:
        raise
    except Exception as exc:  # a damaged sheet fails only while its rows are read
        raise PayloadError("xlsx.unreadable", f"the worksheet cannot be read: {type(exc).__name__}") from None
    finally:
        workbook.close()
    rows = [row for row in rows if any(str(cell).strip() for cell in row)]
    if len(rows) < 2:
        raise PayloadError("payload.no_records", "the worksheet needs a header row and at least one row")
    header = [str(cell).strip() for cell in rows[0]]
    width = max(i + 1 for i, name in enumerate(header) if name)
    header = header[:width]
    if len(set(header)) != len(header) or any(not name for name in header):
        raise PayloadError("xlsx.header", "the worksheet header has empty or repeated column names")
    return [dict(zip(header, (row + [""] * width)[:width])) for row in rows[1:]]


def _xlsx_cell(value: Any) -> Any:
    # Excel stores every number as a double; turn it into exact text at once so no float travels further.
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        return format(Decimal(repr(value)).normalize(), "f")
    return value


def tabular_records(payload: bytes, media_type: str, charset: str | None) -> list[dict[str, Any]]:
    """Dispatch on the media type: JSON, CSV (and plain text) or XLSX."""
    kind = (media_type or "").split(";")[0].strip().lower()
    if kind in ("application/json", "text/json") or kind.endswith("+json"):
        return json_records(decode(payload, charset))
    if kind in ("text/csv", "text/plain", "application/csv"):
        return csv_records(decode(payload, charset))
    if kind in (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/xlsx",
    ):
        if not payload:
            raise PayloadError("payload.empty", "the request body is empty")
        return xlsx_records(payload)
    raise PayloadError(
        "payload.media_type",
        f"unsupported media type {media_type!r}; use application/json, text/csv or an XLSX workbook",
    )
