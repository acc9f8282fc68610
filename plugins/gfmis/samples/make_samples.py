"""Regenerate the GF-MIS sample files in this folder. Run: `python -m plugins.gfmis.samples.make_samples`.

- disbursements_utf8_bom.csv, disbursements_tis620.csv: the simulator's lines as a hand-made export with
  Thai headers, each row writing its date and amount another way (BE slashes, abbreviated and full Thai
  months, ISO with a BE year; Thai digits, "บาท", no separators), ending with a รวม line;
- disbursements.json: the same lines pushed with the SAP field names, the fund source and the line
  number as numbers;
- nfma46.xlsx: an NFMA46 budget status report of agency 15008 for FY 2568, under its title lines
  (the year in Thai digits), amounts as Excel numbers and as text, with its total line.

The agencies are real budgetary units (15008 กรมส่งเสริมการปกครองท้องถิ่น, 15003 กรมการปกครอง); the
documents, budget codes and amounts are made up in the published shapes.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

from plugins.gfmis.simulator import SEED_LINES

HERE = Path(__file__).parent
HEADER = [
    "รหัสหน่วยงาน", "รหัสหน่วยเบิกจ่าย", "รหัสศูนย์ต้นทุน", "รหัสงบประมาณ", "รหัสแหล่งของเงิน",
    "รหัสบัญชีแยกประเภท", "เลขที่เอกสาร", "ลำดับรายการ", "วันที่ผ่านรายการ", "จำนวนเงิน", "เลขประจำตัวผู้เสียภาษี",
]
SAP = ["BUKRS", "ZZPMT", "KOSTL", "FISTL", "GEBER", "HKONT", "BELNR", "BUZEI", "BUDAT", "WRBTR", "search_term"]
# Row by row, how the export writes the posting date and the amount of each seeded line.
CSV_DATES = ["14/11/2567", "14 พ.ย. 67", "3 ก.พ. 68", "27 มีนาคม 2568", "2568-07-25", "๓๐/๐๙/๒๕๖๘"]
CSV_AMOUNTS = ["1,250,000.00", "๓๔๘,๕๐๐.๕๐", "87420", "4,500,000.00 บาท", "15,630.75", "9,999.-"]

NFMA46_TITLE = [
    ["รายงานสถานะการใช้จ่ายงบประมาณ (NFMA46)"],
    ["รหัสหน่วยงาน 15008 กรมส่งเสริมการปกครองท้องถิ่น"],
    ["ปีงบประมาณ พ.ศ. ๒๕๖๘"],
    ["ข้อมูล ณ วันที่ 30.09.2568"],
    [],
]
NFMA46_HEADER = ["แผนงาน", "รหัสงบประมาณ", "งบสุทธิ", "PO", "เบิกจ่าย", "คงเหลือ"]
NFMA46_ROWS = [
    ["แผนงานพื้นฐานด้านการพัฒนาพื้นที่และภูมิภาค", "15008680041000000001", "250000000", "0", "1598500.50"],
    ["แผนงานยุทธศาสตร์ส่งเสริมการกระจายอำนาจให้แก่องค์กรปกครองส่วนท้องถิ่น", "15008680022000000003",
     "12500000.00", "2350000.00", "87420.00"],
    ["แผนงานบุคลากรภาครัฐ", "15008680011000000002", "98765432.10", "0", "45000000.00"],
]  # fmt: skip


def _csv_text() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for line, posted, amount in zip(SEED_LINES, CSV_DATES, CSV_AMOUNTS, strict=True):
        writer.writerow([*(str(line[name]) for name in SAP[:8]), posted, amount, line["search_term"]])
    writer.writerow(["", "", "", "", "", "", "", "", "รวม", "6,211,550.25", ""])
    return out.getvalue()


def _nfma46() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "NFMA46"
    for row in NFMA46_TITLE:
        sheet.append(row)
    sheet.append(NFMA46_HEADER)
    totals = [Decimal(0)] * 4
    for number, (plan, code, *amounts) in enumerate(NFMA46_ROWS):
        net, po, paid = (Decimal(a) for a in amounts)
        values = [net, po, paid, net - po - paid]
        totals = [t + v for t, v in zip(totals, values, strict=True)]
        # The second row was typed in by hand: amounts as text with separators, as people do.
        cells = [f"{v:,.2f}" for v in values] if number == 1 else values
        sheet.append([plan, code, *cells])
    sheet.append(["รวมทั้งสิ้น", None, *totals])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def main() -> None:
    text = _csv_text()
    (HERE / "disbursements_utf8_bom.csv").write_bytes(text.encode("utf-8-sig"))
    (HERE / "disbursements_tis620.csv").write_bytes(text.encode("tis-620"))
    # A JSON client numbers lines 1, 2 where SAP writes 001, 002: the same lines all the same.
    records = [{**line, "BUZEI": int(line["BUZEI"])} for line in SEED_LINES]
    (HERE / "disbursements.json").write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (HERE / "nfma46.xlsx").write_bytes(_nfma46())


if __name__ == "__main__":
    main()
