"""How the citizens' pages write figures, dates, times and names in Thai (admin_api/thai_display.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from admin_api import thai_display as th
from canonical_model.thai_dates import day_in_thailand


def test_amounts_are_baht_with_thousands_separators_and_satang_only_when_there_are_some() -> None:
    assert th.baht(Decimal("2450000.00")) == "2,450,000 บาท"
    assert th.baht(Decimal("1099000.50")) == "1,099,000.50 บาท"
    assert th.baht(Decimal("0")) == "0 บาท"
    assert th.baht(Decimal("-1500.00")) == "-1,500 บาท"
    assert th.baht(None) == "ไม่ระบุจำนวนเงิน"


def test_dates_are_buddhist_era_and_a_date_no_thai_form_can_write_is_shown_as_iso() -> None:
    assert th.thai_date(date(2027, 2, 20)) == "20 กุมภาพันธ์ 2570"
    assert th.thai_date(None) == "ไม่ระบุวันที่"
    assert th.thai_date(date(1, 1, 1)) == "0001-01-01"


def test_times_and_days_are_those_of_thailand() -> None:
    late_utc = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)
    assert th.thai_time(late_utc) == "2 ธันวาคม 2569 เวลา 00:30 น."
    assert th.thai_time(late_utc.replace(tzinfo=None)) == "2 ธันวาคม 2569 เวลา 00:30 น."  # stored naive: UTC
    assert day_in_thailand(late_utc) == date(2026, 12, 2)
    assert day_in_thailand(datetime(2026, 12, 2, 0, 30, tzinfo=timezone(timedelta(hours=7)))) == date(2026, 12, 2)


def test_the_current_fiscal_year_turns_at_midnight_of_the_first_of_october_in_thailand() -> None:
    assert th.current_fiscal_year(datetime(2026, 9, 30, 16, 59, tzinfo=UTC)) == 2569
    assert th.current_fiscal_year(datetime(2026, 9, 30, 17, 0, tzinfo=UTC)) == 2570
    assert th.current_fiscal_year(datetime(2027, 9, 30, 16, 59, tzinfo=UTC)) == 2570


def test_names_as_citizens_know_them() -> None:
    org = {"name_th": "บ้านใหญ่", "org_type": "subdistrict_admin_org"}
    assert th.organisation_name(org) == "อบต.บ้านใหญ่"
    assert th.organisation_kind(org) == "องค์การบริหารส่วนตำบล"
    assert th.organisation_name({"name_th": "กรุงเทพมหานคร", "org_type": "special_admin_area"}) == "กรุงเทพมหานคร"
    assert th.district_name({"name_th": "เมืองนครนายก"}) == "อำเภอเมืองนครนายก"
    assert th.district_name({"name_th": "เขตพระนคร"}) == "เขตพระนคร"
    assert th.district_name(None) == "ไม่ทราบอำเภอ"
    assert th.province_name({"name_th": "นครนายก"}) == "จังหวัดนครนายก"
    assert th.province_name({"name_th": "กรุงเทพมหานคร"}) == "กรุงเทพมหานคร"
    assert th.system_name("egp") == "ระบบการจัดซื้อจัดจ้างภาครัฐ (e-GP)"
    assert th.system_name("newsystem") == "newsystem" and th.system_name(None) == "ไม่ทราบระบบต้นทาง"


def test_thai_names_sort_in_dictionary_order_not_code_point_order() -> None:
    names = ["อุบลราชธานี", "เชียงใหม่", "จันทบุรี", "แพร่", "ตาก"]
    assert sorted(names) != sorted(names, key=th.thai_sort_key)
    assert sorted(names, key=th.thai_sort_key) == ["จันทบุรี", "เชียงใหม่", "ตาก", "แพร่", "อุบลราชธานี"]


def test_bars_are_drawn_against_the_largest_amount_and_say_their_share_of_the_plan() -> None:
    amounts = {"planned": Decimal("2450000"), "budgeted": Decimal("2450000"), "contracted": Decimal("2198000"),
               "disbursed": Decimal("1099000"), "procured": Decimal("9999999")}  # fmt: skip
    bars = th.bars(amounts)
    assert [(b.kind, b.label, b.amount) for b in bars] == [
        ("planned", "ตามแผน", "2,450,000 บาท"), ("budgeted", "งบประมาณ", "2,450,000 บาท"),
        ("contracted", "ตามสัญญา", "2,198,000 บาท"), ("disbursed", "เบิกจ่ายแล้ว", "1,099,000 บาท"),
    ]  # fmt: skip
    assert [b.percent for b in bars] == [100.0, 100.0, 89.7, 44.9]
    assert [b.share_of_plan for b in bars] == [None, 100, 89, 44]
    # Contracted above the plan: the contract is the longest bar, and says so.
    over = th.bars({"planned": Decimal("100"), "budgeted": Decimal("100"), "contracted": Decimal("150"), "disbursed": Decimal("0")})
    assert [b.percent for b in over] == [66.7, 66.7, 100.0, 0.0] and over[2].share_of_plan == 150


def test_bars_of_nothing_or_of_negative_amounts_stay_empty() -> None:
    assert [b.percent for b in th.bars({})] == [0.0] * 4
    assert [b.share_of_plan for b in th.bars({})] == [None] * 4
    negative = th.bars({"planned": Decimal("100"), "disbursed": Decimal("-50")})
    assert negative[3].percent == 0.0 and negative[3].amount == "-50 บาท"
