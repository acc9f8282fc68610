"""Property: map_out(map_in(x)) gives back the mapped fields of x, for a representative mapping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from core.mapping import Mapping

MAPPING = Mapping.from_yaml(
    r"""
mapping: roundtrip
version: 1
system: demo
entity_type: plan_project
fields:
  - {target: title, source: ชื่อโครงการ, convert: text}
  - {target: project_code, source: รหัส, convert: code}
  - {target: fiscal_year, source: ปี, convert: {fiscal_year: ce}}
  - {target: approved_on, source: วันที่อนุมัติ, required: false, convert: {thai_date: slash_be}}
  - {target: amount, source: งบ, convert: {money: {allow_negative: true}}}
  - {target: kind, source: ประเภท, convert: {map: {ซื้อ: purchase, จ้าง: hire, เช่า: rent}}}
  - {target: location.subdistrict_code, source: ที่ตั้ง.ตำบล, required: false, convert: {code: dopa-subdistrict}}
  - {target: status, const: draft}
  - target: budget_by_year
    required: false
    unpivot:
      pattern: '^งบประมาณ (?P<fiscal_year>\d{4})$'
      column: "งบประมาณ {fiscal_year}"
      keys: {fiscal_year: {fiscal_year: be}}
      convert: {money: {out: thousands}}
  - target: items
    each: รายการ
    required: false
    fields:
      - {target: name, source: ชื่อ, convert: text}
      - {target: qty, source: จำนวน, convert: int}
"""
)

thai_words = st.text(alphabet="กขคงจฉชซดตถทนบปผพฟมยรลวสหอะาิีึืุู่้๊๋์ 0123456789", min_size=1, max_size=30).filter(
    lambda s: s.strip() not in ("", "-")
)
money_text = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2).map(lambda d: f"{d:.2f}")


@st.composite
def records(draw: st.DrawFn) -> dict[str, object]:
    record: dict[str, object] = {
        "ชื่อโครงการ": draw(thai_words),
        "รหัส": draw(st.from_regex(r"[A-Z0-9]{1,12}", fullmatch=True)),
        "ปี": draw(st.integers(1960, 2150)),
        "งบ": draw(money_text),
        "ประเภท": draw(st.sampled_from(["ซื้อ", "จ้าง", "เช่า"])),
    }
    if draw(st.booleans()):
        day = draw(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2150, 12, 31)))
        record["วันที่อนุมัติ"] = f"{day.day:02d}/{day.month:02d}/{day.year + 543}"
    if draw(st.booleans()):
        record["ที่ตั้ง"] = {"ตำบล": draw(st.from_regex(r"[1-9][0-9]{5}", fullmatch=True))}
    for year in draw(st.sets(st.integers(2500, 2650), max_size=5)):
        amount = draw(st.decimals(min_value=0, max_value=Decimal("1e11"), places=2))
        record[f"งบประมาณ {year}"] = f"{amount:,.2f}"
    if draw(st.booleans()):
        record["รายการ"] = draw(
            st.lists(st.fixed_dictionaries({"ชื่อ": thai_words, "จำนวน": st.integers(0, 10**6)}), max_size=4)
        )
    return record


def _normalised(record: dict[str, object]) -> dict[str, object]:
    """The same record as the mapping writes it back: normalised text and canonical money text."""
    from canonical_model.thai_text import normalize_text

    out = dict(record)
    out["ชื่อโครงการ"] = normalize_text(str(record["ชื่อโครงการ"]))
    out["งบ"] = f"{Decimal(str(record['งบ'])):.2f}"
    if "รายการ" in out:
        out["รายการ"] = [{"ชื่อ": normalize_text(i["ชื่อ"]), "จำนวน": i["จำนวน"]} for i in record["รายการ"]]  # type: ignore[attr-defined]
    return out


@settings(max_examples=300, deadline=None)
@given(records())
def test_map_out_of_map_in_reproduces_the_record(record: dict[str, object]) -> None:
    payload = MAPPING.map_in(record)
    assert MAPPING.map_out(payload) == _normalised(record)
    # And the canonical side is a fixed point.
    assert MAPPING.map_in(MAPPING.map_out(payload)) == payload
