"""The area totals as a table (core/area_table.py): a bilingual header, rows in its order, CSV that Excel
reads as UTF-8, XLSX with amounts as numbers."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal

from openpyxl import load_workbook

from core import area_table, ledger


@dataclass
class Total:
    code: str | None
    fiscal_year: int
    projects: int
    amounts: dict[str, Decimal] = field(default_factory=lambda: {name: ledger.ZERO for name in ledger.AMOUNTS})
    stages: dict[str, int] = field(default_factory=lambda: {name: 0 for name in ledger.STAGES})


PLACE = area_table.Place("26", "นครนายก", "2601", "เมืองนครนายก", "6260105", "บ้านใหญ่", "subdistrict_admin_org")


def table() -> list[tuple]:
    total = Total("6260105", 2570, 2)
    total.amounts.update(planned=Decimal("2450000.00"), disbursed=Decimal("1099000.55"))
    total.stages.update(planned=1, disbursing=1)
    return area_table.rows([total, Total("9999999", 2569, 1)], {"6260105": PLACE})


def test_every_column_is_headed_in_thai_with_its_english_name() -> None:
    names = [name for name, _ in area_table.COLUMNS]
    assert len(set(names)) == len(names) == len(area_table.HEADER)
    assert area_table.HEADER[0] == "ปีงบประมาณ (fiscal_year)"
    assert {f"amount_{a}" for a in ledger.AMOUNTS} | {f"projects_{s}" for s in ledger.STAGES} <= set(names)


def test_rows_follow_the_columns_and_an_unknown_area_keeps_its_figures() -> None:
    first, unknown = (dict(zip([n for n, _ in area_table.COLUMNS], row)) for row in table())
    assert (first["fiscal_year"], first["org_code"], first["district"], first["projects"]) == (2570, "6260105", "เมืองนครนายก", 2)
    assert first["amount_disbursed"] == Decimal("1099000.55") and first["projects_disbursing"] == 1
    assert unknown["org_code"] is None and unknown["projects"] == 1


def test_the_csv_starts_with_a_byte_order_mark_and_keeps_thai_and_satang() -> None:
    body = area_table.to_csv(table())
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body
    header, first, unknown = csv.reader(io.StringIO(body.decode("utf-8-sig")))
    assert tuple(header) == area_table.HEADER
    assert first[area_table.HEADER.index("เบิกจ่ายแล้ว (บาท) (amount_disbursed)")] == "1099000.55"
    assert first[area_table.HEADER.index("องค์กรปกครองส่วนท้องถิ่น (organisation)")] == "บ้านใหญ่"
    assert unknown[area_table.HEADER.index("รหัส อปท. (org_code)")] == ""


def test_the_xlsx_holds_amounts_as_numbers_formatted_as_baht() -> None:
    sheet = load_workbook(io.BytesIO(area_table.to_xlsx(table(), "totals 26"))).active
    assert sheet.title == "totals 26"
    assert tuple(cell.value for cell in sheet[1]) == area_table.HEADER
    cell = sheet.cell(row=2, column=area_table.HEADER.index("เบิกจ่ายแล้ว (บาท) (amount_disbursed)") + 1)
    assert cell.data_type == "n" and Decimal(str(cell.value)) == Decimal("1099000.55") and cell.number_format == "#,##0.00"
    assert sheet.cell(row=2, column=area_table.HEADER.index("จังหวัด (province)") + 1).value == "นครนายก"


@dataclass
class CategoryTotal(Total):
    without_code: str | None = None


def test_a_table_by_budget_classification_names_each_code_and_says_why_a_row_has_none() -> None:
    mapped = CategoryTotal("investment", 2570, 2)
    mapped.amounts.update(budgeted=Decimal("680000.00"), requested=Decimal("1.10"))
    central = CategoryTotal(None, 2570, 1, without_code="unmapped")
    table = area_table.category_rows([mapped, central], area_table.Place("26", "นครนายก"), {"investment": "งบลงทุน"})
    first, unmapped = (dict(zip([n for n, _ in area_table.CATEGORY_COLUMNS], row, strict=True)) for row in table)
    assert (first["province"], first["category_code"], first["category"], first["without_code"]) == ("นครนายก", "investment", "งบลงทุน", None)
    assert (first["amount_budgeted"], first["amount_requested"], first["projects"]) == (Decimal("680000.00"), Decimal("1.10"), 2)
    assert (unmapped["category_code"], unmapped["without_code"]) == (None, "unmapped") and unmapped["category"].startswith("ไม่มีงบรายจ่าย")
    header, *rows = csv.reader(io.StringIO(area_table.to_csv(table, area_table.CATEGORY_COLUMNS).decode("utf-8-sig")))
    assert tuple(header) == area_table.CATEGORY_HEADER and len(rows) == 2
    assert "amount_procured" not in {n for n, _ in area_table.CATEGORY_COLUMNS}  # no งบ is known at those stages
    sheet = load_workbook(io.BytesIO(area_table.to_xlsx(table, "by category", area_table.CATEGORY_COLUMNS))).active
    cell = sheet.cell(row=2, column=area_table.CATEGORY_HEADER.index("วงเงินงบประมาณ (บาท) (amount_budgeted)") + 1)
    assert tuple(c.value for c in sheet[1]) == area_table.CATEGORY_HEADER and cell.number_format == "#,##0.00"
