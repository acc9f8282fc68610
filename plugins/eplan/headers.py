"""The ผ.02 column headers: the spellings found in real files, folded to the one the mapping expects.

Printed ผ.02 tables and hand-made exports name the same column several ways (`โครงการ` or
`ชื่อโครงการ`, `งบประมาณ ๒๕๖๖` or `งบประมาณ\n2566 (บาท)`); the mapping is written once, against
the canonical spellings below, so the folding happens here, before it.
"""

from __future__ import annotations

import functools
import re

from prasan.canonical import normalize_text, to_arabic_digits

ORG = "รหัส อปท."
STRATEGY = "ยุทธศาสตร์"
PROGRAMME = "แผนงาน"
TITLE = "ชื่อโครงการ"
OBJECTIVE = "วัตถุประสงค์"
TARGET = "เป้าหมาย (ผลผลิตของโครงการ)"
KPI = "ตัวชี้วัด (KPI)"
EXPECTED = "ผลที่คาดว่าจะได้รับ"
UNIT = "หน่วยงานรับผิดชอบหลัก"
SEQ = "ที่"
CODE = "รหัสโครงการ"
# Which edition of the plan the row comes from: "ฉบับแรก", "เพิ่มเติม ครั้งที่ 1", "เปลี่ยนแปลง ครั้งที่ 2" ...
REVISION = "ฉบับ"
BUDGET_PREFIX = "งบประมาณ "

REQUIRED = (ORG, TITLE)
KNOWN = (ORG, STRATEGY, PROGRAMME, TITLE, OBJECTIVE, TARGET, KPI, EXPECTED, UNIT, SEQ, CODE, REVISION)

_ALIASES = {
    "รหัสอปท.": ORG,
    "รหัสอปท": ORG,
    "รหัส อปท": ORG,
    "โครงการ": TITLE,
    "เป้าหมาย": TARGET,
    "เป้าหมาย(ผลผลิตของโครงการ)": TARGET,
    "ตัวชี้วัด": KPI,
    "ตัวชี้วัด(kpi)": KPI,
    "kpi": KPI,
    "หน่วยงานที่รับผิดชอบ": UNIT,
    "หน่วยงานรับผิดชอบ": UNIT,
    "ลำดับที่": SEQ,
    "ฉบับแผน": REVISION,
    "แผนฉบับ": REVISION,
    "ฉบับที่": REVISION,
}
# "งบประมาณ 2566", "งบประมาณ ปี พ.ศ. ๒๕๖๖ (บาท)", "งบประมาณ\n2566"; a bare year column is not accepted,
# since wide sheets carry other year-named columns (actuals) that must not be read as plan amounts.
_BUDGET = re.compile(r"^งบประมาณ\s*(?:ปี\s*)?(?:พ\.ศ\.\s*)?(\d{4})\s*(?:\(บาท\))?$")


@functools.lru_cache(maxsize=4096)  # a payload repeats its header names on every row
def canonical_header(raw: str) -> str:
    text = normalize_text(to_arabic_digits(str(raw)))
    budget = _BUDGET.match(text)
    if budget:
        return f"{BUDGET_PREFIX}{budget.group(1)}"
    squeezed = text.replace(" ", "").lower()
    for alias, name in _ALIASES.items():
        if squeezed == alias.replace(" ", "").lower():
            return name
    for name in KNOWN:
        if squeezed == name.replace(" ", "").lower():
            return name
    return text


def budget_year_of(header: str) -> int | None:
    if header.startswith(BUDGET_PREFIX) and header[len(BUDGET_PREFIX):].isdigit():
        return int(header[len(BUDGET_PREFIX):])
    return None
