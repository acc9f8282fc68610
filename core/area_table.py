"""The area totals (core/store/ledger.py `area_totals`) as a table to download: CSV that Excel opens in
Thai (UTF-8 with a byte-order mark) and XLSX. A table is one row per area and fiscal year (COLUMNS), or
one per งบ and fiscal year of a province (CATEGORY_COLUMNS: the budgeted, requested and approved amounts
by local งบ or national งบรายจ่าย, core/expense_categories.py).

Each column is headed in Thai with its English name in brackets, `ปีงบประมาณ (fiscal_year)`, so that a
person reads the Thai and a program finds the English name; the English names are stable. Amounts are
written as plain decimals (no thousands separators) so that any program reads them as numbers. No I/O.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from core import ledger

# (English name, Thai heading) of each column, in order.
AREA_COLUMNS = (
    ("fiscal_year", "ปีงบประมาณ"),
    ("province_code", "รหัสจังหวัด"),
    ("province", "จังหวัด"),
    ("district_code", "รหัสอำเภอ"),
    ("district", "อำเภอ"),
    ("org_code", "รหัส อปท."),
    ("organisation", "องค์กรปกครองส่วนท้องถิ่น"),
    ("org_type", "ประเภท อปท."),
    ("projects", "จำนวนโครงการ"),
)
# Headings of the ledger's amounts and stages (a name the ledger adds without one here stops the import).
AMOUNT_HEADINGS = {
    "planned": "วงเงินตามแผน (บาท)",
    "budgeted": "วงเงินงบประมาณ (บาท)",
    "requested": "วงเงินที่ขอรับเงินอุดหนุน (บาท)",
    "approved": "วงเงินที่ได้รับอนุมัติ (บาท)",
    "procured": "วงเงินจัดซื้อจัดจ้าง (บาท)",
    "contracted": "วงเงินตามสัญญา (บาท)",
    "disbursed": "เบิกจ่ายแล้ว (บาท)",
}
STAGE_HEADINGS = {
    "planned": "โครงการขั้นวางแผน",
    "budgeted": "โครงการขั้นตั้งงบประมาณ",
    "requested": "โครงการขั้นขอรับเงินอุดหนุน",
    "procured": "โครงการขั้นจัดซื้อจัดจ้าง",
    "contracted": "โครงการขั้นลงนามสัญญา",
    "disbursing": "โครงการขั้นเบิกจ่าย",
    "completed": "โครงการที่เบิกจ่ายครบ",
}
COLUMNS = (
    *AREA_COLUMNS,
    *((f"amount_{name}", AMOUNT_HEADINGS[name]) for name in ledger.AMOUNTS),
    *((f"projects_{name}", STAGE_HEADINGS[name]) for name in ledger.STAGES),
)
CATEGORY_COLUMNS = (
    *AREA_COLUMNS[:3],
    ("category_code", "รหัสงบ"),
    ("category", "งบ"),
    # Why a row has no code: unmapped (a local งบ with no national งบรายจ่าย: งบกลาง), unclassified (no งบ named).
    ("without_code", "เหตุที่ไม่มีรหัส"),
    ("projects", "จำนวนโครงการ"),
    *((f"amount_{name}", AMOUNT_HEADINGS[name]) for name in ledger.CLASSIFIED_AMOUNTS),
    *((f"projects_{name}", STAGE_HEADINGS[name]) for name in ledger.STAGES),
)
WITHOUT_CODE_TH = {"unmapped": "ไม่มีงบรายจ่ายที่ตรงกัน (งบกลาง)", "unclassified": "ไม่ระบุงบ"}


def header(columns: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(f"{thai} ({name})" for name, thai in columns)


HEADER = header(COLUMNS)
CATEGORY_HEADER = header(CATEGORY_COLUMNS)
CSV_TYPE = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class Place:
    """What the master data says of one row's area (an organisation, or a district)."""

    province_code: str | None = None
    province: str | None = None
    district_code: str | None = None
    district: str | None = None
    org_code: str | None = None
    organisation: str | None = None
    org_type: str | None = None


class Total(Protocol):
    """One row of core/store/ledger.py `area_totals`."""

    code: str | None
    fiscal_year: int
    projects: int
    amounts: Mapping[str, Decimal]
    stages: Mapping[str, int]


class CategoryTotal(Total, Protocol):
    without_code: str | None


def rows(totals: Iterable[Total], places: Mapping[str | None, Place]) -> list[tuple[Any, ...]]:
    """One row per total, in COLUMNS order; `places` says where each total's area code is."""
    out = []
    for total in totals:
        place = places.get(total.code) or Place()
        out.append((
            total.fiscal_year, place.province_code, place.province, place.district_code, place.district,
            place.org_code, place.organisation, place.org_type, total.projects,
            *(total.amounts[name] for name in ledger.AMOUNTS), *(total.stages[name] for name in ledger.STAGES),
        ))  # fmt: skip
    return out


def category_rows(totals: Iterable[CategoryTotal], province: Place, names: Mapping[str, str]) -> list[tuple[Any, ...]]:
    """One row per total of a province by งบ, in CATEGORY_COLUMNS order; `names`: each งบ code's Thai name."""
    return [
        (total.fiscal_year, province.province_code, province.province, total.code,
         names.get(total.code) if total.code else WITHOUT_CODE_TH.get(total.without_code or ""), total.without_code,
         total.projects, *(total.amounts[name] for name in ledger.CLASSIFIED_AMOUNTS), *(total.stages[name] for name in ledger.STAGES))
        for total in totals
    ]  # fmt: skip


def to_csv(table: Sequence[Sequence[Any]], columns: Sequence[tuple[str, str]] = COLUMNS) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header(columns))
    writer.writerows(["" if cell is None else cell for cell in row] for row in table)
    # The byte-order mark is what makes Excel read the file as UTF-8 rather than the machine's code page.
    return b"\xef\xbb\xbf" + text.getvalue().encode("utf-8")


def to_xlsx(table: Sequence[Sequence[Any]], title: str, columns: Sequence[tuple[str, str]] = COLUMNS) -> bytes:
    # Write-only: rows go straight to the file, three times faster than a workbook kept in memory.
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])  # Excel's limit on a sheet's name
    headings = header(columns)
    for i, heading in enumerate(headings, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = min(max(12, len(heading) * 0.9), 40)
    sheet.freeze_panes = "A2"
    sheet.append(headings)
    money = [name.startswith("amount_") for name, _ in columns]
    for row in table:
        sheet.append([_baht(sheet, value) if is_money else value for value, is_money in zip(row, money)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _baht(sheet: Any, amount: Any) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=amount)
    cell.number_format = "#,##0.00"
    return cell
