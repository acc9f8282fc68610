from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from canonical_model.fiscal_year import (
    FiscalYear,
    fiscal_year_bounds,
    fiscal_year_from_egp_project_number,
    fiscal_year_from_gfmis_fund,
    fiscal_year_from_two_digit_be,
    fiscal_year_of,
    parse_fiscal_year,
)
from canonical_model.rejection import Rejection
from canonical_model.thai_digits import to_thai_digits

PROPERTY = settings(max_examples=200, deadline=None)
FISCAL_YEARS = st.integers(min_value=2400, max_value=2700)
DATES = st.dates(min_value=date(1857, 10, 1), max_value=date(2157, 9, 30))


def rule_of(call, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(Rejection) as caught:
        call(*args, **kwargs)
    assert caught.value.reason
    return caught.value.rule


def test_reference_fiscal_year_2568() -> None:
    assert fiscal_year_bounds(2568) == (date(2024, 10, 1), date(2025, 9, 30))
    assert fiscal_year_of(date(2024, 9, 30)) == 2567
    assert fiscal_year_of(date(2024, 10, 1)) == 2568
    assert fiscal_year_of(date(2025, 9, 30)) == 2568


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (2568, 2568),
        ("2568", 2568),  # govspending budget_year
        ("๒๕๖๘", 2568),
        ("พ.ศ. 2568", 2568),
        ("ปีงบประมาณ 2568", 2568),
        ("ปีงบประมาณ พ.ศ. ๒๕๖๘", 2568),
        ("FY2568", 2568),
        ("fy 2568", 2568),
        ("68", 2568),
        (" 2559 ", 2559),
    ],
)
def test_parses_be_forms(raw: object, expected: int) -> None:
    assert parse_fiscal_year(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [(2022, 2565), ("2022", 2565), ("๒๐๒๕", 2568), ("ค.ศ. 2025", 2568)]
)
def test_parses_ce_when_the_source_writes_ce(raw: object, expected: int) -> None:
    # kaogeek budget CSV writes the fiscal year in CE (reference §4)
    assert parse_fiscal_year(raw, era="ce") == expected


def test_explicit_era_marker_wins_over_the_mode() -> None:
    assert parse_fiscal_year("พ.ศ. 2568", era="ce") == 2568
    assert parse_fiscal_year("ค.ศ. 2025", era="be") == 2568


@pytest.mark.parametrize(
    ("raw", "era", "rule"),
    [
        (2025, "be", "fiscal_year.ce_where_be_expected"),
        ("2022", "be", "fiscal_year.ce_where_be_expected"),
        (1900, "be", "fiscal_year.ce_where_be_expected"),
        (2568, "ce", "fiscal_year.be_where_ce_expected"),
        ("2400", "ce", "fiscal_year.be_where_ce_expected"),
        (2701, "be", "fiscal_year.out_of_range"),
        (2300, "be", "fiscal_year.out_of_range"),
        (1800, "ce", "fiscal_year.out_of_range"),
        (68, "be", "fiscal_year.out_of_range"),
        ("68", "ce", "fiscal_year.unknown_format"),
        ("256", "be", "fiscal_year.unknown_format"),
        ("2566-2570", "be", "fiscal_year.unknown_format"),
        ("", "be", "fiscal_year.unknown_format"),
        (2568.0, "be", "fiscal_year.not_a_year"),
        (True, "be", "fiscal_year.not_a_year"),
        (None, "be", "fiscal_year.not_a_year"),
    ],
)
def test_rejections(raw: object, era: str, rule: str) -> None:
    assert rule_of(parse_fiscal_year, raw, era=era) == rule


def test_unknown_era_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="era"):
        parse_fiscal_year(2568, era="ad")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("68069160377", 2568),  # created June 2568, announced 19 มิ.ย. 68
        ("67089336878", 2567),  # created August 2567
        ("67109336878", 2568),  # October opens the next fiscal year
        ("๖๘๐๖๙๑๖๐๓๗๗", 2568),
    ],
)
def test_egp_project_number(number: str, expected: int) -> None:
    assert fiscal_year_from_egp_project_number(number) == expected


def test_egp_project_number_with_impossible_month_is_rejected() -> None:
    assert rule_of(fiscal_year_from_egp_project_number, "68139160377") == "code.egp-project.month"


@pytest.mark.parametrize(("fund", "expected"), [("6011220", 2560), ("5911500", 2559), (6011220, 2560)])
def test_gfmis_fund_source(fund: object, expected: int) -> None:
    assert fiscal_year_from_gfmis_fund(fund) == expected


def test_gfmis_fund_source_must_have_seven_digits() -> None:
    assert rule_of(fiscal_year_from_gfmis_fund, "601122") == "code.gfmis-fund.format"


@PROPERTY
@given(DATES)
def test_a_date_lies_within_the_bounds_of_its_fiscal_year(day: date) -> None:
    fiscal_year = fiscal_year_of(day)
    start, end = fiscal_year_bounds(fiscal_year)
    assert start <= day <= end
    assert fiscal_year == day.year + 543 + (1 if day.month >= 10 else 0)


@PROPERTY
@given(FISCAL_YEARS)
def test_bounds_are_contiguous_and_a_year_long(fiscal_year: int) -> None:
    start, end = fiscal_year_bounds(fiscal_year)
    assert (start.month, start.day, end.month, end.day) == (10, 1, 9, 30)
    assert fiscal_year_of(start) == fiscal_year_of(end) == fiscal_year
    assert fiscal_year_of(start - timedelta(days=1)) == fiscal_year - 1
    if fiscal_year < 2700:
        assert fiscal_year_bounds(fiscal_year + 1)[0] == end + timedelta(days=1)


@PROPERTY
@given(FISCAL_YEARS, st.sampled_from(["{}", "พ.ศ. {}", "ปีงบประมาณ {}", "FY{}", " {} "]))
def test_thai_digits_parse_like_arabic_digits(fiscal_year: int, template: str) -> None:
    arabic = template.format(fiscal_year)
    assert parse_fiscal_year(to_thai_digits(arabic)) == parse_fiscal_year(arabic) == fiscal_year


@PROPERTY
@given(st.integers(min_value=1900, max_value=2157))
def test_ce_years_convert_in_ce_mode_and_are_refused_in_be_mode(ce_year: int) -> None:
    assert parse_fiscal_year(ce_year, era="ce") == ce_year + 543
    assert parse_fiscal_year(str(ce_year), era="ce") == ce_year + 543
    assert rule_of(parse_fiscal_year, ce_year) == "fiscal_year.ce_where_be_expected"


@PROPERTY
@given(FISCAL_YEARS)
def test_be_years_are_refused_in_ce_mode(fiscal_year: int) -> None:
    assert rule_of(parse_fiscal_year, fiscal_year, era="ce") == "fiscal_year.be_where_ce_expected"


@PROPERTY
@given(st.integers(min_value=0, max_value=99))
def test_two_digit_years_fall_in_the_2500s(short: int) -> None:
    text = f"{short:02d}"
    assert fiscal_year_from_two_digit_be(text) == fiscal_year_from_two_digit_be(short) == 2500 + short
    assert parse_fiscal_year(text) == parse_fiscal_year(to_thai_digits(text)) == 2500 + short


@PROPERTY
@given(
    st.integers(min_value=40, max_value=99),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=0, max_value=9_999_999),
)
def test_egp_number_gives_the_fiscal_year_of_its_creation_month(year: int, month: int, running: int) -> None:
    number = f"{year:02d}{month:02d}{running:07d}"
    created = date(2500 + year - 543, month, 1)
    assert fiscal_year_from_egp_project_number(number) == fiscal_year_of(created)
    assert fiscal_year_from_egp_project_number(to_thai_digits(number)) == fiscal_year_of(created)


@PROPERTY
@given(st.integers(min_value=10, max_value=99), st.integers(min_value=0, max_value=99_999))
def test_gfmis_fund_year_is_its_first_two_digits(year: int, rest: int) -> None:
    assert fiscal_year_from_gfmis_fund(f"{year:02d}{rest:05d}") == 2500 + year


class Report(BaseModel):
    fiscal_year: FiscalYear


def test_annotated_type_parses_and_serialises_as_an_integer() -> None:
    report = Report(fiscal_year="ปีงบประมาณ ๒๕๖๘")
    assert report.fiscal_year == 2568
    assert report.model_dump_json() == '{"fiscal_year":2568}'
    assert Report.model_validate_json(report.model_dump_json()) == report
    assert Report.model_json_schema()["properties"]["fiscal_year"]["type"] == "integer"


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (2025, "fiscal_year.ce_where_be_expected"),
        ("3000", "fiscal_year.out_of_range"),
        (2568.5, "fiscal_year.not_a_year"),
    ],
)
def test_annotated_type_reports_the_rule(raw: object, rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Report(fiscal_year=raw)
    assert caught.value.errors()[0]["type"] == rule
