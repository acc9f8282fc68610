"""Dates as Thai sources write them (BE years, Thai month names, Thai digits); canonical form is a CE `date`.

2-digit years are BE and read in the window 2500..2599 (1957..2056 CE): "19 มิ.ย. 68" is 19 June 2568 = 2025.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

from canonical_model.fiscal_year import BE_OFFSET, TWO_DIGIT_BE_CENTURY
from canonical_model.rejection import Rejection, pydantic_check
from canonical_model.thai_digits import to_arabic_digits
from canonical_model.thai_text import normalize_text

DateStyle = Literal["abbr_2digit", "full", "slash_be", "iso_be"]
DATE_STYLES: tuple[DateStyle, ...] = ("abbr_2digit", "full", "slash_be", "iso_be")

# Index = month number.
MONTH_NAMES_TH = (
    "",
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
)
MONTH_ABBREVIATIONS_TH = (
    "",
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
)


def _month_key(token: str) -> str:
    # Sources drop the dots and spaces ("มิย", "มิ. ย."); keys without them stay unique across all 24 forms.
    return re.sub(r"[.\s]", "", token)


_MONTH_BY_KEY: dict[str, int] = {
    _month_key(name): number
    for number in range(1, 13)
    for name in (MONTH_NAMES_TH[number], MONTH_ABBREVIATIONS_TH[number])
}
assert len(_MONTH_BY_KEY) == 24, "month names and abbreviations must not collide once dots are removed"

# BE years start here; a 4-digit year below it, where BE is expected, is a CE year (and above it in ISO, BE).
BE_YEAR_THRESHOLD = 2400
_NULL_MARKERS = frozenset({"", "-", "–", "—", "--"})
# "วันที่ 19 ...", "วันพฤหัสบดีที่ 19 ..." (the weekday is not checked against the date).
_WEEKDAYS = "จันทร์|อังคาร|พุธ|พฤหัสบดี|พฤหัส|ศุกร์|เสาร์|อาทิตย์"
_DAY_PREFIX = re.compile(rf"^(?:วัน(?:{_WEEKDAYS})?ที่|date:?)\s*", re.IGNORECASE)
_BE_MARKER = re.compile(r"พ\.?\s*ศ\.?")
_CE_MARKER = re.compile(r"ค\.?\s*ศ\.?")
_TIME_SUFFIX = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_YEAR_FIRST = re.compile(rf"^(\d{{4}})([-/.])(\d{{1,2}})\2(\d{{1,2}}){_TIME_SUFFIX}$", re.ASCII)
_DAY_FIRST = re.compile(rf"^(\d{{1,2}})([-/.])(\d{{1,2}})\2(\d{{4}}|\d{{2}}){_TIME_SUFFIX}$", re.ASCII)
_THAI_MONTH = re.compile(r"^(\d{1,2})[\s-]*([^\d\s-][^\d]*?)[\s-]*(\d{4}|\d{2})$", re.ASCII)
_MONTH_YEAR = re.compile(r"^([^\d\s-][^\d]*?)[\s-]*(\d{4}|\d{2})$", re.ASCII)
_PERIOD_SEPARATOR = re.compile(r"\s*(?:-|–|—|ถึง)\s*")

_EXPECTED = (
    'expected a date such as "19 มิ.ย. 68", "25 กรกฎาคม 2559", "11/06/2568" (BE) '
    'or ISO "2568-06-11" / "2025-06-11"'
)


def _impossible(year: int, month: int, day: int, original: Any) -> Rejection:
    if not 1 <= month <= 12:
        detail = f"there is no month {month}"
    else:
        detail = f"{MONTH_NAMES_TH[month]} {year + BE_OFFSET} has {calendar.monthrange(year, month)[1]} days"
    return Rejection("date.impossible", f"not a calendar date: {detail}", original)


def _make_date(ce_year: int, month: int, day: int, original: Any) -> date:
    try:
        return date(ce_year, month, day)
    except ValueError:
        if not 1 <= ce_year <= 9999:
            raise Rejection(
                "date.out_of_range", f"year {ce_year} CE is outside the supported range", original
            ) from None
        raise _impossible(ce_year, month, day, original) from None


def _thai_year_to_ce(year_text: str, era: str | None, original: Any) -> int:
    """A day-first date's year: 2 digits -> BE window, 4 digits -> BE unless the text said ค.ศ."""
    year = int(year_text)
    if len(year_text) == 2:
        if era == "ce":
            raise Rejection("date.unknown_format", "a CE year must have 4 digits", original)
        return TWO_DIGIT_BE_CENTURY + year - BE_OFFSET
    if era == "ce":
        return year
    if year < BE_YEAR_THRESHOLD:
        raise Rejection(
            "date.ce_year_where_be_expected",
            f"year {year} looks like CE; Thai dates are written in BE (CE + 543, e.g. {year + BE_OFFSET})",
            original,
        )
    return year - BE_OFFSET


def _month_number(token: str, original: Any) -> int:
    month = _MONTH_BY_KEY.get(_month_key(token))
    if month is None:
        raise Rejection(
            "date.unknown_month",
            f"{token!r} is not a Thai month; expected a name such as มิถุนายน or an abbreviation like มิ.ย.",
            original,
        )
    return month


def _prepared(value: str) -> tuple[str, str | None]:
    """Text with Arabic digits, without day prefix or era marker; and the era the marker named, if any."""
    text = _DAY_PREFIX.sub("", to_arabic_digits(normalize_text(value)))
    era: str | None = None
    if _BE_MARKER.search(text):
        era, text = "be", _BE_MARKER.sub(" ", text)
    elif _CE_MARKER.search(text):
        era, text = "ce", _CE_MARKER.sub(" ", text)
    return " ".join(text.split()), era


def _parse_text(value: str) -> date | None:
    text, era = _prepared(value)
    if text in _NULL_MARKERS:
        return None

    match = _YEAR_FIRST.match(text)
    if match:
        year, month, day = int(match.group(1)), int(match.group(3)), int(match.group(4))
        if era == "be" or (era is None and year >= BE_YEAR_THRESHOLD):
            year -= BE_OFFSET
        return _make_date(year, month, day, value)

    match = _DAY_FIRST.match(text)
    if match:
        day, month, year_text = int(match.group(1)), int(match.group(3)), match.group(4)
        if len(year_text) != 4:
            # "11/06/25": 2568 written short, or 2025 CE? Numeric dates give no hint, so refuse to guess.
            raise Rejection(
                "date.two_digit_year", "numeric dates need a 4-digit BE year, e.g. 11/06/2568", value
            )
        return _make_date(_thai_year_to_ce(year_text, era, value), month, day, value)

    match = _THAI_MONTH.match(text)
    if match:
        day, month = int(match.group(1)), _month_number(match.group(2), value)
        return _make_date(_thai_year_to_ce(match.group(3), era, value), month, day, value)

    raise Rejection("date.unknown_format", _EXPECTED, value)


def parse_thai_date(value: Any) -> date | None:
    """A CE `date` from any Thai form (see module doc); `None` for `-`, `–`, empty text and None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return _parse_text(value)
    raise Rejection(
        "date.unknown_format", f"got {type(value).__name__}, not a date or text; {_EXPECTED}", value
    )


# Thailand keeps one offset all year (no daylight saving), so no time-zone database is needed.
THAI_TIME = timezone(timedelta(hours=7), "ICT")


def day_in_thailand(moment: datetime) -> date:
    """The calendar day in Thailand of a moment (a naive one is taken as UTC, as the hub stores times):
    a record stored at 00:30 Thai time belongs to that day, not to the UTC day before."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(THAI_TIME).date()


def format_thai_date(day: date, style: DateStyle = "abbr_2digit") -> str:
    """`day` as Thai sources write it; `parse_thai_date` reads every style back to the same date."""
    if style not in DATE_STYLES:
        raise ValueError(f"unknown date style {style!r}; expected one of {DATE_STYLES}")
    if isinstance(day, datetime):
        day = day.date()
    be_year = day.year + BE_OFFSET
    if not BE_YEAR_THRESHOLD <= be_year <= 9999:
        raise Rejection(
            "date.out_of_range",
            f"BE years before {BE_YEAR_THRESHOLD} would read back as CE; cannot format",
            day,
        )
    if style == "abbr_2digit":
        if not TWO_DIGIT_BE_CENTURY <= be_year < TWO_DIGIT_BE_CENTURY + 100:
            raise Rejection(
                "date.two_digit_window",
                f"2-digit BE years cover {TWO_DIGIT_BE_CENTURY}..{TWO_DIGIT_BE_CENTURY + 99} only",
                day,
            )
        return f"{day.day} {MONTH_ABBREVIATIONS_TH[day.month]} {be_year % 100:02d}"
    if style == "full":
        return f"{day.day} {MONTH_NAMES_TH[day.month]} {be_year}"
    if style == "slash_be":
        return f"{day.day:02d}/{day.month:02d}/{be_year}"
    return f"{be_year}-{day.month:02d}-{day.day:02d}"


def _month_year(text: str, original: Any) -> tuple[date, date] | None:
    match = _MONTH_YEAR.match(text)
    if not match:
        return None
    month = _month_number(match.group(1), original)
    ce_year = _thai_year_to_ce(match.group(2), None, original)
    last_day = calendar.monthrange(ce_year, month)[1]
    return date(ce_year, month, 1), date(ce_year, month, last_day)


def _period_end(text: str, original: Any) -> tuple[date, date] | None:
    """A period end point: a month and year cover the whole month, a full date covers itself."""
    try:
        whole_month = _month_year(text, original)
        if whole_month is not None:
            return whole_month
        day = _parse_text(text)
    except Rejection as rejection:
        if rejection.rule in ("date.unknown_format", "date.unknown_month", "date.two_digit_year"):
            return None
        raise
    return (day, day) if day is not None else None


def parse_period(value: Any) -> tuple[date, date]:
    """`"ต.ค. 53 - ก.ย. 54"` -> (2010-10-01, 2011-09-30): first day of the start, last day of the end.

    Each side may be a month and year or a full date (`"1 ต.ค. 67 - 30 ก.ย. 68"`).
    """
    if not isinstance(value, str):
        raise Rejection(
            "date.period_unknown_format", "expected a period as text, e.g. ต.ค. 53 - ก.ย. 54", value
        )
    text, _era = _prepared(value)
    if text in _NULL_MARKERS:
        raise Rejection(
            "date.null_marker", "a missing value is not a period; expected e.g. ต.ค. 53 - ก.ย. 54", value
        )
    # A hyphen may also sit inside an end point (ISO dates), so try each separator until both sides parse.
    for separator in _PERIOD_SEPARATOR.finditer(text):
        start_text, end_text = text[: separator.start()], text[separator.end() :]
        if not start_text or not end_text:
            continue
        start, end = _period_end(start_text, value), _period_end(end_text, value)
        if start is None or end is None:
            continue
        if start[0] > end[1]:
            raise Rejection("date.period_reversed", "the period ends before it starts", value)
        return start[0], end[1]
    raise Rejection(
        "date.period_unknown_format",
        "expected a period such as ต.ค. 53 - ก.ย. 54 or 1 ต.ค. 67 - 30 ก.ย. 68",
        value,
    )


_validate_date = pydantic_check(parse_thai_date)


def _validate_required_date(value: Any) -> date:
    parsed = _validate_date(value)
    if parsed is None:
        raise Rejection("date.missing", f"a date is required here; {_EXPECTED}", value).as_pydantic_error()
    return parsed


class _ThaiDateAnnotation:
    def __init__(self, *, optional: bool) -> None:
        self.optional = optional

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        if self.optional:
            return core_schema.no_info_before_validator_function(
                _validate_date, core_schema.nullable_schema(core_schema.date_schema())
            )
        return core_schema.no_info_before_validator_function(
            _validate_required_date, core_schema.date_schema()
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        as_date = {"type": "string", "format": "date", "description": "ISO 8601 date, Common Era"}
        return {"anyOf": [as_date, {"type": "null"}]} if self.optional else as_date


ThaiDate = Annotated[date, _ThaiDateAnnotation(optional=False)]
# For fields where the source's "-" means "no date": reads it as None instead of refusing it.
OptionalThaiDate = Annotated[date | None, _ThaiDateAnnotation(optional=True)]
