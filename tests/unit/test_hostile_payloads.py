"""No upload can stall the hub: hostile payloads, each generated here (no binary fixtures), are refused
by a limit of `PayloadLimits` with a rule naming it, while they are read: peak memory (tracemalloc) stays
far below what the payload would expand to. Bounds on memory, never timings."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from openpyxl import Workbook

from canonical_model import PlanProject, rejections_from_validation_error
from core.payloads import PayloadError, loads_strict_json, tabular_records
from core.settings import PayloadLimits

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MB = 1024 * 1024
LIMITS = PayloadLimits()

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
    f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" Type="{_DOC_RELS}/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}"><sheets>'
    '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    f'<Relationships xmlns="{_RELS}">'
    f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_DOC_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>รหัส อปท.</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>ชื่อโครงการ</t></is></c></row>'
)


def _chunks(*parts: str | Iterable[str]) -> Iterable[bytes]:
    for part in parts:
        if isinstance(part, str):
            yield part.encode()
        else:
            yield from (piece.encode() for piece in part)


def xlsx(sheet: Iterable[bytes], shared_strings: Iterable[bytes] | None = None) -> bytes:
    """A minimal workbook written part by part; the sheet (and shared strings) stream into the ZIP, so
    a part of hundreds of megabytes never exists in memory at once."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            for chunk in sheet:
                part.write(chunk)
        with archive.open("xl/sharedStrings.xml", "w") as part:
            for chunk in shared_strings or _chunks(f'<sst xmlns="{_MAIN}" count="0" uniqueCount="0"/>'):
                part.write(chunk)
    return buffer.getvalue()


def sheet_of(*rows: str | Iterable[str]) -> Iterable[bytes]:
    return _chunks(f'<worksheet xmlns="{_MAIN}"><sheetData>', *rows, "</sheetData></worksheet>")


def empty_rows(first: int, count: int, attributes: str = "", per_chunk: int = 10_000) -> Iterable[str]:
    for start in range(first, first + count, per_chunk):
        yield "".join(f'<row r="{n}"{attributes}/>' for n in range(start, min(start + per_chunk, first + count)))


def refusal(call: Callable[[], Any]) -> tuple[PayloadError, int]:
    """The PayloadError `call` raises, and the peak of memory allocated while it ran."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        with pytest.raises(PayloadError) as caught:
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return caught.value, peak


def test_the_generated_workbook_is_read_like_any_other() -> None:
    data = '<row r="2"><c r="A2" t="inlineStr"><is><t>5400103</t></is></c><c r="B2" t="s"><v>0</v></c></row>'
    strings = _chunks(f'<sst xmlns="{_MAIN}" count="1" uniqueCount="1"><si><t>ถนน น้ำ</t></si></sst>')
    rows = tabular_records(xlsx(sheet_of(HEADER_ROW, data), strings), XLSX, None)
    assert rows == [{"รหัส อปท.": "5400103", "ชื่อโครงการ": "ถนน น้ำ"}]


# --- XLSX ---------------------------------------------------------------------------------------------


def test_empty_row_bomb_past_the_expanded_limit_is_refused_before_it_is_inflated() -> None:
    # 2 million empty rows as Excel writes formatted ones: about 100 MB of XML in a few MB of ZIP.
    payload = xlsx(sheet_of(HEADER_ROW, empty_rows(2, 2_000_000, ' spans="1:2" ht="15" customHeight="1"')))
    assert len(payload) < 8 * MB  # well under the 32 MB body limit
    declared = zipfile.ZipFile(io.BytesIO(payload)).getinfo("xl/worksheets/sheet1.xml").file_size
    assert declared > LIMITS.max_expanded_bytes

    error, peak = refusal(lambda: tabular_records(payload, XLSX, None))
    assert error.rule == "payload.expanded_too_large" and error.status == 413
    assert "xl/worksheets/sheet1.xml" in error.reason
    assert f"limits.max_expanded_bytes = {LIMITS.max_expanded_bytes:,} bytes" in error.reason
    assert peak < 5 * MB  # nothing of the sheet was inflated


def test_empty_row_bomb_within_the_expanded_limit_stops_at_max_rows_scanned() -> None:
    # 1.5 million empty rows (~30 MB of XML, under max_expanded_bytes): every row counts, empty or not.
    payload = xlsx(sheet_of(HEADER_ROW, '<row r="2"><c r="A2" t="inlineStr"><is><t>1</t></is></c></row>',
                            empty_rows(3, 1_500_000)))
    error, peak = refusal(lambda: tabular_records(payload, XLSX, None))
    assert error.rule == "payload.too_many_rows_scanned" and error.status == 413
    assert f"limits.max_rows_scanned = {LIMITS.max_rows_scanned:,} rows" in error.reason
    assert "empty rows included" in error.reason
    assert peak < 50 * MB


def test_rows_skipped_by_their_numbers_count_as_scanned() -> None:
    # Two rows in the XML, but the second is row 1,048,576: a million empty rows to walk past.
    last = '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    payload = xlsx(sheet_of(HEADER_ROW, last))
    error, peak = refusal(lambda: tabular_records(payload, XLSX, None))
    assert error.rule == "payload.too_many_rows_scanned"
    assert f"row {LIMITS.max_rows_scanned + 1:,}" in error.reason
    assert peak < 20 * MB


def test_one_enormous_shared_string_is_refused_while_streaming() -> None:
    # 20 million characters in one shared string: under max_expanded_bytes, far over max_cell_chars.
    def strings() -> Iterable[bytes]:
        yield f'<sst xmlns="{_MAIN}" count="1" uniqueCount="1"><si><t>'.encode()
        for _ in range(20):
            yield b"A" * 1_000_000
        yield b"</t></si></sst>"

    data = '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>0</v></c></row>'
    payload = xlsx(sheet_of(HEADER_ROW, data), strings())
    error, peak = refusal(lambda: tabular_records(payload, XLSX, None))
    assert error.rule == "payload.cell_too_long" and error.status == 413
    assert "xl/sharedStrings.xml" in error.reason
    assert f"limits.max_cell_chars = {LIMITS.max_cell_chars:,} characters" in error.reason
    assert peak < 10 * MB  # the 20 MB text was never built


def test_one_enormous_inline_cell_names_its_cell() -> None:
    def rows() -> Iterable[str]:
        yield '<row r="2"><c r="A2" t="inlineStr"><is><t>5400103</t></is></c><c r="B2" t="inlineStr"><is><t>'
        for _ in range(10):
            yield "ถ" * 1_000_000
        yield "</t></is></c></row>"

    payload = xlsx(sheet_of(HEADER_ROW, rows()))
    error, peak = refusal(lambda: tabular_records(payload, XLSX, None))
    assert error.rule == "payload.cell_too_long"
    assert "cell B2" in error.reason and f"{LIMITS.max_cell_chars:,} characters" in error.reason
    assert peak < 10 * MB


def test_a_cell_just_over_the_limit_is_refused_with_row_and_column() -> None:
    text = "ก" * (LIMITS.max_cell_chars + 1)
    data = f'<row r="2"><c r="A2" t="inlineStr"><is><t>1</t></is></c><c r="B2" t="inlineStr"><is><t>{text}</t></is></c></row>'
    with pytest.raises(PayloadError) as caught:
        tabular_records(xlsx(sheet_of(HEADER_ROW, data)), XLSX, None)
    assert caught.value.rule == "payload.cell_too_long"
    assert "cell B2 (row 2, column 2)" in caught.value.reason and "32,768 characters" in caught.value.reason


def test_a_gigantic_cell_past_the_expanded_limit_is_refused_by_its_declared_size() -> None:
    def rows() -> Iterable[str]:
        yield '<row r="2"><c r="A2" t="inlineStr"><is><t>'
        for _ in range(70):
            yield "A" * MB
        yield "</t></is></c></row>"

    payload = xlsx(sheet_of(HEADER_ROW, rows()))
    error, peak = refusal(lambda: tabular_records(payload, XLSX, None))
    assert error.rule == "payload.expanded_too_large" and "xl/worksheets/sheet1.xml" in error.reason
    assert peak < 5 * MB


def test_too_many_columns_and_a_row_of_countless_cells() -> None:
    wide = "".join(f'<c r="{_col(n)}2" t="inlineStr"><is><t>x</t></is></c>' for n in range(1, 202))
    with pytest.raises(PayloadError) as caught:
        tabular_records(xlsx(sheet_of(HEADER_ROW, f'<row r="2">{wide}</row>')), XLSX, None)
    assert caught.value.rule == "payload.too_many_columns" and "column GS (201)" in caught.value.reason
    assert "limits.max_columns = 200 columns" in caught.value.reason

    # Two million cells in one row, all without a reference: only a hostile file does that.
    countless = ('<row r="2">', ("<c/>" * 100_000 for _ in range(20)), "</row>")
    error, peak = refusal(lambda: tabular_records(xlsx(sheet_of(HEADER_ROW, *countless)), XLSX, None))
    assert error.rule == "payload.too_many_columns" and "16,384 cells" in error.reason
    assert peak < 50 * MB


def test_a_zip_declaring_countless_files_is_refused_before_its_directory_is_read() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for n in range(LIMITS.max_zip_entries + 1):
            archive.writestr(f"x{n}", b"")
    with pytest.raises(PayloadError) as caught:
        tabular_records(buffer.getvalue(), XLSX, None)
    assert caught.value.rule == "payload.too_many_parts" and caught.value.status == 413


def test_a_workbook_made_by_openpyxl_still_reads_with_small_limits() -> None:
    workbook = Workbook()
    workbook.active.append(["a", "b"])
    for n in range(5):
        workbook.active.append([n, f"แถว {n}"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    limits = PayloadLimits(max_records=5, max_rows_scanned=6, max_columns=2, max_cell_chars=10)
    assert len(tabular_records(buffer.getvalue(), XLSX, None, limits)) == 5
    with pytest.raises(PayloadError) as caught:
        tabular_records(buffer.getvalue(), XLSX, None, PayloadLimits(max_records=4, max_rows_scanned=10))
    assert caught.value.rule == "payload.too_many_rows"


def _col(index: int) -> str:
    letters = ""
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


# --- JSON ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [False, True])
def test_json_nested_100000_deep_is_refused_without_recursion(wrap: bool) -> None:
    text = "[" * 100_000 + "]" * 100_000
    if wrap:
        text = '{"records": [{"title": ' + text + "}]}"
    error, peak = refusal(lambda: tabular_records(text.encode(), "application/json", None))
    assert error.rule == "json.too_deep" and error.status == 400
    assert "32 levels (limits.max_json_depth)" in error.reason and "at character" in error.reason
    assert peak < 5 * MB
    with pytest.raises(PayloadError, match="max_json_depth"):
        loads_strict_json(text)


def test_json_depth_limit_is_exact() -> None:
    assert loads_strict_json("[" * 32 + "]" * 32) is not None
    with pytest.raises(PayloadError):
        loads_strict_json("[" * 33 + "]" * 33)
    assert loads_strict_json(json.dumps(["[{" * 40])) == ["[{" * 40]  # brackets inside text do not count


def test_json_with_a_10_million_character_string_is_refused_before_it_is_parsed() -> None:
    body = ('[{"รหัส อปท.": "5400103", "title": "' + "ก" * 10_000_000 + '"}]').encode()
    with pytest.raises(PayloadError) as caught:
        tabular_records(body, "application/json", None)
    assert caught.value.rule == "payload.cell_too_long" and caught.value.status == 413
    assert "10,000,000 characters" in caught.value.reason and "'title'" in caught.value.reason
    assert f"limits.max_cell_chars = {LIMITS.max_cell_chars:,}" in caught.value.reason


def test_json_record_count_is_refused_while_scanning() -> None:
    body = ("[" + ",".join(['{"a": 1}'] * (LIMITS.max_records + 1)) + "]").encode()
    with pytest.raises(PayloadError) as caught:
        tabular_records(body, "application/json", None)
    assert caught.value.rule == "payload.too_many_rows" and "limits.max_records = 50,000 records" in caught.value.reason
    nested = json.dumps({"records": [{"a": 1}] * 3})
    with pytest.raises(PayloadError):
        tabular_records(nested.encode(), "application/json", None, PayloadLimits(max_records=2, max_rows_scanned=4))


# --- CSV ----------------------------------------------------------------------------------------------


def _csv(rows: int) -> bytes:
    lines = ["รหัส อปท.,ชื่อโครงการ,งบประมาณ 2568"]
    lines.extend(f"5400103,โครงการที่ {n},1000" for n in range(rows))
    return ("\n".join(lines) + "\n").encode()


def test_a_csv_of_50000_rows_is_accepted() -> None:
    rows = tabular_records(_csv(50_000), "text/csv", "utf-8")
    assert len(rows) == 50_000 and rows[-1]["ชื่อโครงการ"] == "โครงการที่ 49999"


def test_a_csv_of_50001_rows_is_refused() -> None:
    payload = _csv(50_001)
    error, peak = refusal(lambda: tabular_records(payload, "text/csv", "utf-8"))
    assert error.rule == "payload.too_many_rows" and error.status == 413
    assert "limits.max_records = 50,000 records" in error.reason and "line 50,002" in error.reason
    assert peak < 100 * MB


def test_a_csv_of_blank_lines_stops_at_max_rows_scanned() -> None:
    payload = b"a,b\n1,2\n" + b"\n" * 5_000_000 + b"3,4\n"
    error, peak = refusal(lambda: tabular_records(payload, "text/csv", "utf-8"))
    assert error.rule == "payload.too_many_rows_scanned" and "blank rows included" in error.reason
    assert peak < 3 * len(payload) + 10 * MB  # the text itself, nothing built per line


@pytest.mark.parametrize("length", [LIMITS.max_cell_chars + 1, 131_073, 1_000_000])
def test_a_csv_cell_over_the_limit_refuses_the_payload_like_xlsx(length: int) -> None:
    payload = ("รหัส อปท.,ชื่อโครงการ\n5400103,ถนน\n5400103," + "ก" * length + "\n").encode()
    with pytest.raises(PayloadError) as caught:
        tabular_records(payload, "text/csv", "utf-8")
    assert caught.value.rule == "payload.cell_too_long" and caught.value.status == 413
    assert "line 3" in caught.value.reason and "limits.max_cell_chars = 32,767 characters" in caught.value.reason
    if length < 131_072:  # read by the csv module, then measured: the column is named
        assert "column 2 (B, 'ชื่อโครงการ')" in caught.value.reason


def test_a_csv_with_too_many_columns() -> None:
    payload = (",".join(f"c{n}" for n in range(201)) + "\n" + ",".join("1" * 201) + "\n").encode()
    with pytest.raises(PayloadError) as caught:
        tabular_records(payload, "text/csv", "utf-8")
    assert caught.value.rule == "payload.too_many_columns" and "201 cells" in caught.value.reason


def test_a_text_body_over_the_expanded_limit() -> None:
    limits = PayloadLimits(max_expanded_bytes=4096)
    with pytest.raises(PayloadError) as caught:
        tabular_records(b"a\n" + b"1\n" * 4096, "text/csv", None, limits)
    assert caught.value.rule == "payload.expanded_too_large" and caught.value.status == 413


# --- the canonical model ------------------------------------------------------------------------------


def test_a_10_million_character_title_is_a_record_rejection_naming_the_field() -> None:
    title = "ก่อสร้างถนน" + "ก" * 10_000_000
    with pytest.raises(Exception) as caught:
        PlanProject(org_code="5400103", title=title)
    [rejection] = rejections_from_validation_error(caught.value)
    assert rejection.rule == "text.too_long" and rejection.field == "title"
    assert "at most 1,000 characters" in rejection.reason and "10,000,011" in rejection.reason
    assert isinstance(rejection.value, str) and len(rejection.value) < 300
    assert rejection.value.startswith("ก่อสร้างถนน")
