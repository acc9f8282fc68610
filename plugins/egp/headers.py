"""The open-data CSV headers (data.go.th `egp-contact-25xx`), folded to the spelling the mappings use.

The published resources are exported by hand year after year, and the headers vary in spacing and in
abbreviation (`วิธีจัดซื้อฯ`, `งบประมาณ (บาท)`); the mappings are written once, against the names below.
"""

from __future__ import annotations

import functools

from prasan.canonical import normalize_text, to_arabic_digits

SEQ = "ลำดับ"
PROJECT = "รหัสโครงการ"
TITLE = "ชื่อโครงการ"
TYPE = "ชื่อประเภทโครงการ"
DEPT = "ชื่อหน่วยงาน"
UNIT = "ชื่อหน่วยงานย่อย"
UNIT_CODE = "รหัสหน่วยงาน"
METHOD = "วิธีจัดซื้อจัดจ้าง"
METHOD_GROUP = "กลุ่มวิธีจัดซื้อจัดจ้าง"
ANNOUNCED = "วันที่ประกาศ"
BUDGET = "งบประมาณ(บาท)"
REFERENCE_PRICE = "ราคากลาง(บาท)"
AGREED = "ราคาตกลงซื้อ/จ้าง"
YEAR = "ปีงบประมาณ"
TRANSACTION = "วันที่เกิดรายการ"
PROVINCE = "จังหวัด"
WINNER = "ชื่อผู้ชนะ"
TAX_ID = "เลขนิติบุคคล"
CONTRACT_NO = "เลขที่สัญญา"
SIGNED = "วันที่ลงนามสัญญา"
ENDS = "วันที่สิ้นสุดสัญญา"
CONTRACT_AMOUNT = "งบสัญญา(บาท)"
CONTRACT_STATUS = "สถานะสัญญา"

COLUMNS = (
    SEQ, PROJECT, TITLE, TYPE, DEPT, UNIT, UNIT_CODE, METHOD, METHOD_GROUP, ANNOUNCED, BUDGET, REFERENCE_PRICE,
    AGREED, YEAR, TRANSACTION, PROVINCE, WINNER, TAX_ID, CONTRACT_NO, SIGNED, ENDS, CONTRACT_AMOUNT,
    CONTRACT_STATUS,
)  # fmt: skip
REQUIRED = (PROJECT, TITLE)
# The unit's code is not among the published columns; a producer that knows it sends it under one of these.
_ALIASES = {
    "เลขที่โครงการ": PROJECT,
    "วิธีจัดซื้อฯ": METHOD,
    "กลุ่มวิธีจัดซื้อฯ": METHOD_GROUP,
    "deptsubid": UNIT_CODE,
    "dept_code": UNIT_CODE,
    "รหัสหน่วยงานย่อย": UNIT_CODE,
    "รหัสอปท.": UNIT_CODE,
    "เลขประจำตัวผู้เสียภาษี": TAX_ID,
}


def _squeeze(text: str) -> str:
    return "".join(text.split()).casefold()


_KNOWN = {_squeeze(name): name for name in COLUMNS} | {_squeeze(alias): name for alias, name in _ALIASES.items()}


@functools.lru_cache(maxsize=1024)  # a payload repeats its header names on every row
def canonical_header(raw: str) -> str:
    text = normalize_text(to_arabic_digits(str(raw)))
    return _KNOWN.get(_squeeze(text), text)
