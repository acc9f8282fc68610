"""Reading native payloads: bytes in a declared or sniffed encoding, as JSON, CSV or XLSX rows.

Shared by plugins' parse hooks. Strict on purpose: a payload that could be read two ways is refused
with a clear message rather than guessed at, because a wrong guess corrupts Thai text silently.

No upload can stall the hub: every reader checks `PayloadLimits` (core/settings.py, `limits:` in
hub.yaml) WHILE it reads, so a refusal costs a bounded amount of memory and time, never the size the
payload would expand to. Each refusal is a `PayloadError` whose `rule` names the limit and whose
`reason` states the limit and where it was hit; `status` is the HTTP answer (413 for a limit).

A cell longer than `max_cell_chars` refuses the whole payload, in every format alike, rather than
rejecting its row: the limit is Excel's own maximum per cell, so no spreadsheet export produces such a
cell; in a CSV it almost always means an unclosed quote that swallowed the rest of the file (every
later row would be wrong too), otherwise a hostile upload. Values that are merely too long for their
canonical field (a 2,000-character title) are per-record rejections of the canonical model instead.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import struct
import zipfile
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from core.settings import PayloadLimits

DEFAULT_LIMITS = PayloadLimits()
_ACCEPTED_CODECS = frozenset({"utf-8", "utf-8-sig", "tis-620", "cp874", "ascii"})
_ENCODING_ALIASES = {
    "tis-620": "tis-620",
    "tis620": "tis-620",
    "iso-8859-11": "tis-620",
    "windows-874": "cp874",
    "cp874": "cp874",
    "x-windows-874": "cp874",
}
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_MEDIA_TYPES = (XLSX_MEDIA_TYPE, "application/xlsx")


class PayloadError(ValueError):
    """The payload as a whole cannot be read; kept in the inbox as failed.

    `status` is the HTTP answer the hub should give: 413 when a size limit was hit, 415 for an
    unsupported media type, 400 (the default) when the payload is malformed."""

    def __init__(self, rule: str, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason
        self.status = status if status is not None else (415 if rule == "payload.media_type" else 400)


def _too_large(rule: str, where: str, limit_name: str, limit: int, unit: str, advice: str = "") -> PayloadError:
    """A size refusal: where it happened, the limit by its setting name and value, what to do."""
    tail = f"; {advice}" if advice else ""
    return PayloadError(rule, f"{where}: over the limit limits.{limit_name} = {limit:,} {unit}{tail}", status=413)


def _column_letter(index: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while index > 0:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def decode(payload: bytes, charset: str | None, limits: PayloadLimits = DEFAULT_LIMITS) -> str:
    """Decode with the declared charset; without one, UTF-8 (BOM allowed) and nothing else, since
    TIS-620 bytes are almost always valid in some other 8-bit encoding and would decode to garbage."""
    if not payload.strip():
        raise PayloadError("payload.empty", "the request body is empty")
    if len(payload) > limits.max_expanded_bytes:
        raise _too_large(
            "payload.expanded_too_large", f"the body is {len(payload):,} bytes of text",
            "max_expanded_bytes", limits.max_expanded_bytes, "bytes", "split it",
        )
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


# --- JSON ---------------------------------------------------------------------------------------------

# A JSON string (escapes included) or a bracket; scanning these finds the nesting depth without parsing.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_JSON_KEY_BEFORE = re.compile(r'"((?:[^"\\]|\\.){1,80})"\s*:\s*$', re.DOTALL)


def _reject_constant(name: str) -> Any:
    raise PayloadError("json.non_finite", f"JSON does not allow {name}")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PayloadError("json.duplicate_key", f"JSON object has the key {key!r} twice")
        result[key] = value
    return result


def _too_deep(limits: PayloadLimits, where: str = "") -> PayloadError:
    return PayloadError(
        "json.too_deep", f"JSON nests deeper than {limits.max_json_depth} levels (limits.max_json_depth){where}"
    )


def _key_before(text: str, position: int) -> str:
    found = _JSON_KEY_BEFORE.search(text[max(0, position - 200) : position])
    return f" (the value of {found.group(1)!r})" if found else ""


def _prescan_json(text: str, limits: PayloadLimits, *, records: bool) -> None:
    """Depth, and for payload records also string length and record count, found by scanning the text
    for strings and brackets: a 100,000-deep array or a 10-million-character string is refused before
    any object is built (and without recursion)."""
    stack: list[str] = []
    counts: list[int] = []
    max_depth = limits.max_json_depth
    max_chars = limits.max_cell_chars
    for match in _JSON_TOKEN.finditer(text):
        start = match.start()
        char = text[start]
        if char == '"':
            # The raw token is at least as long as the text it holds; only long ones are measured. Without
            # a backslash, the token is the text; with escapes, at most 6 raw characters make one, so only
            # a token short enough to hold at most max_chars is decoded: a 10-million-character string is
            # refused without a copy of it.
            raw = match.end() - start - 2
            if records and raw > max_chars:
                escaped = text.find("\\", start, match.end()) != -1
                if not escaped:
                    size = f"{raw:,}"
                elif raw > 6 * max_chars:
                    size = f"at least {-(-raw // 6):,}"
                else:
                    try:
                        length = len(json.loads(text[start : match.end()]))
                    except ValueError:
                        continue  # a broken escape: json.loads below names it
                    if length <= max_chars:
                        continue
                    size = f"{length:,}"
                raise _too_large(
                    "payload.cell_too_long",
                    f"a JSON string of {size} characters at character {start:,}{_key_before(text, start)}",
                    "max_cell_chars", max_chars, "characters",
                )
        elif char in "[{":
            if records and char == "{" and stack and stack[-1] == "[" and len(stack) <= 2:
                counts[-1] += 1
                if counts[-1] > limits.max_records:
                    raise _too_large(
                        "payload.too_many_rows", f"the JSON array holds more than {limits.max_records:,} records",
                        "max_records", limits.max_records, "records", "split it",
                    )
            stack.append(char)
            counts.append(0)
            if len(stack) > max_depth:
                raise _too_deep(limits, f", at character {start:,}")
        elif stack:
            stack.pop()
            counts.pop()
        else:
            return  # more closing than opening brackets: json.loads names the syntax error


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError("json.lone_surrogate", "JSON text contains an unpaired surrogate escape") from None


def _check_parsed(value: Any, limits: PayloadLimits, *, strings: bool) -> None:
    """Every string (keys too) is valid UTF-8 and, for payload records, within max_cell_chars; the depth
    is checked again, without recursion, in case the scan and the parser ever disagree."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            if depth >= limits.max_json_depth:
                raise _too_deep(limits)
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str):
                    pending.append((key, depth + 1))
                pending.append((child, depth + 1))
        elif isinstance(item, str):
            _check_text(item)
            if strings and len(item) > limits.max_cell_chars:
                raise _too_large(
                    "payload.cell_too_long", f"a JSON string of {len(item):,} characters ({item[:40]!r}...)",
                    "max_cell_chars", limits.max_cell_chars, "characters",
                )


def _parse_json(text: str, limits: PayloadLimits, *, records: bool) -> Any:
    if len(text) > limits.max_expanded_bytes:
        raise _too_large(
            "payload.expanded_too_large", f"the JSON text is {len(text):,} characters",
            "max_expanded_bytes", limits.max_expanded_bytes, "bytes",
        )
    _prescan_json(text, limits, records=records)
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicate_keys,
            parse_float=Decimal,
        )
    except PayloadError:
        raise
    except RecursionError:  # not reached after the scan; kept so that no input can make it a 500
        raise _too_deep(limits) from None
    except json.JSONDecodeError as exc:
        raise PayloadError("json.syntax", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise PayloadError("json.number_too_large", f"a JSON number cannot be read: {exc}"[:300]) from None
    _check_parsed(value, limits, strings=records)
    return value


def loads_strict_json(text: str, limits: PayloadLimits = DEFAULT_LIMITS) -> Any:
    """json.loads that refuses NaN/Infinity, duplicate keys, lone surrogates and nesting deeper than
    `limits.max_json_depth` (found before parsing), and reads every number with a fraction as Decimal
    so that no amount ever passes through a float. String length and record count are not limited
    here (admin bodies, answers of systems); `json_records` limits them for payloads."""
    return _parse_json(text, limits, records=False)


def json_records(text: str, limits: PayloadLimits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    """Records from a JSON array of objects, an object with a `records` array, or one object."""
    value = _parse_json(text, limits, records=True)
    if isinstance(value, dict) and isinstance(value.get("records"), list):
        value = value["records"]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise PayloadError("json.shape", "expected a JSON object, an array of objects, or {\"records\": [...]}")
    if not value:
        raise PayloadError("payload.no_records", "the payload holds no records")
    if len(value) > limits.max_records:
        raise _too_large(
            "payload.too_many_rows", f"the payload holds {len(value):,} records",
            "max_records", limits.max_records, "records", "split it",
        )
    for number, record in enumerate(value, start=1):
        if len(record) > limits.max_columns:
            raise _too_large(
                "payload.too_many_columns", f"record {number:,} has {len(record):,} keys",
                "max_columns", limits.max_columns, "columns",
            )
    return value


# --- CSV ----------------------------------------------------------------------------------------------


def _allow_csv_fields_of(chars: int) -> None:
    # The csv module's field limit is process-wide; it is only ever raised here (never lowered), and it
    # stops the reader itself from building a field much longer than max_cell_chars.
    if csv.field_size_limit() <= chars:
        csv.field_size_limit(chars + 1)


def csv_records(text: str, limits: PayloadLimits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    """Rows of a CSV with a header line; a row with more cells than the header is a payload error,
    since the columns can no longer be trusted. Read row by row: every row (blank ones too) counts
    against max_rows_scanned, and a cell over max_cell_chars refuses the payload (see the module doc)."""
    if len(text) > limits.max_expanded_bytes:
        raise _too_large(
            "payload.expanded_too_large", f"the CSV text is {len(text):,} characters",
            "max_expanded_bytes", limits.max_expanded_bytes, "bytes",
        )
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    _allow_csv_fields_of(limits.max_cell_chars)
    reader = csv.reader(io.StringIO(text), dialect, strict=True)
    header: list[str] | None = None
    records: list[dict[str, Any]] = []
    scanned = 0
    try:
        for row in reader:
            scanned += 1
            if scanned > limits.max_rows_scanned:
                raise _too_large(
                    "payload.too_many_rows_scanned",
                    f"line {reader.line_num:,}: more than {limits.max_rows_scanned:,} rows, blank rows included",
                    "max_rows_scanned", limits.max_rows_scanned, "rows", "remove blank lines or split the file",
                )
            if len(row) > limits.max_columns:
                raise _too_large(
                    "payload.too_many_columns", f"line {reader.line_num:,} has {len(row):,} cells",
                    "max_columns", limits.max_columns, "columns",
                )
            if row and max(map(len, row)) > limits.max_cell_chars:
                column = next(i for i, cell in enumerate(row) if len(cell) > limits.max_cell_chars)
                raise _cell_too_long(f"line {reader.line_num:,}", column + 1, header, len(row[column]), limits)
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                if len(set(header)) != len(header) or any(not name for name in header):
                    raise PayloadError("csv.header", "the CSV header has empty or repeated column names")
                continue
            if len(row) > len(header):
                raise PayloadError(
                    "csv.columns", f"line {reader.line_num} has {len(row)} cells, the header has {len(header)}"
                )
            if len(records) >= limits.max_records:
                raise _too_large(
                    "payload.too_many_rows", f"line {reader.line_num:,}: more than {limits.max_records:,} records",
                    "max_records", limits.max_records, "records", "split it",
                )
            records.append(dict(zip(header, row + [""] * (len(header) - len(row)))))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _cell_too_long(f"line {reader.line_num:,}", None, header, None, limits) from None
        raise PayloadError("csv.syntax", f"broken CSV at line {reader.line_num}: {exc}") from None
    if not records:
        raise PayloadError("payload.no_records", "the CSV needs a header line and at least one row")
    return records


def _cell_too_long(
    row: str, column: int | None, header: list[str] | None, length: int | None, limits: PayloadLimits
) -> PayloadError:
    where = row
    if column is not None:
        name = header[column - 1] if header and column <= len(header) else None
        where += f", column {column} ({_column_letter(column)}{f', {name!r}' if name else ''})"
    size = f"{length:,} characters" if length is not None else "longer"
    return _too_large(
        "payload.cell_too_long", f"{where}: a cell of {size}", "max_cell_chars", limits.max_cell_chars, "characters",
        "a cell this long usually means an unclosed quote or a broken export",
    )


# --- XLSX ---------------------------------------------------------------------------------------------

# The end-of-central-directory record: its entry count and directory size are read before zipfile builds
# an object per entry (a 32 MB body could declare hundreds of thousands of them).
_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD_SIGNATURE = b"PK\x05\x06"
# Worksheet and shared-strings parts hold the data: they may use the whole max_expanded_bytes. Other
# parts are parsed into whole trees and get max_xlsx_metadata_bytes each.
_DATA_PART = re.compile(r"(?i)(^|/)(worksheets/[^/]+\.xml|sharedStrings[^/]*\.xml)$")
_XML_PART = re.compile(r"(?i)\.(xml|rels|vml)$")
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
_SHARED_STRING_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")
_CELL_REF = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br\s*=\s*["\']([A-Z]{1,3})([0-9]{1,7})["\']')
# Excel's own maximum of columns; more cell elements in one row can only be a hostile file.
_EXCEL_MAX_COLUMNS = 16_384
# A character written in XML takes at most 10 bytes (`&#1114111;`): a stretch between two `<` longer than
# this many bytes per allowed character holds a text over max_cell_chars.
_MAX_BYTES_PER_CHAR = 10
_TAG_ALLOWANCE = 4096


class _ReadBudget:
    """Bytes inflated from the parts of one workbook, counted while openpyxl reads them."""

    def __init__(self, limits: PayloadLimits) -> None:
        self.limits = limits
        self.read_of: dict[str, int] = {}  # the furthest byte read of each part (a part read twice counts once)
        self.total = 0

    def charge(self, part: str, position: int, data_part: bool) -> None:
        previous = self.read_of.get(part, 0)
        if position <= previous:
            return
        self.read_of[part] = position
        self.total += position - previous
        if not data_part and position > self.limits.max_xlsx_metadata_bytes:
            raise _too_large(
                "payload.expanded_too_large", f"the part {part} inflates past {position:,} bytes",
                "max_xlsx_metadata_bytes", self.limits.max_xlsx_metadata_bytes, "bytes",
            )
        if self.total > self.limits.max_expanded_bytes:
            raise _too_large(
                "payload.expanded_too_large",
                f"the workbook inflates past {self.total:,} bytes (reading {part})",
                "max_expanded_bytes", self.limits.max_expanded_bytes, "bytes",
            )


class _MarkupWatch:
    """Watches the XML of a data part as it streams past: counts rows, cells per row and shared strings,
    and finds a text too long for a cell, so that openpyxl never builds more than the limits allow."""

    def __init__(self, part: str, limits: PayloadLimits, *, sheet: bool) -> None:
        self.part = part
        self.limits = limits
        self.sheet = sheet
        self.pending = b""  # the last bytes of a chunk, held back so that no tag is split between chunks
        self.rows = 0
        self.cells_in_row = 0
        self.shared_strings = 0
        self.run = 0  # bytes since the last "<"
        self.context = b""  # the bytes before the current run (to name the cell of a long text)
        self.max_run = limits.max_cell_chars * _MAX_BYTES_PER_CHAR + _TAG_ALLOWANCE

    def feed(self, data: bytes, final: bool = False) -> None:
        self._watch_runs(data)
        buffer = self.pending + data
        if final:
            self.pending = b""
        else:
            cut = max(0, len(buffer) - 32)
            buffer, self.pending = buffer[:cut], buffer[cut:]
        if self.sheet:
            self._count_rows_and_cells(buffer)
        else:
            self.shared_strings += len(_SHARED_STRING_TAG.findall(buffer))
            if self.shared_strings > self.limits.max_shared_strings:
                raise _too_large(
                    "payload.too_many_shared_strings",
                    f"{self.part} holds more than {self.limits.max_shared_strings:,} shared strings",
                    "max_shared_strings", self.limits.max_shared_strings, "strings",
                )

    def _count_rows_and_cells(self, buffer: bytes) -> None:
        pieces = _ROW_TAG.split(buffer)
        self._add_cells(pieces[0])
        for piece in pieces[1:]:
            self.rows += 1
            if self.rows > self.limits.max_rows_scanned:
                raise _too_large(
                    "payload.too_many_rows_scanned",
                    f"the worksheet has more than {self.limits.max_rows_scanned:,} rows, empty rows included",
                    "max_rows_scanned", self.limits.max_rows_scanned, "rows",
                    "delete the empty formatted rows below the data, or split the workbook",
                )
            self.cells_in_row = 0
            self._add_cells(piece)

    def _add_cells(self, piece: bytes) -> None:
        self.cells_in_row += len(_CELL_TAG.findall(piece))
        if self.cells_in_row > _EXCEL_MAX_COLUMNS:
            raise _too_large(
                "payload.too_many_columns",
                f"row {self.rows:,} of the worksheet has more than {_EXCEL_MAX_COLUMNS:,} cells (Excel's maximum)",
                "max_columns", self.limits.max_columns, "columns",
            )

    def _watch_runs(self, data: bytes) -> None:
        first = data.find(b"<")
        if first < 0:
            self.run += len(data)
            self._check_run(self.run)
            return
        self._check_run(self.run + first)
        if len(data) > self.max_run:
            self._check_run(max(map(len, data.split(b"<"))))
        last = data.rfind(b"<")
        self.context = (self.context + data[max(0, last - 512) : last])[-512:]
        self.run = len(data) - last - 1

    def _check_run(self, run: int) -> None:
        if run <= self.max_run:
            return
        where = f"a text in {self.part}"
        refs = _CELL_REF.findall(self.context) if self.sheet else []
        if refs:
            column, row = refs[-1]
            where = f"cell {column.decode()}{row.decode()} of the worksheet"
        raise _too_large(
            "payload.cell_too_long",
            f"{where} runs past {self.max_run:,} bytes of XML, more than any text within the limit",
            "max_cell_chars", self.limits.max_cell_chars, "characters",
        )


class _GuardedStream(io.RawIOBase):
    """A part of the ZIP as openpyxl reads it, inflated chunk by chunk against the budget."""

    def __init__(self, raw: Any, part: str, budget: _ReadBudget, limits: PayloadLimits) -> None:
        super().__init__()
        self._raw = raw
        self._part = part
        self._budget = budget
        self._data_part = bool(_DATA_PART.search(part))
        self._position = 0
        sheet = "worksheets/" in part.lower()
        self._watch = _MarkupWatch(part, limits, sheet=sheet) if self._data_part else None

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(64 * 1024):
                chunks.append(chunk)
            return b"".join(chunks)
        data = self._raw.read(min(size, 64 * 1024))
        self._position += len(data)
        self._budget.charge(self._part, self._position, self._data_part)
        if self._watch is not None:
            self._watch.feed(data, final=not data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _GuardedZip(zipfile.ZipFile):
    """The workbook's ZIP, handing openpyxl guarded streams instead of plain ones."""

    budget: _ReadBudget
    limits: PayloadLimits

    def open(self, name: Any, mode: str = "r", pwd: bytes | None = None, *, force_zip64: bool = False) -> Any:
        stream = super().open(name, mode, pwd, force_zip64=force_zip64)
        if mode != "r":
            return stream
        part = name.filename if isinstance(name, zipfile.ZipInfo) else str(name)
        return _GuardedStream(stream, part, self.budget, self.limits)


def _check_zip_directory(payload: bytes, limits: PayloadLimits) -> None:
    """Refuse a ZIP declaring more entries than a workbook ever has, before zipfile reads its directory."""
    tail = payload[-(_EOCD.size + 65_535) :]
    at = tail.rfind(_EOCD_SIGNATURE)
    if at < 0 or len(tail) - at < _EOCD.size:
        raise PayloadError("xlsx.unreadable", "not a readable XLSX workbook: it is not a ZIP file")
    fields = _EOCD.unpack(tail[at : at + _EOCD.size])
    entries, directory_size = fields[4], fields[5]
    # An entry takes at least 46 bytes of directory; 0xFFFF entries means ZIP64, which no workbook needs.
    if entries == 0xFFFF or max(entries, directory_size // 46) > limits.max_zip_entries:
        raise _too_large(
            "payload.too_many_parts", f"the XLSX declares {max(entries, directory_size // 46):,} or more files",
            "max_zip_entries", limits.max_zip_entries, "files",
        )


def _check_declared_sizes(archive: zipfile.ZipFile, limits: PayloadLimits) -> None:
    """Every XML part's declared size, before any of it is inflated. zipfile never inflates more than
    the declared size (it stops there, and the CRC check fails), so the declaration is a real bound;
    the budget checks what is actually read as well."""
    for info in archive.infolist():
        if not _XML_PART.search(info.filename):
            continue
        data_part = bool(_DATA_PART.search(info.filename))
        limit_name = "max_expanded_bytes" if data_part else "max_xlsx_metadata_bytes"
        limit = getattr(limits, limit_name)
        if info.file_size > limit:
            raise _too_large(
                "payload.expanded_too_large",
                f"the part {info.filename} expands to {info.file_size:,} bytes "
                f"({info.compress_size:,} bytes compressed)",
                limit_name, limit, "bytes",
            )


def _payload_error_in(exc: BaseException) -> PayloadError | None:
    """openpyxl wraps what its reading raises (ValueError 'Unable to read workbook'); find ours inside."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 20:
        if isinstance(current, PayloadError):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _open_workbook(payload: bytes, limits: PayloadLimits) -> Any:
    from openpyxl.reader.excel import ExcelReader

    _check_zip_directory(payload, limits)
    try:
        archive = _GuardedZip(io.BytesIO(payload))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise PayloadError("xlsx.unreadable", f"not a readable XLSX workbook: {exc}") from None
    archive.budget = _ReadBudget(limits)
    archive.limits = limits
    _check_declared_sizes(archive, limits)
    # openpyxl opens the file itself; the reader is built on the plain archive, then given the guarded one.
    reader = ExcelReader(io.BytesIO(payload), read_only=True, data_only=True, keep_links=False, keep_vba=False)
    reader.archive.close()
    reader.archive = archive
    reader.valid_files = archive.namelist()
    reader.read()
    return reader.wb


def xlsx_records(payload: bytes, limits: PayloadLimits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    """Rows of the first worksheet, the first non-empty row being the header.

    Read lazily (openpyxl read-only) through a guarded ZIP: the declared and the actually inflated size
    of every part, rows (empty ones included), cells per row, shared strings and the length of every
    text are checked while the XML streams in, so a bomb is refused after a bounded amount of work."""
    workbook = None
    try:
        workbook = _open_workbook(payload, limits)
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # a declared A1:XFD1048576 would pad every row to 16,384 cells
        header, records = _sheet_records(sheet, limits)
    except Exception as exc:  # a damaged sheet fails only while its rows are read
        found = _payload_error_in(exc)
        if found is not None:
            raise found from None
        if isinstance(exc, (zipfile.BadZipFile, KeyError, OSError, ValueError, IndexError)):
            raise PayloadError("xlsx.unreadable", f"not a readable XLSX workbook: {exc}"[:300]) from None
        raise PayloadError("xlsx.unreadable", f"the worksheet cannot be read: {type(exc).__name__}") from None
    finally:
        if workbook is not None:
            workbook.close()
    if header is None or not records:
        raise PayloadError("payload.no_records", "the worksheet needs a header row and at least one row")
    width = len(header)
    return [dict(zip(header, (row + [""] * width)[:width])) for row in records]


def _sheet_records(sheet: Any, limits: PayloadLimits) -> tuple[list[str] | None, list[list[Any]]]:
    header: list[str] | None = None
    records: list[list[Any]] = []
    for number, row in enumerate(sheet.iter_rows(min_row=1, min_col=1, values_only=True), start=1):
        if number > limits.max_rows_scanned:
            raise _too_large(
                "payload.too_many_rows_scanned",
                f"row {number:,} of the worksheet: more than {limits.max_rows_scanned:,} rows, empty rows included",
                "max_rows_scanned", limits.max_rows_scanned, "rows",
                "delete the empty formatted rows below the data, or split the workbook",
            )
        last = len(row)
        while last and (row[last - 1] is None or (isinstance(row[last - 1], str) and not row[last - 1].strip())):
            last -= 1
        if not last:
            continue  # empty, counted above
        if last > limits.max_columns:
            raise _too_large(
                "payload.too_many_columns", f"row {number:,} has a value in column {_column_letter(last)} ({last:,})",
                "max_columns", limits.max_columns, "columns",
            )
        cells = ["" if cell is None else _xlsx_cell(cell) for cell in row[:last]]
        for column, cell in enumerate(cells, start=1):
            if isinstance(cell, str) and len(cell) > limits.max_cell_chars:
                raise _too_large(
                    "payload.cell_too_long",
                    f"cell {_column_letter(column)}{number} (row {number:,}, column {column}): {len(cell):,} characters",
                    "max_cell_chars", limits.max_cell_chars, "characters",
                )
        if header is None:
            header = [str(cell).strip() for cell in cells]
            if len(set(header)) != len(header) or any(not name for name in header):
                raise PayloadError("xlsx.header", "the worksheet header has empty or repeated column names")
            continue
        if len(records) >= limits.max_records:
            raise _too_large(
                "payload.too_many_rows", f"row {number:,} of the worksheet: more than {limits.max_records:,} records",
                "max_records", limits.max_records, "records", "split the workbook",
            )
        records.append(cells)
    return header, records


def _xlsx_cell(value: Any) -> Any:
    # Excel stores every number as a double; turn it into exact text at once so no float travels further.
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        return format(Decimal(repr(value)).normalize(), "f")
    return value


def fold_headers(
    raw: dict[str, Any], canonical_header: Callable[[str], str], rule: str, *, fields: str = "columns"
) -> dict[str, Any]:
    """`raw` keyed by `canonical_header(key)`. Of two keys that fold to one name the one with a value is
    kept; both with a value raise `PayloadError(rule)`, since which one is right cannot be guessed."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = canonical_header(key)
        if name in out and out[name] not in (None, "") and value not in (None, ""):
            raise PayloadError(rule, f"two {fields} both mean {name!r}")
        if name not in out or out[name] in (None, ""):
            out[name] = value
    return out


def require_columns(rows: list[dict[str, Any]], required: Sequence[str], rule: str, lacking: str) -> set[str]:
    """The columns the rows have between them; `PayloadError(rule)` when one of `required` is not among
    them, saying `lacking` ("the X table has no column"), the missing names and the names found."""
    present: set[str] = set().union(*(row.keys() for row in rows))
    missing = [name for name in required if name not in present]
    if missing:
        raise PayloadError(rule, f"{lacking} {', '.join(missing)} (found: {', '.join(sorted(present))})")
    return present


def tabular_records(
    payload: bytes, media_type: str, charset: str | None, limits: PayloadLimits = DEFAULT_LIMITS
) -> list[dict[str, Any]]:
    """Dispatch on the media type: JSON, CSV (and plain text) or XLSX, each read within `limits`."""
    kind = (media_type or "").split(";")[0].strip().lower()
    if kind in ("application/json", "text/json") or kind.endswith("+json"):
        return json_records(decode(payload, charset, limits), limits)
    if kind in ("text/csv", "text/plain", "application/csv"):
        return csv_records(decode(payload, charset, limits), limits)
    if kind in XLSX_MEDIA_TYPES:
        if not payload:
            raise PayloadError("payload.empty", "the request body is empty")
        return xlsx_records(payload, limits)
    raise PayloadError(
        "payload.media_type",
        f"unsupported media type {media_type!r}; use application/json, text/csv or an XLSX workbook",
    )
