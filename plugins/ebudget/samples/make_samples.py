"""Regenerate the bbgfproject samples in this folder. Run: `python -m plugins.ebudget.samples.make_samples`.

The rows are made up in the shape and style of the Budget Bureau's open data (bbgfproject), with the
quirks real rows have: names wrapped in quotes and holding tabs, plan names with a trailing space,
the API's short spellings of งบรายจ่าย (งบอุดหนุน, รายจ่ายอื่น), one BB code carrying a personnel and an
operating line, the year as text, and GF-MIS totals with satang. Organisations are real (DLA registry).

- bbgfproject_2559.json: a JSON array, UTF-8, FY 2559 (plans the shipped national classification knows);
- bbgfproject_2568.jsonl: JSON lines, FY 2568, integrated plans the classification has not seen, amounts
  with satang, and one row that is also in the 2559 file (the same line pushed in two formats);
- bbgfproject_tis620.json: an API page `{"result": [...]}` re-typed by hand in TIS-620, year and amounts
  in Thai digits.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).parent
MOI = {"min_code": "15000", "min": "กระทรวงมหาดไทย"}
DLA = {**MOI, "agc_code": "15008", "agc": "กรมส่งเสริมการปกครองท้องถิ่น"}
DECENTRALISE_2559 = "ส่งเสริมการกระจายอำนาจให้แก่องค์กรปกครองส่วนท้องถิ่น"
GOOD_GOVERNANCE = "ยุทธศาสตร์การบริหารกิจการบ้านเมืองที่ดี"


def _row(bb_code: str, year: str, amount: object, name: str, plan: str, objc: str, province: str,
         gf: object = 0, agency: dict[str, str] = DLA, strategy: str = GOOD_GOVERNANCE) -> dict[str, object]:
    return {"bb_code": bb_code, "bb_year": year, "amount": amount, **agency, "name": name, "plan_name": plan,
            "stg_name": strategy, "objc_level1_name": objc,
            "compare": [{"bb_amount": amount, "bb_province": province}], "gf_amount_sum": gf}


ROWS_2559 = [
    _row("1500883002600K01", "2559", 10444000,
         '"ก่อสร้างอาคารเรียน 4 ชั้น 12 ห้องเรียน โรงเรียนเทศบาลบ้านเป็ด เทศบาลตำบลบ้านเป็ด'
         ' อำเภอเมืองขอนแก่น\tจังหวัดขอนแก่น"',
         DECENTRALISE_2559, "งบลงทุน", "ขอนแก่น", gf=5222000),
    _row("1500883002500007", "2559", 31250000, '"เงินอุดหนุนสำหรับสนับสนุนอาหารเสริม (นม)\t\t"',
         DECENTRALISE_2559, "งบอุดหนุน", "เชียงใหม่", gf=Decimal("31249512.5")),
    # One BB code, two lines: the personnel and the operating part of the same item.
    _row("1500425014000000", "2559", 4380000, "ค่าใช้จ่ายในการพัฒนาเศรษฐกิจฐานรากตามแนวทางประชารัฐ",
         "พัฒนาเศรษฐกิจระดับฐานราก ", "งบบุคลากร", "กรุงเทพมหานคร",
         agency={**MOI, "agc_code": "15004", "agc": "กรมการพัฒนาชุมชน"}),
    _row("1500425014000000", "2559", 12650000, "ค่าใช้จ่ายในการพัฒนาเศรษฐกิจฐานรากตามแนวทางประชารัฐ",
         "พัฒนาเศรษฐกิจระดับฐานราก ", "งบดำเนินงาน", "กรุงเทพมหานคร", gf=11873000,
         agency={**MOI, "agc_code": "15004", "agc": "กรมการพัฒนาชุมชน"}),
    _row("1500382009700004", "2559", 96000000, "ค่าใช้จ่ายในการขับเคลื่อนนโยบายในระดับอำเภอและท้องที่",
         "พัฒนาประสิทธิภาพการบริหารราชการแผ่นดิน", "รายจ่ายอื่น", "กรุงเทพมหานคร", gf=Decimal("95112830.45"),
         agency={**MOI, "agc_code": "15003", "agc": "กรมการปกครอง"}),
]

INTEGRATED_SOUTH = "แผนงานบูรณาการขับเคลื่อนการแก้ไขปัญหาจังหวัดชายแดนภาคใต้"
INTEGRATED_REGION = "แผนงานบูรณาการพัฒนาพื้นที่ระดับภาค"
DECENTRALISE_2568 = "แผนงานยุทธศาสตร์ส่งเสริมการกระจายอำนาจให้แก่องค์กรปกครองส่วนท้องถิ่น"
ROWS_2568 = [
    _row("1500852002600101", "2568", Decimal("2457500.50"),
         "ก่อสร้างถนนคอนกรีตเสริมเหล็ก สายบ้านคลองท่อมใต้ หมู่ที่ 2 เทศบาลตำบลคลองท่อมใต้",
         DECENTRALISE_2568, "งบลงทุน", "กระบี่", gf=Decimal("1228750.25")),
    _row("1500861002600102", "2568", 8900000,
         '"ก่อสร้างระบบประปาหมู่บ้าน แบบผิวดินขนาดใหญ่ องค์การบริหารส่วนตำบลคลองท่อมเหนือ\t"',
         INTEGRATED_REGION, "งบลงทุน", "กระบี่"),
    _row("1500854002500103", "2568", Decimal("1500000.75"),
         "เงินอุดหนุนสำหรับส่งเสริมความเข้มแข็งของชุมชนในจังหวัดชายแดนภาคใต้",
         INTEGRATED_SOUTH, "งบอุดหนุน", "ปัตตานี"),
    ROWS_2559[0],  # the same line as in the 2559 file: it must become the same entity
]

# A hand-made export: the year and amounts typed in Thai digits, saved by a legacy tool in TIS-620.
HAND_TYPED = [
    {**ROWS_2568[0], "bb_year": "๒๕๖๘", "amount": "๒,๔๕๗,๕๐๐.๕๐", "gf_amount_sum": "๑,๒๒๘,๗๕๐.๒๕"},
    {**ROWS_2559[1], "bb_year": "๒๕๕๙", "amount": "๓๑,๒๕๐,๐๐๐"},
]


def _text(rows: object, indent: int | None = 1) -> str:
    from plugins.ebudget.simulator import dumps_json

    return dumps_json(rows, indent) + "\n"


def main() -> None:
    (HERE / "bbgfproject_2559.json").write_text(_text(ROWS_2559), encoding="utf-8")
    lines = "".join(_text(row, None) for row in ROWS_2568)
    (HERE / "bbgfproject_2568.jsonl").write_text(lines, encoding="utf-8")
    (HERE / "bbgfproject_tis620.json").write_bytes(_text({"result": HAND_TYPED}).encode("tis-620"))


if __name__ == "__main__":
    main()
