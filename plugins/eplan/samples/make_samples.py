"""Regenerate the ผ.02 sample files in this folder: the same projects as CSV (UTF-8 with BOM and
TIS-620), XLSX and JSON. Run: `python -m plugins.eplan.samples.make_samples`.

The organisations are real (config/masterdata/lao_registry.csv) and the แผนงาน are names of the local
classification; the projects themselves are made up in the style of published ผ.02 tables.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

HERE = Path(__file__).parent
# The CSV variants write the year headers in Thai digits, as printed forms do; XLSX and JSON use Arabic.
HEADER = [
    "ที่", "รหัส อปท.", "ยุทธศาสตร์", "แผนงาน", "ชื่อโครงการ", "วัตถุประสงค์", "เป้าหมาย (ผลผลิตของโครงการ)",
    "งบประมาณ 2566", "งบประมาณ 2567", "งบประมาณ 2568", "งบประมาณ 2569", "งบประมาณ 2570",
    "ตัวชี้วัด (KPI)", "ผลที่คาดว่าจะได้รับ", "หน่วยงานรับผิดชอบหลัก",
]
THAI_YEAR = {f"งบประมาณ {y}": "งบประมาณ " + str(y).translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙"))
             for y in range(2566, 2571)}
ROWS = [
    ["1", "5400103", "การพัฒนาโครงสร้างพื้นฐาน", "อุตสาหกรรมและการโยธา",
     "ก่อสร้างถนนคอนกรีตเสริมเหล็ก สายบ้านหนองโข่ง หมู่ที่ 7", "เพื่อให้ประชาชนสัญจรได้สะดวก",
     "ถนน คสล. กว้าง 4 เมตร ยาว 300 เมตร", "๑,๒๐๐,๐๐๐", "-", "1,200,000.00", "", "-",
     "ร้อยละ 80 ของผู้ใช้เส้นทางพึงพอใจ", "การคมนาคมสะดวก ปลอดภัย", "กองช่าง"],
    ["2", "5400103", "การพัฒนาคุณภาพชีวิต", "การศึกษา", "สนับสนุนค่าใช้จ่ายการบริหารสถานศึกษา (อาหารกลางวัน)",
     "เพื่อให้เด็กนักเรียนได้รับอาหารกลางวันครบทุกคน", "นักเรียน 250 คน",
     "1,085,000", "1,085,000", "1,120,000", "1,120,000", "1,150,000",
     "นักเรียนร้อยละ 100 ได้รับอาหารกลางวัน", "นักเรียนมีภาวะโภชนาการที่ดี", "กองการศึกษา"],
    ["3", "4500103", "การพัฒนาสาธารณสุขและสิ่งแวดล้อม", "สาธารณสุข", "ควบคุมโรคพิษสุนัขบ้า",
     "เพื่อป้องกันการแพร่ระบาดของโรคพิษสุนัขบ้า", "สุนัขและแมว ๓,๐๐๐ ตัว", "90,000", "90,000", "95,000", "", "",
     "ไม่มีผู้ป่วยโรคพิษสุนัขบ้า", "ประชาชนปลอดภัยจากโรคพิษสุนัขบ้า", "กองสาธารณสุขและสิ่งแวดล้อม"],
    ["4", "4500103", "การพัฒนาสาธารณสุขและสิ่งแวดล้อม", "เคหะและชุมชน", "ก่อสร้างรางระบายน้ำ ซอย 3 ชุมชนแม่เหียะใน",
     "เพื่อแก้ไขปัญหาน้ำท่วมขัง", "รางระบายน้ำ ยาว 200 เมตร", "", "850,000.00", "", "", "",
     "น้ำไม่ท่วมขังในฤดูฝน", "ชุมชนไม่มีน้ำท่วมขัง", "กองช่าง"],
    ["5", "2500101", "การบริหารจัดการที่ดี", "บริหารงานทั่วไป", "จัดทำแผนพัฒนาท้องถิ่นแบบมีส่วนร่วม",
     "เพื่อให้ประชาชนมีส่วนร่วมในการจัดทำแผน", "ประชาคม 25 อำเภอ", "500,000", "500,000", "500,000", "500,000", "500,000",
     "จัดประชาคมครบทุกอำเภอ", "แผนพัฒนาตรงกับความต้องการของประชาชน", "กองยุทธศาสตร์และงบประมาณ"],
]


def _csv_text() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([THAI_YEAR.get(name, name) for name in HEADER])
    writer.writerows(ROWS)
    writer.writerow(["รวม", "", "", "", "", "", "", "", "", "", "", "", "", "", ""])
    return out.getvalue()


def main() -> None:
    text = _csv_text()
    (HERE / "p02_utf8_bom.csv").write_bytes(text.encode("utf-8-sig"))
    (HERE / "p02_tis620.csv").write_bytes(text.encode("tis-620"))
    records = [dict(zip(HEADER, row)) for row in ROWS]
    # JSON: the newer issue-based format, which has no KPI column.
    for record in records:
        record.pop("ตัวชี้วัด (KPI)")
        record.pop("ที่")
    (HERE / "p02.json").write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "ผ.02"
    sheet.append(HEADER)
    for row in ROWS:
        # Excel users type plain numbers; keep them as numbers where they are plain Arabic amounts.
        cells: list[object] = []
        for name, value in zip(HEADER, row):
            plain = value.replace(",", "")
            if name.startswith("งบประมาณ") and plain.replace(".", "", 1).isdigit() and "." not in plain:
                cells.append(int(plain))
            else:
                cells.append(value)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    (HERE / "p02.xlsx").write_bytes(buffer.getvalue())


if __name__ == "__main__":
    main()
