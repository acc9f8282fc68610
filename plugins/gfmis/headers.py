"""The native field names of a disbursement line, and the spellings that mean them.

GF-MIS data reaches the hub in two vocabularies: the Thai column headers of its web reports and of
hand-made exports (CSV), and the SAP field names of the coding block (the poll API and JSON pushes).
The mapping is written once, against the Thai names below, so both are folded to them first.
"""

from __future__ import annotations

import functools

from prasan.canonical import normalize_text, to_arabic_digits

AGENCY = "รหัสหน่วยงาน"
PAYING_UNIT = "รหัสหน่วยเบิกจ่าย"
COST_CENTRE = "รหัสศูนย์ต้นทุน"
BUDGET_CODE = "รหัสงบประมาณ"
FUND = "รหัสแหล่งของเงิน"
GL = "รหัสบัญชีแยกประเภท"
DOCUMENT = "เลขที่เอกสาร"
LINE = "ลำดับรายการ"
POSTED = "วันที่ผ่านรายการ"
AMOUNT = "จำนวนเงิน"
TAX_ID = "เลขประจำตัวผู้เสียภาษี"

REQUIRED = (AGENCY, DOCUMENT, POSTED, AMOUNT, FUND)
KNOWN = (AGENCY, PAYING_UNIT, COST_CENTRE, BUDGET_CODE, FUND, GL, DOCUMENT, LINE, POSTED, AMOUNT, TAX_ID)

# SAP names are confirmed for the coding block (BUKRS .. WRBTR); BELNR, BUZEI and BUDAT are SAP's usual
# names for the document number, its line and the posting date (inferred: not seen in a GF-MIS export).
_ALIASES = {
    "bukrs": AGENCY,
    "zzpmt": PAYING_UNIT,
    "kostl": COST_CENTRE,
    "fistl": BUDGET_CODE,
    "geber": FUND,
    "hkont": GL,
    "belnr": DOCUMENT,
    "buzei": LINE,
    "budat": POSTED,
    "wrbtr": AMOUNT,
    "search_term": TAX_ID,
    "stcd3": TAX_ID,
    "แหล่งของเงิน": FUND,
    "บัญชีแยกประเภท": GL,
    "ศูนย์ต้นทุน": COST_CENTRE,
    "หน่วยเบิกจ่าย": PAYING_UNIT,
    "เลขที่เอกสารขอเบิก": DOCUMENT,
    "วันที่บันทึกรายการ": POSTED,
    "จำนวนเงิน(บาท)": AMOUNT,
    "จำนวนเงินขอเบิก": AMOUNT,
    "เลขประจำตัวผู้เสียภาษีอากร": TAX_ID,
}
_BY_SQUEEZED = {**{name.replace(" ", ""): name for name in KNOWN}, **_ALIASES}


@functools.lru_cache(maxsize=1024)  # a payload repeats its header names on every row
def canonical_header(raw: str) -> str:
    text = normalize_text(to_arabic_digits(str(raw)))
    return _BY_SQUEEZED.get(text.replace(" ", "").lower(), text)
