"""Reading the NFMA46 budget status report (XLSX as GF-MIS exports it) into native records.

The report is one table, แผนงาน | รหัสงบประมาณ | งบสุทธิ | PO | เบิกจ่าย | คงเหลือ, under a few title
lines that name the agency (รหัสหน่วยงาน) and the fiscal year; both are copied into every row, since a
row alone does not say whose budget, or which year's, it is.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from decimal import Decimal
from typing import Any

from plugins.gfmis.headers import AGENCY
from prasan import NativeRecord, PayloadError, Rejection
from prasan.canonical import normalize_text, to_arabic_digits

PLAN = "แผนงาน"
BUDGET_CODE = "รหัสงบประมาณ"
NET = "งบสุทธิ"
PO = "PO"
PAID = "เบิกจ่าย"
LEFT = "คงเหลือ"
YEAR = "ปีงบประมาณ"
COLUMNS = (PLAN, BUDGET_CODE, NET, PO, PAID, LEFT)

MAX_ROWS = 50_000
# The title block is a handful of lines; a header further down means this is not an NFMA46 export.
MAX_TITLE_ROWS = 20
# Wider than any NFMA46 layout; a sheet formatted to column XFD is not read cell by cell.
MAX_COLUMNS = 30

_AGENCY = re.compile(r"รหัสหน่วยงาน\s*:?\s*(\d{5})\b")
_YEAR = re.compile(r"ปีงบประมาณ\s*:?\s*(?:พ\.ศ\.)?\s*(\d{4})\b")


def is_budget_status(data: dict[str, Any]) -> bool:
    return NET in data


def _text(cell: Any) -> Any:
    # Excel keeps every number as a double; turn it into exact text at once so no float travels on.
    if isinstance(cell, float):
        return "" if math.isnan(cell) or math.isinf(cell) else format(Decimal(repr(cell)).normalize(), "f")
    return "" if cell is None else cell


def _line(cells: tuple[Any, ...]) -> str:
    return normalize_text(to_arabic_digits(" ".join(str(c) for c in cells if c not in (None, ""))))


def _rows(payload: bytes) -> list[tuple[Any, ...]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(payload), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise PayloadError("xlsx.unreadable", f"not a readable XLSX workbook: {exc}") from None
    try:
        rows = []
        for row in workbook.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS):
            if any(cell not in (None, "") and str(cell).strip() for cell in row):
                rows.append(row)
                if len(rows) > MAX_ROWS + MAX_TITLE_ROWS:
                    raise PayloadError("payload.too_many_rows", f"an NFMA46 report may hold at most {MAX_ROWS:,} rows")
        return rows
    except PayloadError:
        raise
    except Exception as exc:  # a damaged sheet fails only while its rows are read
        raise PayloadError("xlsx.unreadable", f"the worksheet cannot be read: {type(exc).__name__}") from None
    finally:
        workbook.close()


def _header_at(rows: list[tuple[Any, ...]]) -> tuple[int, dict[str, int]]:
    for index, row in enumerate(rows[:MAX_TITLE_ROWS]):
        names = [normalize_text(str(cell or "")) for cell in row]
        if BUDGET_CODE in names and NET in names:
            missing = [name for name in COLUMNS if name not in names]
            if missing:
                raise PayloadError("gfmis.nfma46_header", f"the NFMA46 table has no column {', '.join(missing)}")
            return index, {name: names.index(name) for name in COLUMNS}
    raise PayloadError(
        "gfmis.nfma46_header",
        f"no header row with {BUDGET_CODE} and {NET} in the first {MAX_TITLE_ROWS} rows: not an NFMA46 report",
    )


def _title_value(title: str, pattern: re.Pattern[str], what: str) -> str:
    found = pattern.search(title)
    if not found:
        raise PayloadError("gfmis.nfma46_title", f"the report's title lines do not give the {what}")
    return found.group(1)


def parse_report(payload: bytes) -> list[NativeRecord]:
    if not payload:
        raise PayloadError("payload.empty", "the request body is empty")
    rows = _rows(payload)
    at, columns = _header_at(rows)
    title = " ".join(_line(row) for row in rows[:at])
    agency = _title_value(title, _AGENCY, "agency (รหัสหน่วยงาน 5 digits)")
    year = _title_value(title, _YEAR, "fiscal year (ปีงบประมาณ)")
    records = []
    for number, row in enumerate(rows[at + 1:], start=1):
        cells = {name: _text(row[i]) if i < len(row) else "" for name, i in columns.items()}
        if not str(cells[BUDGET_CODE]).strip() and str(cells[PLAN]).strip().startswith("รวม"):
            continue  # the report's total line
        problems: tuple[Rejection, ...] = ()
        if isinstance(row[columns[BUDGET_CODE]], (int, float)):
            problems = (Rejection(
                "gfmis.budget_code_as_number",
                "Excel stored the 20-digit budget code as a number, which keeps 15 digits at most and drops "
                "leading zeros; format the column as text and export again",
                cells[BUDGET_CODE],
                BUDGET_CODE,
            ),)
        records.append(NativeRecord(row=number, data={**cells, AGENCY: agency, YEAR: year}, problems=problems))
    if not records:
        raise PayloadError("payload.no_records", "the NFMA46 report has no budget line under its header")
    return records
