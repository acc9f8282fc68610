"""Thai fiscal years: named by the Buddhist-Era year in which they end (FY2568 = 2024-10-01 .. 2025-09-30)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

from canonical_model.codes import validate_code
from canonical_model.rejection import Rejection, pydantic_check
from canonical_model.thai_text import normalize_code

BE_OFFSET = 543
FISCAL_YEAR_MIN = 2400
FISCAL_YEAR_MAX = 2700
FIRST_MONTH = 10  # the fiscal year starts on 1 October
# A 4-digit number in this span, where a BE year was expected, is a CE year (2025 would be BE 2025 = 1482 CE).
PLAUSIBLE_CE_YEARS = range(1900, 2201)
# 2-digit BE years ("68") are read in 2500..2599 (1957..2056 CE): every system that writes them is younger.
TWO_DIGIT_BE_CENTURY = 2500

Era = Literal["be", "ce"]

_BE_MARKER = re.compile(r"พ\.?\s*ศ\.?")
_CE_MARKER = re.compile(r"ค\.?\s*ศ\.?")
# Thai: "ปีงบประมาณ" / "ปีงบ" (fiscal year); English "FY"; the optional space covers "FY 2568".
_FISCAL_PREFIX = re.compile(r"^(?:ปีงบประมาณ|ปีงบ\.?|FY\.?|fiscal\s*year)", re.IGNORECASE)


def _in_range(fiscal_year: int, original: Any) -> int:
    if not FISCAL_YEAR_MIN <= fiscal_year <= FISCAL_YEAR_MAX:
        raise Rejection(
            "fiscal_year.out_of_range",
            f"a fiscal year is a BE year between {FISCAL_YEAR_MIN} and {FISCAL_YEAR_MAX}, e.g. 2568",
            original,
        )
    return fiscal_year


def fiscal_year_of(day: date) -> int:
    """The BE fiscal year containing `day`: `be(day) + 1` from October on."""
    if not isinstance(day, date):
        raise Rejection("fiscal_year.not_a_date", "expected a date to find its fiscal year", day)
    return day.year + BE_OFFSET + (1 if day.month >= FIRST_MONTH else 0)


def fiscal_year_bounds(fiscal_year: int) -> tuple[date, date]:
    """First and last day of a BE fiscal year: 2568 -> (2024-10-01, 2025-09-30)."""
    if isinstance(fiscal_year, bool) or not isinstance(fiscal_year, int):
        raise Rejection(
            "fiscal_year.not_a_year", "expected a BE fiscal year as an integer, e.g. 2568", fiscal_year
        )
    ce_end_year = _in_range(fiscal_year, fiscal_year) - BE_OFFSET
    return date(ce_end_year - 1, FIRST_MONTH, 1), date(ce_end_year, 9, 30)


def fiscal_year_from_two_digit_be(value: Any) -> int:
    """`68` or `"68"` -> 2568 (window 2500..2599)."""
    if isinstance(value, bool):
        raise Rejection("fiscal_year.not_a_year", "expected a 2-digit BE year such as 68", value)
    text = normalize_code(value) if isinstance(value, str) else str(value) if isinstance(value, int) else None
    if (
        text is None
        or not re.fullmatch(r"\d{1,2}", text, re.ASCII)
        or (isinstance(value, str) and len(text) != 2)
    ):
        raise Rejection("fiscal_year.not_a_year", "expected a 2-digit BE year such as 68 (for 2568)", value)
    return TWO_DIGIT_BE_CENTURY + int(text)


def _from_four_digits(year: int, era: Era, original: Any) -> int:
    if era == "be":
        if year in PLAUSIBLE_CE_YEARS:
            raise Rejection(
                "fiscal_year.ce_where_be_expected",
                f"{year} looks like a CE year; expected a BE fiscal year (CE + 543, e.g. {year + BE_OFFSET})",
                original,
            )
        return _in_range(year, original)
    if year >= FISCAL_YEAR_MIN:
        raise Rejection(
            "fiscal_year.be_where_ce_expected",
            f"{year} looks like a BE year; expected a CE fiscal year (BE - 543, e.g. {year - BE_OFFSET})",
            original,
        )
    return _in_range(year + BE_OFFSET, original)


def parse_fiscal_year(value: Any, *, era: Era = "be") -> int:
    """A BE fiscal year from `2568`, `"๒๕๖๘"`, `"พ.ศ. 2568"`, `"ปีงบประมาณ 2568"`, `"FY2568"` or `"68"`.

    `era` says what the source writes: with `"ce"`, 2025 -> 2568. An explicit "พ.ศ." or "ค.ศ." in the
    text overrides `era`, since it leaves no doubt.
    """
    if era not in ("be", "ce"):
        raise ValueError(f"era must be 'be' or 'ce', not {era!r}")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise Rejection(
            "fiscal_year.not_a_year",
            f"expected a fiscal year as an integer or text such as 2568, got {type(value).__name__}",
            value,
        )
    if isinstance(value, int):
        return _from_four_digits(value, era, value)

    text = normalize_code(value)
    if _BE_MARKER.search(text):
        era, text = "be", _BE_MARKER.sub("", text)
    elif _CE_MARKER.search(text):
        era, text = "ce", _CE_MARKER.sub("", text)
    text = _FISCAL_PREFIX.sub("", text)
    if re.fullmatch(r"\d{4}", text, re.ASCII):
        return _from_four_digits(int(text), era, value)
    if re.fullmatch(r"\d{2}", text, re.ASCII) and era == "be":
        return fiscal_year_from_two_digit_be(text)
    raise Rejection(
        "fiscal_year.unknown_format",
        "expected a fiscal year such as 2568, พ.ศ. 2568, ปีงบประมาณ 2568, FY2568 or 68"
        + (" (CE: 4 digits, e.g. 2025)" if era == "ce" else ""),
        value,
    )


def fiscal_year_from_egp_project_number(number: Any) -> int:
    """The fiscal year of the month an e-GP project was created: `68069160377` (June 2568) -> 2568.

    Assumes the first four digits are YYMM in BE (fits every published sample; see reference §1.1).
    """
    code = validate_code("egp-project", number)
    be_year, month = TWO_DIGIT_BE_CENTURY + int(code[:2]), int(code[2:4])
    return _in_range(be_year + (1 if month >= FIRST_MONTH else 0), number)


def fiscal_year_from_gfmis_fund(code: Any) -> int:
    """A GF-MIS fund source starts with the 2-digit BE fiscal year: `6011220` -> 2560."""
    fund = validate_code("gfmis-fund", code)
    return _in_range(TWO_DIGIT_BE_CENTURY + int(fund[:2]), code)


_validate_fiscal_year = pydantic_check(parse_fiscal_year)


class _FiscalYearAnnotation:
    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(
            _validate_fiscal_year, core_schema.int_schema(ge=FISCAL_YEAR_MIN, le=FISCAL_YEAR_MAX, strict=True)
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return {
            "type": "integer",
            "minimum": FISCAL_YEAR_MIN,
            "maximum": FISCAL_YEAR_MAX,
            "description": "Thai fiscal year: the BE year in which it ends (2568 = 2024-10-01..2025-09-30)",
        }


FiscalYear = Annotated[int, _FiscalYearAnnotation()]
