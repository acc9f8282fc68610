"""Importing a file of existing records (`prasan import SYSTEM FILE`): CSV, XLSX or JSON lines of any
size, through the same path as the inbound endpoint, in bounded memory.

Why chunks re-encoded and handed to the system's own `parse`: a plugin's `parse` takes a whole payload
as bytes, and each plugin folds headers, skips total lines, copies report titles into rows and rejects
unreadable rows in its own way (`plugins/eplan/parse.py`, `plugins/gfmis/nfma46.py`, ...). Rebuilding
NativeRecords here would mean a second copy of every one of those rules, drifting from the first. So the
file is read a chunk of rows at a time (the csv module over a decoded text stream, openpyxl read-only
`iter_rows`, JSON lines one line at a time) and each chunk is written back as a small payload of the
same kind: the file's preamble (the CSV header; in a worksheet every row up to the header, e.g. the
NFMA46 title lines) followed by the chunk's rows, a JSON lines chunk as JSON lines (or as a JSON array
of the very same line texts for a system that takes JSON but not JSON lines). The system's own `parse`
reads that payload exactly as it would read a push of those rows, and `Ingestor.ingest_records` maps,
validates, stores and routes it: one inbox message per chunk, kept with its payload for replay.

Row numbers: a plugin numbers the data rows of a payload from 1 (blank rows skipped, as the readers
here skip them), so record `row` n of a chunk is the chunk's n-th row; that is how every rejection is
tied back to the file's ORIGINAL row, which goes to the rejects file in the input's own format with a
`reason` column (field, value, rule). A trailing `reason` column (a `"reason"` key written last on a
JSON line) is the importer's own and is dropped when such a file is imported again after correction.

A chunk the system cannot read at all (PayloadError, e.g. one row with more cells than the header, a
broken JSON line in an array) is split in halves until the unreadable rows are alone; each is then a
rejected row with the payload's rule, and its one-row payload is kept in the inbox as failed. When the
first rows of the file cannot be read even alone with the same rule, the file as a whole is unreadable
(wrong header, wrong format) and the import stops before storing anything.

Memory is bounded by the chunk (rows and characters) plus what the hub holds anyway: nothing grows with
the file but counters. Reading, encoding and parsing run in a worker thread, never on the event loop,
and the next chunk is prepared while the current one is being stored.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import dataclasses
import inspect
import io
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from canonical_model import ENTITY_TYPES
from canonical_model.rejection import Rejection
from core.contract import AgencySystem
from core.ingest import Ingestor
from core.payloads import XLSX_MEDIA_TYPE, XLSX_MEDIA_TYPES, PayloadError
from core.plugin_types import MappedRecord, NativeRecord
from core.scope import ProducerScope, ScopeViolation
from core.settings import PayloadLimits
from core.store.records import InboundMessage, RowRejection

CHUNK_ROWS = 1_000
# One chunk is one payload and one store transaction; the hub's own bound on a payload is 50,000 records.
MAX_CHUNK_ROWS = 10_000
# A chunk also closes at this many characters, so wide rows cannot make one chunk large.
MAX_CHUNK_CHARS = 4_000_000
# A JSON line longer than this is rejected unread (and skipped in bounded reads), not held in memory.
MAX_LINE_CHARS = 1_000_000
# Rows looked at for the header of a worksheet (report title lines above it, as NFMA46 has).
MAX_PREAMBLE_ROWS = 20
REASON_COLUMN = "reason"
NO_RECORDS = "payload.no_records"
# A file whose first rows all fail alone with the same rule is unreadable as a whole.
PROBE_ROWS = 3

CSV = "csv"
XLSX = "xlsx"
JSONL = "jsonl"
FORMATS = (CSV, XLSX, JSONL)
_SUFFIXES = {".csv": CSV, ".txt": CSV, ".tsv": CSV, ".xlsx": XLSX, ".jsonl": JSONL, ".ndjson": JSONL}
JSON_LINES_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
_CODECS = {
    "utf-8": "utf-8-sig", "utf8": "utf-8-sig", "utf-8-sig": "utf-8-sig", "ascii": "ascii",
    "tis-620": "tis-620", "tis620": "tis-620", "iso-8859-11": "tis-620",
    "cp874": "cp874", "windows-874": "cp874", "x-windows-874": "cp874",
}  # fmt: skip
# `, "reason": "..."}` at the end of a JSON line: what `_JsonLinesRejects` appends.
_REASON_TAIL = re.compile(r',?\s*"reason"\s*:\s*"(?:[^"\\]|\\.)*"\s*}\s*$')


class ImportError_(Exception):
    """The file cannot be imported at all (format, charset, header); nothing of it was stored, or, when
    raised mid-file (an undecodable byte), everything before it was."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"{rule}: {reason}")
        self.rule = rule
        self.reason = reason


@dataclass
class Row:
    """One non-blank data row of the file: its position among data rows, where it is in the file (line or
    worksheet row, for people), and its cells (a JSON line: its text)."""

    number: int
    where: int
    cells: Any


@dataclass
class ImportSummary:
    """Rows read = accepted + rejected + skipped (total lines, rows of another entity type)."""

    rows_read: int = 0
    accepted: int = 0
    changed: int = 0
    rejected: int = 0
    skipped: int = 0
    faults: int = 0  # among `rejected`: the plugin failed on the row (kept; replay once fixed)
    entities: int = 0
    messages: int = 0
    seconds: float = 0.0
    bytes_read: int = 0
    total_bytes: int = 0
    rejects_file: Path | None = None
    first_rejects: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["rejects_file"] = str(self.rejects_file) if self.rejects_file else None
        return out


Progress = Callable[[ImportSummary], None]


def format_of(path: Path, given: str | None = None) -> str:
    if given:
        if given not in FORMATS:
            raise ImportError_("import.format", f"unknown format {given[:32]!r}; one of {', '.join(FORMATS)}")
        return given
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        hint = "; a JSON array is not streamed: write one object per line (JSON lines)" if path.suffix == ".json" else ""
        raise ImportError_(
            "import.format", f"cannot tell the format of {path.name!r} (.csv, .xlsx, .jsonl, .ndjson; or --format){hint}"
        )
    return kind


_MEDIA_TYPES = {
    "text/csv": CSV, "text/plain": CSV, "text/tab-separated-values": CSV,
    **{media_type: XLSX for media_type in XLSX_MEDIA_TYPES}, **{media_type: JSONL for media_type in JSON_LINES_TYPES},
}  # fmt: skip


def format_of_media_type(media_type: str, given: str | None = None) -> str:
    """The format of an uploaded file: as given, else by its Content-Type."""
    if given:
        return format_of(Path(), given)
    kind = _MEDIA_TYPES.get(media_type.strip().lower())
    if kind is None:
        raise ImportError_(
            "import.format",
            f"cannot tell the format of a {media_type[:80]!r} upload: send text/csv, {XLSX_MEDIA_TYPE} or "
            f"{JSON_LINES_TYPES[0]}, or name it (?format=csv, xlsx or jsonl)",
        )
    return kind


def codec_of(charset: str | None) -> str:
    codec = _CODECS.get((charset or "utf-8").strip().lower())
    if codec is None:
        raise ImportError_("payload.charset_unsupported", f"unsupported charset {charset!r}; utf-8, tis-620 or cp874")
    return codec


def default_rejects_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejects{path.suffix}")


# --- sources: the file read a chunk at a time, and each chunk written back as a payload ------------------


class Source(Protocol):
    media_type: str
    charset: str | None

    def chunks(self, rows: int, chars: int) -> Iterator[list[Row]]: ...
    def encode(self, rows: list[Row]) -> bytes: ...
    def rejects_writer(self, path: Path) -> RejectsWriter: ...
    def position(self) -> int: ...
    def close(self) -> None: ...


class RejectsWriter(Protocol):
    def write(self, row: Row, reason: str) -> None: ...
    def close(self) -> None: ...


def _media_type(plugin: AgencySystem, wanted: tuple[str, ...], what: str) -> str:
    for media_type in plugin.formats:
        if media_type.split(";")[0].strip().lower() in wanted:
            return media_type
    raise ImportError_(
        "payload.media_type", f"{plugin.name} does not take {what} (it takes {', '.join(plugin.formats) or 'nothing'})"
    )


def _chunked(
    found: Iterable[tuple[Any, list[Any]]], reason_at: int | None, rows: int, chars: int
) -> Iterator[list[Row]]:
    """Rows numbered from 1, without the `reason` column of a rejects file, cut as `_cut` cuts them: the way
    both tabular readers cut a file."""

    def numbered() -> Iterator[Row]:
        for number, (where, cells) in enumerate(found, start=1):
            if reason_at is not None and len(cells) > reason_at:
                cells = cells[:reason_at] + cells[reason_at + 1 :]
            yield Row(number, where, cells)

    return _cut(numbered(), _size, rows, chars)


def _cut(found: Iterable[Row], size_of: Callable[[Any], int], rows: int, chars: int) -> Iterator[list[Row]]:
    """Chunks of at most `rows` rows or about `chars` characters (whichever comes first)."""
    chunk: list[Row] = []
    size = 0
    for row in found:
        chunk.append(row)
        size += size_of(row.cells)
        if len(chunk) >= rows or size >= chars:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _size(cells: list[Any]) -> int:
    return sum(len(str(cell)) for cell in cells) + len(cells)


class CsvSource:
    """The csv module over the decoded text; chunks written back as UTF-8 CSV under the same header."""

    def __init__(self, path: Path, charset: str | None, plugin: AgencySystem, limits: PayloadLimits) -> None:
        self.media_type = _media_type(plugin, ("text/csv", "application/csv", "text/plain"), "CSV")
        self.charset = "utf-8"
        self.codec = codec_of(charset)
        self.limits = limits
        self.binary = path.open("rb")
        self.text = io.TextIOWrapper(self.binary, encoding=self.codec, newline="")
        try:
            sample = self.text.read(4096)
        except UnicodeDecodeError as exc:
            raise _not_decodable(charset, exc) from None
        # The delimiter as the hub sniffs it for a push; quoting as RFC 4180 has it (the sniffer reports
        # doublequote False whenever its sample has no "" and would then misread a later one).
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
        self.delimiter = delimiter
        self.text.seek(0)
        # The csv module's field limit is process-wide; raised (never lowered) to the hub's cell limit.
        if csv.field_size_limit() <= limits.max_cell_chars:
            csv.field_size_limit(limits.max_cell_chars + 1)
        self.reader = csv.reader(self.text, csv.excel, delimiter=delimiter)
        self.header: list[str] = []
        self.reason_at: int | None = None

    def position(self) -> int:
        return self.binary.tell()

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        try:
            for cells in self.reader:
                if any(cell.strip() for cell in cells):
                    yield self.reader.line_num, cells
        except UnicodeDecodeError as exc:
            raise _not_decodable(self.codec, exc, f"after line {self.reader.line_num:,}") from None
        except csv.Error as exc:
            raise ImportError_(
                "csv.syntax", f"broken CSV after line {self.reader.line_num:,}: {exc} (an unclosed quote?)"
            ) from None

    def chunks(self, rows: int, chars: int) -> Iterator[list[Row]]:
        found = self._rows()
        first = next(found, None)
        if first is None:
            raise ImportError_("payload.no_records", "the file has no header line")
        self.header = list(first[1])
        if self.header and self.header[-1].strip() == REASON_COLUMN:
            self.reason_at = len(self.header) - 1
            self.header = self.header[:-1]
        yield from _chunked(found, self.reason_at, rows, chars)

    def encode(self, rows: list[Row]) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(row.cells for row in rows)
        return buffer.getvalue().encode("utf-8")

    def rejects_writer(self, path: Path) -> RejectsWriter:
        return _CsvRejects(path, self.codec, self.delimiter, self.header)

    def close(self) -> None:
        self.text.close()


class _CsvRejects:
    def __init__(self, path: Path, codec: str, delimiter: str, header: list[str]) -> None:
        # The input's charset, so the file opens as the original did; a character of a reason that the
        # charset lacks becomes "?" (cells came from that charset and always fit).
        self.file = path.open("w", encoding=codec, errors="replace", newline="")
        self.width = len(header)
        self.writer = csv.writer(self.file, csv.excel, delimiter=delimiter)
        self.writer.writerow([*header, REASON_COLUMN])

    def write(self, row: Row, reason: str) -> None:
        cells = list(row.cells)[: self.width]
        self.writer.writerow([*cells, *([""] * (self.width - len(cells))), reason])

    def close(self) -> None:
        self.file.close()


class XlsxSource:
    """openpyxl read-only rows; chunks written back as small workbooks under the same preamble."""

    def __init__(self, path: Path, plugin: AgencySystem, limits: PayloadLimits) -> None:
        from openpyxl import load_workbook

        self.media_type = _media_type(plugin, XLSX_MEDIA_TYPES, "XLSX workbooks")
        self.charset = None
        self.limits = limits
        self.size = path.stat().st_size
        self.read_rows = 0
        try:
            self.workbook = load_workbook(path, read_only=True, data_only=True, keep_links=False)
        except Exception as exc:
            raise ImportError_("xlsx.unreadable", f"not a readable XLSX workbook: {exc}"[:300]) from None
        self.sheet = self.workbook.worksheets[0]
        self.declared_rows = self.sheet.max_row or 0
        self.sheet.reset_dimensions()  # a declared A1:XFD1048576 would pad every row to 16,384 cells
        self.preamble: list[list[Any]] = []
        self.reason_at: int | None = None

    def position(self) -> int:
        # Bytes of a workbook are not read in order; the share of its declared rows stands in for them.
        if not self.declared_rows:
            return 0
        return min(self.size, self.size * self.read_rows // self.declared_rows)

    def _rows(self) -> Iterator[tuple[int, list[Any]]]:
        width = self.limits.max_columns + 1  # one more, so that the plugin sees a row too wide and says so
        for where, values in enumerate(self.sheet.iter_rows(values_only=True, max_col=width), start=1):
            self.read_rows = where
            cells = list(values)
            while cells and (cells[-1] is None or (isinstance(cells[-1], str) and not cells[-1].strip())):
                cells.pop()
            if cells:
                yield where, cells

    def chunks(self, rows: int, chars: int) -> Iterator[list[Row]]:
        found = self._rows()
        # The header is the first row with two or more values; title lines above it (a report's agency
        # and year) belong to every chunk, as they did to the file.
        for _ in range(MAX_PREAMBLE_ROWS):
            first = next(found, None)
            if first is None:
                break
            self.preamble.append(first[1])
            if sum(1 for cell in first[1] if cell not in (None, "")) >= 2:
                break
        if not self.preamble:
            raise ImportError_("payload.no_records", "the worksheet is empty")
        header = self.preamble[-1]
        if isinstance(header[-1], str) and header[-1].strip() == REASON_COLUMN:
            self.reason_at = len(header) - 1
            self.preamble[-1] = header[:-1]
        yield from _chunked(found, self.reason_at, rows, chars)

    def encode(self, rows: list[Row]) -> bytes:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        for cells in self.preamble:
            sheet.append(cells)
        for row in rows:
            sheet.append(row.cells)
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()

    def rejects_writer(self, path: Path) -> RejectsWriter:
        return _XlsxRejects(path, self.preamble)

    def close(self) -> None:
        self.workbook.close()


class _XlsxRejects:
    def __init__(self, path: Path, preamble: list[list[Any]]) -> None:
        from openpyxl import Workbook

        self.path = path
        self.book = Workbook(write_only=True)  # rows go to a temporary file as they come, not to memory
        self.sheet = self.book.create_sheet()
        for cells in preamble[:-1]:
            self.sheet.append(cells)
        self.width = len(preamble[-1])
        self.sheet.append([*preamble[-1], REASON_COLUMN])

    def write(self, row: Row, reason: str) -> None:
        cells = list(row.cells)[: self.width]
        self.sheet.append([*cells, *([None] * (self.width - len(cells))), reason])

    def close(self) -> None:
        self.book.save(self.path)


class JsonLinesSource:
    """One JSON text per line; chunks written back as JSON lines, or as a JSON array of the same texts."""

    def __init__(self, path: Path, charset: str | None, plugin: AgencySystem) -> None:
        lower = {m.split(";")[0].strip().lower() for m in plugin.formats}
        if lower & set(JSON_LINES_TYPES):
            self.media_type = _media_type(plugin, JSON_LINES_TYPES, "JSON lines")
            self.as_array = False
        else:
            self.media_type = _media_type(plugin, ("application/json",), "JSON")
            self.as_array = True
        self.charset = "utf-8"
        self.codec = codec_of(charset)
        self.binary = path.open("rb")
        self.text = io.TextIOWrapper(self.binary, encoding=self.codec, newline=None)

    def position(self) -> int:
        return self.binary.tell()

    def _lines(self) -> Iterator[tuple[int, str]]:
        where = 0
        while True:
            try:
                line = self.text.readline(MAX_LINE_CHARS + 1)
            except UnicodeDecodeError as exc:
                raise _not_decodable(self.codec, exc, f"after line {where:,}") from None
            if not line:
                return
            where += 1
            if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
                # Too long to hold: the rest of it is skipped in bounded reads, the row is rejected.
                while (more := self.text.readline(MAX_LINE_CHARS)) and not more.endswith("\n"):
                    pass
                yield where, _TooLong(line[:200])
                continue
            if line.strip():
                yield where, line.rstrip("\r\n")

    def chunks(self, rows: int, chars: int) -> Iterator[list[Row]]:
        def numbered() -> Iterator[Row]:
            for number, (where, line) in enumerate(self._lines(), start=1):
                if not isinstance(line, _TooLong) and line.rstrip().endswith("}") and '"reason"' in line:
                    line = _without_reason(line)
                yield Row(number, where, line)

        return _cut(numbered(), len, rows, chars)

    def encode(self, rows: list[Row]) -> bytes:
        # A line too long to read is sent as `null`: the plugin sees a row (numbering stays aligned) that
        # is not an object, and the importer answers it with its own rule below.
        texts = ["null" if isinstance(row.cells, _TooLong) else row.cells for row in rows]
        text = "[" + ",\n".join(texts) + "]" if self.as_array else "\n".join(texts)
        return text.encode("utf-8")

    def rejects_writer(self, path: Path) -> RejectsWriter:
        return _JsonLinesRejects(path, self.codec)

    def close(self) -> None:
        self.text.close()


class _TooLong(str):
    """The first characters of a JSON line over MAX_LINE_CHARS."""


def _without_reason(line: str) -> str:
    """The line without the `"reason"` this importer appended to a rejected object (see the module doc)."""
    found = _REASON_TAIL.search(line)
    if found is None:
        return line
    head = line[: found.start()].rstrip()
    return head + "}" if head.endswith("{") or not head.endswith(",") else head[:-1] + "}"


class _JsonLinesRejects:
    def __init__(self, path: Path, codec: str) -> None:
        # No byte-order mark: JSON lines readers do not expect one.
        self.file = path.open("w", encoding="utf-8" if codec == "utf-8-sig" else codec, errors="replace", newline="\n")

    def write(self, row: Row, reason: str) -> None:
        line = str(row.cells)
        stripped = line.rstrip()
        reason_json = json.dumps(reason, ensure_ascii=False)
        if stripped.startswith("{") and stripped.endswith("}") and not isinstance(row.cells, _TooLong):
            # Appended as text, so the rest of the line stays exactly as it was written.
            body = stripped[:-1].rstrip()
            line = f'{body}{"" if body.endswith("{") else ", "}"reason": {reason_json}}}'
        self.file.write(line + "\n")

    def close(self) -> None:
        self.file.close()


def _not_decodable(charset: str | None, exc: UnicodeDecodeError, where: str = "") -> ImportError_:
    at = f" {where}" if where else ""
    return ImportError_(
        "payload.encoding",
        f"the file is not valid {charset or 'UTF-8'}{at} (byte {exc.start} of a block); "
        "name its charset, e.g. --charset tis-620",
    )


def open_source(path: Path, kind: str, plugin: AgencySystem, charset: str | None, limits: PayloadLimits) -> Source:
    if not plugin.formats:
        raise ImportError_("payload.media_type", f"{plugin.name} takes no inbound data")
    if kind == CSV:
        return CsvSource(path, charset, plugin, limits)
    if kind == XLSX:
        return XlsxSource(path, plugin, limits)
    return JsonLinesSource(path, charset, plugin)


# --- the import ----------------------------------------------------------------------------------------


class OnlyEntityType:
    """The system with its map-in narrowed to one canonical entity type (`--entity-type`): other entities
    a record maps to are left out, and a record left with none counts as skipped."""

    def __init__(self, plugin: AgencySystem, entity_type: str) -> None:
        self._plugin = plugin
        self.entity_type = entity_type

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plugin, name)

    def _keep(self, mapped: list[MappedRecord]) -> list[MappedRecord]:
        return [item for item in mapped if item.entity_type == self.entity_type]

    def map_in(self, record: NativeRecord) -> Any:
        mapped = self._plugin.map_in(record)
        if inspect.isawaitable(mapped):
            return self._keep_later(mapped)
        return self._keep(mapped)

    async def _keep_later(self, mapped: Any) -> list[MappedRecord]:
        return self._keep(await mapped)


def describe(rejections: list[RowRejection]) -> str:
    """The `reason` cell: field, value and rule of every problem of the row."""
    parts = []
    for r in rejections:
        value = "" if r.value is None else f" = {str(r.value)[:200]!r}"
        parts.append(f"{r.field or '(row)'}{value}: {r.rule}: {r.reason}")
    return " | ".join(parts)[:4000]


@dataclass
class _Prepared:
    rows: list[Row]
    payload: bytes
    records: list[NativeRecord] | None
    error: PayloadError | None


class FileImporter:
    """Streams one file into the hub through `Ingestor.ingest_records`; see the module doc."""

    def __init__(
        self,
        ingestor: Ingestor,
        plugin: AgencySystem,
        *,
        chunk_rows: int = CHUNK_ROWS,
        entity_type: str | None = None,
        limits: PayloadLimits | None = None,
        client_name: str = "import",
        scope: ProducerScope | None = None,
    ) -> None:
        if not 1 <= chunk_rows <= MAX_CHUNK_ROWS:
            raise ImportError_("import.chunk_rows", f"rows per chunk must be 1 to {MAX_CHUNK_ROWS:,}")
        if entity_type is not None and entity_type not in ENTITY_TYPES:
            raise ImportError_(
                "entity.unknown_type", f"no entity type {entity_type!r}; one of {', '.join(sorted(ENTITY_TYPES))}"
            )
        self.ingestor = ingestor
        self.plugin = plugin
        self.ingest_as: Any = OnlyEntityType(plugin, entity_type) if entity_type else plugin
        self.chunk_rows = chunk_rows
        self.limits = limits or PayloadLimits()
        self.client_name = client_name[:128]
        self.scope = scope
        self.summary = ImportSummary()
        self._rejects: RejectsWriter | None = None
        self._rejects_tmp: Path | None = None

    async def run(
        self,
        path: Path,
        *,
        file_format: str | None = None,
        charset: str | None = None,
        rejects_path: Path | None = None,
        progress: Progress | None = None,
    ) -> ImportSummary:
        started = time.perf_counter()
        kind = format_of(path, file_format)
        source = await asyncio.to_thread(open_source, path, kind, self.plugin, charset, self.limits)
        summary = self.summary
        summary.total_bytes = path.stat().st_size
        rejects_path = rejects_path or default_rejects_path(path)
        self._rejects_tmp = rejects_path.with_name(rejects_path.name + ".partial")
        chunks = source.chunks(self.chunk_rows, MAX_CHUNK_CHARS)
        try:
            prepared = await asyncio.to_thread(self._prepare, source, chunks)
            if prepared is not None:
                await self._check_readable(source, prepared)
            while prepared is not None:
                # The next chunk is read and parsed in a thread while this one is mapped and stored.
                following = asyncio.ensure_future(asyncio.to_thread(self._prepare, source, chunks))
                try:
                    await self._store(source, prepared)
                except BaseException:
                    # The thread cannot be stopped; let it finish before the file is closed under it.
                    await asyncio.gather(following, return_exceptions=True)
                    raise
                prepared = await following
                summary.bytes_read = source.position()
                summary.seconds = time.perf_counter() - started
                if progress is not None:
                    progress(summary)
        finally:
            summary.seconds = time.perf_counter() - started
            await asyncio.to_thread(source.close)
            if self._rejects is not None:
                await asyncio.to_thread(self._rejects.close)
                self._rejects_tmp.replace(rejects_path)
                summary.rejects_file = rejects_path
        if summary.rows_read == 0:
            raise ImportError_("payload.no_records", "the file holds no data rows")
        return summary

    def _prepare(self, source: Source, chunks: Iterator[list[Row]]) -> _Prepared | None:
        rows = next(chunks, None)
        if rows is None:
            return None
        return self._parsed(source, rows)

    def _parsed(self, source: Source, rows: list[Row]) -> _Prepared:
        payload = source.encode(rows)
        try:
            records = self.plugin.parse(payload, source.media_type, source.charset)
            if inspect.isawaitable(records):  # an async parse, run to its end here in the worker thread
                records = asyncio.run(_await(records))
            return _Prepared(rows, payload, list(records), None)
        except PayloadError as exc:
            return _Prepared(rows, payload, None, exc)
        except Exception as exc:  # the plugin's failure to read is the file's problem, as on the endpoint
            error = PayloadError("payload.unreadable", f"the payload could not be read: {type(exc).__name__}: {exc}"[:500])
            return _Prepared(rows, payload, None, error)

    async def _check_readable(self, source: Source, prepared: _Prepared) -> None:
        """The first rows failing alone, all with the same rule, mean a file the system cannot read."""
        if prepared.error is None:
            return
        probes = [
            await asyncio.to_thread(self._parsed, source, [row]) for row in prepared.rows[:PROBE_ROWS]
        ]
        rules = {p.error.rule if p.error else None for p in probes}
        if len(rules) == 1 and None not in rules:
            raise ImportError_(prepared.error.rule, f"{prepared.error.reason} (the file cannot be read)")

    async def _store(self, source: Source, prepared: _Prepared) -> None:
        if prepared.error is not None:
            if prepared.error.rule == NO_RECORDS:
                # The system found no record among rows it was given (a chunk of only total lines): they
                # are not records, so they are skipped, as the same lines are within a larger chunk.
                self._tally(source, prepared.rows, [], [])
                return
            if len(prepared.rows) == 1:
                await self._unreadable_row(source, prepared)
                return
            half = len(prepared.rows) // 2
            for part in (prepared.rows[:half], prepared.rows[half:]):
                await self._store(source, await asyncio.to_thread(self._parsed, source, part))
            return
        rows, records = prepared.rows, prepared.records or []
        too_long = {n for n, row in enumerate(rows, start=1) if isinstance(row.cells, _TooLong)}
        if too_long:
            records = [
                NativeRecord(r.row, r.data, (*r.problems, _line_too_long()) if r.row in too_long else r.problems)
                for r in records
            ]
        message = self._message(source, prepared)
        try:
            report = await self.ingestor.ingest_records(self.ingest_as, message, records, scope=self.scope)
        except ScopeViolation as exc:
            # The chunk is refused as a whole, as a push of it would be, and kept in the inbox with a
            # rejection per offending row; here every row of it goes to the rejects file, to be sent again
            # without the other organisations' rows.
            self.summary.messages += 1
            refused = RowRejection(row=None, rule="scope.org_outside", reason=f"{exc}; this chunk of rows was refused", field="org_code")
            self._tally(source, rows, [], [refused])
            return
        self.summary.messages += 1
        self._tally(source, rows, report.outcome.entities, report.outcome.rejected)

    def _message(self, source: Source, prepared: _Prepared) -> InboundMessage:
        return InboundMessage(
            system=self.plugin.name,
            payload=prepared.payload,
            media_type=source.media_type,
            charset=source.charset,
            client_name=self.client_name,
        )

    async def _unreadable_row(self, source: Source, prepared: _Prepared) -> None:
        error = prepared.error
        assert error is not None
        message = self._message(source, prepared)
        # Kept in the inbox as a failed payload, with its rule, as the endpoint keeps one.
        await asyncio.to_thread(self.ingestor.store.inbox.record_failed_message, message, error.reason, error.rule)
        self.ingestor.observer.on_payload_failed(self.plugin.name, error.rule)
        self.summary.messages += 1
        rejection = RowRejection(row=1, rule=error.rule, reason=error.reason)
        self._tally(source, prepared.rows, [], [rejection])

    def _tally(self, source: Source, rows: list[Row], entities: list[Any], rejected: list[RowRejection]) -> None:
        summary = self.summary
        summary.rows_read += len(rows)
        summary.entities += len(entities)
        by_row: dict[int, list[RowRejection]] = {}
        for rejection in rejected:
            # A rejection without a row concerns the whole payload: every row of it is rejected.
            for number in [rejection.row] if rejection.row is not None else range(1, len(rows) + 1):
                by_row.setdefault(number, []).append(rejection)
        accepted = {e.row for e in entities} - by_row.keys()
        changed = {e.row for e in entities if e.changed} - by_row.keys()
        summary.accepted += len(accepted)
        summary.changed += len(changed)
        summary.rejected += len(by_row)
        summary.skipped += len(rows) - len(accepted) - len(by_row)
        for number in sorted(by_row):
            if not 1 <= number <= len(rows):
                continue  # cannot happen with a plugin that numbers its rows as documented
            row, problems = rows[number - 1], by_row[number]
            if any(p.rule == "plugin.fault" for p in problems):
                summary.faults += 1
            reason = describe(problems)
            if len(summary.first_rejects) < 10:
                summary.first_rejects.append(f"row {row.number:,} (line {row.where:,}): {reason}")
            if self._rejects is None:
                assert self._rejects_tmp is not None
                self._rejects = source.rejects_writer(self._rejects_tmp)
            self._rejects.write(row, reason)


def _line_too_long() -> Rejection:
    return Rejection("payload.line_too_long", f"a JSON line over {MAX_LINE_CHARS:,} characters is not read")


async def _await(pending: Any) -> Any:
    return await pending
