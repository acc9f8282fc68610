"""How the citizens' pages (admin_api/pages.py) say things in Thai: stages, systems and kinds of local
organisation by their Thai names; amounts in baht with thousands separators; dates and times in the
Buddhist Era and Thai time; the bars that show a project's money stage by stage.

Pure functions over what the ledger and the master data hold; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from canonical_model import Rejection, fiscal_year_of, format_money, format_thai_date
from canonical_model.thai_dates import THAI_TIME, day_in_thailand

# A project's stage reached (core/ledger.py STAGES), as a citizen reads it.
STAGE_TH = {
    "planned": "อยู่ในแผนพัฒนาท้องถิ่น",
    "budgeted": "ตั้งงบประมาณแล้ว",
    "requested": "ขอรับเงินอุดหนุนแล้ว",
    "procured": "อยู่ระหว่างจัดซื้อจัดจ้าง",
    "contracted": "ลงนามในสัญญาแล้ว",
    "disbursing": "อยู่ระหว่างเบิกจ่าย",
    "completed": "เบิกจ่ายครบตามสัญญาแล้ว",
}
# One step of a project's timeline (core/ledger.py Step.stage).
STEP_TH = {
    "planned": "บรรจุในแผนพัฒนาท้องถิ่น",
    "budgeted": "ตั้งงบประมาณ",
    "requested": "ยื่นคำขอรับเงินอุดหนุน",
    "approved": "สำนักงบประมาณอนุมัติ",
    "procured": "ประกาศจัดซื้อจัดจ้าง",
    "contracted": "ลงนามในสัญญา",
    "disbursed": "เบิกจ่ายเงิน",
}
# The amounts a bar shows, in the order money moves.
BARS = (("planned", "ตามแผน"), ("budgeted", "งบประมาณ"), ("contracted", "ตามสัญญา"), ("disbursed", "เบิกจ่ายแล้ว"))
# Each source system by its Thai name, with the name it is known by in English.
SYSTEM_TH = {
    "eplan": "ระบบสารสนเทศเพื่อการวางแผนพัฒนาท้องถิ่น (e-Plan)",
    "elaas": "ระบบบัญชีคอมพิวเตอร์ขององค์กรปกครองส่วนท้องถิ่น (e-LAAS)",
    "ebudget": "ระบบงบประมาณอิเล็กทรอนิกส์ของสำนักงบประมาณ (e-Budgeting)",
    "egp": "ระบบการจัดซื้อจัดจ้างภาครัฐ (e-GP)",
    "gfmis": "ระบบบริหารการเงินการคลังภาครัฐแบบอิเล็กทรอนิกส์ (GFMIS)",
    "sola": "ระบบ SOLA ของกรมส่งเสริมการปกครองท้องถิ่น",
}
# Kinds of local organisation (core/reference_data.py ORG_TYPES): full name and the short form before a name.
ORG_TYPE_TH = {
    "provincial_admin_org": ("องค์การบริหารส่วนจังหวัด", "อบจ."),
    "city_municipality": ("เทศบาลนคร", "ทน."),
    "town_municipality": ("เทศบาลเมือง", "ทม."),
    "subdistrict_municipality": ("เทศบาลตำบล", "ทต."),
    "subdistrict_admin_org": ("องค์การบริหารส่วนตำบล", "อบต."),
    "special_admin_area": ("องค์กรปกครองส่วนท้องถิ่นรูปแบบพิเศษ", ""),
}
LEADING_VOWELS = "เแโใไ"
BANGKOK = "กรุงเทพมหานคร"


def current_fiscal_year(now: datetime | None = None) -> int:
    """The Thai fiscal year (BE, October to September) of this moment in Thailand."""
    return fiscal_year_of(day_in_thailand(now or datetime.now(UTC)))


def baht(amount: Decimal | None) -> str:
    """'2,450,000 บาท'; satang shown only when there are some ('1,099,000.50 บาท')."""
    if amount is None:
        return "ไม่ระบุจำนวนเงิน"
    return f"{format_money(amount, thousands=True).removesuffix('.00')} บาท"


def thai_date(day: date | None) -> str:
    """'12 มกราคม 2570'; a date outside what the Thai forms can write is shown as ISO rather than lost."""
    if day is None:
        return "ไม่ระบุวันที่"
    try:
        return format_thai_date(day, "full")
    except Rejection:
        return day.isoformat()


def thai_time(moment: datetime) -> str:
    """'1 ธันวาคม 2569 เวลา 17:25 น.' in Thai time."""
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(THAI_TIME)
    return f"{thai_date(local.date())} เวลา {local:%H:%M} น."


def system_name(system: str | None) -> str:
    if not system:
        return "ไม่ทราบระบบต้นทาง"
    return SYSTEM_TH.get(system, system)


def organisation_name(org: Mapping[str, Any]) -> str:
    """'อบต.บ้านใหญ่': the registry keeps the bare name, citizens know it with its kind in front."""
    prefix = ORG_TYPE_TH.get(org.get("org_type") or "", ("", ""))[1]
    return f"{prefix}{org['name_th']}"


def organisation_kind(org: Mapping[str, Any]) -> str:
    return ORG_TYPE_TH.get(org.get("org_type") or "", ("องค์กรปกครองส่วนท้องถิ่น", ""))[0]


def district_name(district: Mapping[str, Any] | None) -> str:
    """'อำเภอเมืองนครนายก'; Bangkok's districts already carry 'เขต'."""
    if not district:
        return "ไม่ทราบอำเภอ"
    name = str(district["name_th"])
    return name if name.startswith("เขต") else f"อำเภอ{name}"


def province_name(province: Mapping[str, Any]) -> str:
    """'จังหวัดนครนายก'; Bangkok is no จังหวัด."""
    name = str(province["name_th"])
    return name if name == BANGKOK else f"จังหวัด{name}"


def thai_sort_key(name: str) -> str:
    """Dictionary order for Thai: a leading vowel (เ แ โ ใ ไ) sorts after the consonant it is written before."""
    if len(name) > 1 and name[0] in LEADING_VOWELS:
        return name[1] + name[0] + name[2:]
    return name


@dataclass(frozen=True)
class Bar:
    label: str
    kind: str
    amount: str
    percent: float  # width, against the largest of the bars
    share_of_plan: int | None  # whole percent of the planned amount, when there is one


def bars(amounts: Mapping[str, Decimal]) -> list[Bar]:
    """The four bars of a project (or a year's total): planned, budgeted, contracted and paid."""
    values = {kind: amounts.get(kind) or Decimal(0) for kind, _ in BARS}
    largest = max(values.values())
    planned = values["planned"]
    out = []
    for kind, label in BARS:
        value = values[kind]
        percent = float(round(value / largest * 100, 1)) if largest > 0 and value > 0 else 0.0
        share = int(value / planned * 100) if planned > 0 and kind != "planned" else None
        out.append(Bar(label, kind, baht(value), max(0.0, percent), share))
    return out
