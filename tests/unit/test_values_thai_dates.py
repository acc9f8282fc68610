import calendar
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from canonical_model.rejection import Rejection
from canonical_model.thai_dates import (
    DATE_STYLES,
    MONTH_ABBREVIATIONS_TH,
    MONTH_NAMES_TH,
    OptionalThaiDate,
    ThaiDate,
    format_thai_date,
    parse_period,
    parse_thai_date,
)
from canonical_model.thai_digits import to_thai_digits

PROPERTY = settings(max_examples=200, deadline=None)
# The 2-digit BE window is 2500..2599, i.e. 1957..2056 CE.
WINDOW_DATES = st.dates(min_value=date(1957, 1, 1), max_value=date(2056, 12, 31))
BE_DATES = st.dates(min_value=date(1857, 1, 1), max_value=date(2300, 12, 31))


def rule_of(call, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(Rejection) as caught:
        call(*args)
    assert caught.value.reason
    return caught.value.rule


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("19 มิ.ย. 68", date(2025, 6, 19)),  # data.go.th e-GP announcement date
        ("5 ก.ย. 67", date(2024, 9, 5)),
        ("25 กรกฎาคม 2559", date(2016, 7, 25)),  # GFMIS web
        ("11/06/2568", date(2025, 6, 11)),
        ("1/6/2568", date(2025, 6, 1)),
        ("11-06-2568", date(2025, 6, 11)),
        ("11.06.2568", date(2025, 6, 11)),
        ("2568-06-11", date(2025, 6, 11)),  # ISO with a BE year
        ("2025-06-11", date(2025, 6, 11)),
        ("2025-06-11T10:30:00+07:00", date(2025, 6, 11)),
        ("๑๙ มิ.ย. ๖๘", date(2025, 6, 19)),
        ("๑๑/๐๖/๒๕๖๘", date(2025, 6, 11)),
        ("วันที่ 19 มิถุนายน พ.ศ. 2568", date(2025, 6, 19)),
        ("วันพฤหัสบดีที่ ๑๙ มิถุนายน พ.ศ. ๒๕๖๘", date(2025, 6, 19)),
        ("19 มิย 68", date(2025, 6, 19)),
        ("19 มิ. ย. 68", date(2025, 6, 19)),
        ("19มิ.ย.68", date(2025, 6, 19)),
        ("\u200b19\u00a0มิ.ย.\t68 ", date(2025, 6, 19)),
        ("29 ก.พ. 67", date(2024, 2, 29)),  # 2024 is a leap year
        ("1 ม.ค. 2500", date(1957, 1, 1)),
        ("31 ธันวาคม 2599", date(2056, 12, 31)),
        ("11/06/2025 ค.ศ.", date(2025, 6, 11)),
        (date(2025, 6, 11), date(2025, 6, 11)),
        (datetime(2025, 6, 11, 23, 59), date(2025, 6, 11)),
    ],
)
def test_parses_the_reference_forms(raw: object, expected: date) -> None:
    assert parse_thai_date(raw) == expected


@pytest.mark.parametrize("raw", ["-", "–", "—", "", "   ", None])
def test_null_markers_mean_no_date(raw: object) -> None:
    assert parse_thai_date(raw) is None


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("31 ก.พ. 68", "date.impossible"),
        ("29 ก.พ. 68", "date.impossible"),  # 2025 is not a leap year
        ("30/02/2568", "date.impossible"),
        ("01/13/2568", "date.impossible"),
        ("2568-13-01", "date.impossible"),
        ("0/1/2568", "date.impossible"),
        ("31 เม.ย. 68", "date.impossible"),
        ("11/06/2025", "date.ce_year_where_be_expected"),
        ("25 กรกฎาคม 2016", "date.ce_year_where_be_expected"),
        ("11/06/68", "date.two_digit_year"),
        ("19 มิถุ 68", "date.unknown_month"),
        ("19 June 68", "date.unknown_month"),
        ("1-ม.ค.", "date.unknown_format"),  # an Excel-mangled house number, reference §4
        ("มิ.ย. 68", "date.unknown_format"),
        ("abc", "date.unknown_format"),
        ("2568", "date.unknown_format"),
        ("11/06-2568", "date.unknown_format"),
        (20250611, "date.unknown_format"),
        (1.5, "date.unknown_format"),
    ],
)
def test_rejections(raw: object, rule: str) -> None:
    assert rule_of(parse_thai_date, raw) == rule


def test_month_tables_are_complete() -> None:
    # Checked against the rule Thai abbreviates by rather than a copy of the table: the start of the name,
    # then the consonant of its ending, which tells the month's length (-คม 31 days, -ยน 30, -พันธ์ February).
    ending_by_length = {31: "ค", 30: "ย", 28: "พ"}
    assert len(MONTH_NAMES_TH) == len(set(MONTH_ABBREVIATIONS_TH)) == 13
    for month in range(1, 13):
        head, ending, rest = MONTH_ABBREVIATIONS_TH[month].split(".")
        assert MONTH_NAMES_TH[month].startswith(head) and rest == ""
        assert ending == ending_by_length[calendar.monthrange(2025, month)[1]]
    for month in range(1, 13):
        for name in (
            MONTH_NAMES_TH[month],
            MONTH_ABBREVIATIONS_TH[month],
            MONTH_ABBREVIATIONS_TH[month].replace(".", ""),
        ):
            assert parse_thai_date(f"1 {name} 2568") == date(2025, month, 1)


def test_formats_of_one_date() -> None:
    day = date(2025, 6, 19)
    assert format_thai_date(day, "abbr_2digit") == "19 มิ.ย. 68"
    assert format_thai_date(day, "full") == "19 มิถุนายน 2568"
    assert format_thai_date(day, "slash_be") == "19/06/2568"
    assert format_thai_date(day, "iso_be") == "2568-06-19"


def test_formatting_refuses_what_would_not_read_back() -> None:
    assert rule_of(format_thai_date, date(2057, 1, 1), "abbr_2digit") == "date.two_digit_window"
    assert rule_of(format_thai_date, date(1800, 1, 1), "iso_be") == "date.out_of_range"
    with pytest.raises(ValueError, match="style"):
        format_thai_date(date(2025, 1, 1), "long")  # type: ignore[arg-type]


@PROPERTY
@given(WINDOW_DATES, st.sampled_from(DATE_STYLES))
def test_every_style_reads_back_to_the_same_date(day: date, style: str) -> None:
    assert parse_thai_date(format_thai_date(day, style)) == day  # type: ignore[arg-type]


@PROPERTY
@given(BE_DATES, st.sampled_from(["full", "slash_be", "iso_be"]))
def test_four_digit_styles_read_back_outside_the_two_digit_window(day: date, style: str) -> None:
    assert parse_thai_date(format_thai_date(day, style)) == day  # type: ignore[arg-type]


@PROPERTY
@given(WINDOW_DATES, st.sampled_from(DATE_STYLES))
def test_thai_digits_parse_like_arabic_digits(day: date, style: str) -> None:
    arabic = format_thai_date(day, style)  # type: ignore[arg-type]
    assert parse_thai_date(to_thai_digits(arabic)) == parse_thai_date(arabic) == day


@PROPERTY
@given(BE_DATES)
def test_iso_be_and_iso_ce_agree(day: date) -> None:
    assert parse_thai_date(format_thai_date(day, "iso_be")) == parse_thai_date(day.isoformat()) == day


@PROPERTY
@given(
    st.integers(min_value=2400, max_value=2700),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=29, max_value=35),
    st.sampled_from(["slash", "full", "abbr"]),
)
def test_days_past_the_end_of_the_month_are_impossible(be_year: int, month: int, day: int, form: str) -> None:
    if day <= calendar.monthrange(be_year - 543, month)[1]:
        assert parse_thai_date(f"{day}/{month}/{be_year}") == date(be_year - 543, month, day)
        return
    text = {
        "slash": f"{day:02d}/{month:02d}/{be_year}",
        "full": f"{day} {MONTH_NAMES_TH[month]} {be_year}",
        "abbr": f"{day} {MONTH_ABBREVIATIONS_TH[month]} {be_year}",
    }[form]
    assert rule_of(parse_thai_date, text) == "date.impossible"


@PROPERTY
@given(
    st.integers(min_value=1, max_value=28),
    st.integers(min_value=13, max_value=99),
    st.integers(min_value=2400, max_value=2700),
)
def test_month_above_twelve_is_impossible(day: int, month: int, be_year: int) -> None:
    assert rule_of(parse_thai_date, f"{day}/{month}/{be_year}") == "date.impossible"


@PROPERTY
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2399, 12, 31)), st.sampled_from(["/", "-", "."]))
def test_ce_year_in_a_be_numeric_date_is_refused(day: date, separator: str) -> None:
    text = separator.join([f"{day.day:02d}", f"{day.month:02d}", str(day.year)])
    assert rule_of(parse_thai_date, text) == "date.ce_year_where_be_expected"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ต.ค. 53 - ก.ย. 54", (date(2010, 10, 1), date(2011, 9, 30))),
        ("ต.ค.53-ก.ย.54", (date(2010, 10, 1), date(2011, 9, 30))),
        ("ตุลาคม 2553 ถึง กันยายน 2554", (date(2010, 10, 1), date(2011, 9, 30))),
        ("๑ ต.ค. ๖๗ – ๓๐ ก.ย. ๖๘", (date(2024, 10, 1), date(2025, 9, 30))),
        ("2024-10-01 - 2025-09-30", (date(2024, 10, 1), date(2025, 9, 30))),
        ("ก.พ. 67 - ก.พ. 67", (date(2024, 2, 1), date(2024, 2, 29))),
    ],
)
def test_periods(raw: str, expected: tuple[date, date]) -> None:
    assert parse_period(raw) == expected


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("ก.ย. 54 - ต.ค. 53", "date.period_reversed"),
        ("ต.ค. 53", "date.period_unknown_format"),
        ("abc - def", "date.period_unknown_format"),
        ("-", "date.null_marker"),
        ("31 ก.พ. 68 - 1 มี.ค. 68", "date.impossible"),
        (None, "date.period_unknown_format"),
    ],
)
def test_period_rejections(raw: object, rule: str) -> None:
    assert rule_of(parse_period, raw) == rule


@PROPERTY
@given(WINDOW_DATES, WINDOW_DATES)
def test_month_year_periods_cover_whole_months(first: date, second: date) -> None:
    start, end = sorted((first, second))
    text = (
        f"{MONTH_ABBREVIATIONS_TH[start.month]} {(start.year + 543) % 100:02d} - "
        f"{MONTH_ABBREVIATIONS_TH[end.month]} {(end.year + 543) % 100:02d}"
    )
    period = parse_period(text)
    assert period == (start.replace(day=1), end.replace(day=calendar.monthrange(end.year, end.month)[1]))
    assert parse_period(to_thai_digits(text)) == period


class Contract(BaseModel):
    signed: ThaiDate
    finished: OptionalThaiDate = None


def test_annotated_date_parses_thai_and_serialises_iso_ce() -> None:
    contract = Contract(signed="19 มิ.ย. 68", finished="-")
    assert contract.signed == date(2025, 6, 19)
    assert contract.finished is None
    assert contract.model_dump_json() == '{"signed":"2025-06-19","finished":null}'
    assert Contract.model_validate_json(contract.model_dump_json()) == contract
    assert Contract.model_validate_json('{"signed": "๑๑/๐๖/๒๕๖๘"}').signed == date(2025, 6, 11)
    assert Contract.model_json_schema()["properties"]["signed"] == {
        "type": "string",
        "format": "date",
        "description": "ISO 8601 date, Common Era",
        "title": "Signed",
    }


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("30/02/2568", "date.impossible"),
        ("11/06/2025", "date.ce_year_where_be_expected"),
        ("-", "date.missing"),
        (None, "date.missing"),
        ("tomorrow", "date.unknown_format"),
    ],
)
def test_annotated_date_reports_the_rule(raw: object, rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Contract(signed=raw)
    assert [(error["loc"], error["type"]) for error in caught.value.errors()] == [(("signed",), rule)]


@PROPERTY
@given(WINDOW_DATES, st.sampled_from(DATE_STYLES))
def test_annotated_date_round_trips_through_json(day: date, style: str) -> None:
    contract = Contract(signed=format_thai_date(day, style))  # type: ignore[arg-type]
    assert contract.signed == day
    assert Contract.model_validate_json(contract.model_dump_json()) == contract
