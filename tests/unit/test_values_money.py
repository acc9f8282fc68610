import json
import re
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from canonical_model.money import Money, SignedMoney, format_money, parse_money
from canonical_model.rejection import Rejection
from canonical_model.thai_digits import to_thai_digits

PROPERTY = settings(max_examples=200, deadline=None)
AMOUNTS = st.decimals(
    min_value=0, max_value=Decimal("999999999999999.99"), places=2, allow_nan=False, allow_infinity=False
)
SIGNED_AMOUNTS = st.decimals(
    min_value=Decimal("-999999999999999.99"),
    max_value=Decimal("999999999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


def rule_of(value: object, *, allow_negative: bool = False) -> str:
    with pytest.raises(Rejection) as caught:
        parse_money(value, allow_negative=allow_negative)
    assert caught.value.reason, "every rejection explains itself"
    return caught.value.rule


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3,498,760,900.00", "3498760900.00"),  # data.go.th e-GP
        ("10,200,000", "10200000.00"),  # WeVis plan rows
        ("800,000,000", "800000000.00"),  # kaogeek budget CSV
        ("1,000 บาท", "1000.00"),  # budget books
        ("30,000,000 บาท", "30000000.00"),
        (" 1000 ", "1000.00"),
        ("๑๒๓", "123.00"),
        ("๑,๐๐๐.๕๐", "1000.50"),
        ("1,000.-", "1000.00"),
        ("฿1,000.5", "1000.50"),
        (10444000, "10444000.00"),  # govspending JSON amount
        (Decimal(10444000), "10444000.00"),
        (Decimal("0.5"), "0.50"),
        ("0", "0.00"),
        ("-0", "0.00"),
        (Decimal("-0.00"), "0.00"),  # a negative zero must not print as "-0.00"
    ],
)
def test_parses_real_amount_forms(raw: object, expected: str) -> None:
    parsed = parse_money(raw)
    assert parsed == Decimal(expected)
    assert str(parsed) == expected  # always quantized to two places


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("-1,000.00", "-1000.00"), ("(1,000.00)", "-1000.00"), ("1,000.00-", "-1000.00"), (-5, "-5.00")],
)
def test_negative_forms_only_when_allowed(raw: object, expected: str) -> None:
    assert parse_money(raw, allow_negative=True) == Decimal(expected)
    assert rule_of(raw) == "money.negative"


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("-", "money.null_marker"),
        ("–", "money.null_marker"),
        ("", "money.empty"),
        ("   ", "money.empty"),
        ("NaN", "money.not_finite"),
        ("nan", "money.not_finite"),
        ("sNaN", "money.not_finite"),
        ("Infinity", "money.not_finite"),
        ("-infinity", "money.not_finite"),
        ("INF", "money.not_finite"),
        ("inf", "money.not_finite"),
        (Decimal("NaN"), "money.not_finite"),
        (Decimal("-Infinity"), "money.not_finite"),
        ("1e5", "money.exponent"),
        ("1E+5", "money.exponent"),
        ("2.5e-1", "money.exponent"),
        (Decimal("1E+5"), "money.exponent"),
        ("1.005", "money.too_many_decimals"),
        ("1.000", "money.too_many_decimals"),  # could be a European "one thousand": refuse to guess
        (Decimal("0.001"), "money.too_many_decimals"),
        (1.5, "money.float"),
        (1000.0, "money.float"),
        (float("nan"), "money.float"),
        (True, "money.boolean"),
        (False, "money.boolean"),
        ("1,00,0", "money.separator"),
        ("10,00", "money.separator"),
        ("1.000,50", "money.separator"),
        ("1 000", "money.separator"),
        ("abc", "money.not_a_number"),
        ("12 บาท 50 สตางค์", "money.not_a_number"),
        ("(-5)", "money.not_a_number"),
        ("5.", "money.not_a_number"),
        (None, "money.not_a_number"),
        ([1], "money.not_a_number"),
        ("1" * 19, "money.too_large"),
        (10**19, "money.too_large"),
    ],
)
def test_rejections_carry_a_stable_rule(raw: object, rule: str) -> None:
    assert rule_of(raw, allow_negative=True) == rule


@PROPERTY
@given(AMOUNTS, st.booleans())
def test_format_then_parse_is_identity(amount: Decimal, thousands: bool) -> None:
    text = format_money(amount, thousands=thousands)
    assert re.fullmatch(r"[\d,]+\.\d\d", text)
    assert parse_money(text) == amount


@PROPERTY
@given(SIGNED_AMOUNTS)
def test_signed_amounts_round_trip(amount: Decimal) -> None:
    assert parse_money(format_money(amount, thousands=True), allow_negative=True) == amount


@PROPERTY
@given(AMOUNTS, st.booleans(), st.booleans())
def test_thai_digits_parse_like_arabic_digits(amount: Decimal, thousands: bool, baht: bool) -> None:
    arabic = format_money(amount, thousands=thousands) + (" บาท" if baht else "")
    assert parse_money(to_thai_digits(arabic)) == parse_money(arabic) == amount


@PROPERTY
@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=3, max_value=8))
def test_more_than_two_written_decimals_are_rejected(units: int, places: int) -> None:
    text = f"{Decimal(units).scaleb(-places):.{places}f}"
    assert rule_of(text) == "money.too_many_decimals"
    assert rule_of(Decimal(text)) == "money.too_many_decimals"


@PROPERTY
@given(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=-20, max_value=20),
    st.sampled_from(["e", "E"]),
    st.sampled_from(["", "+", "-"]),
)
def test_exponent_notation_is_rejected(mantissa: int, exponent: int, letter: str, sign: str) -> None:
    text = f"{mantissa}{letter}{sign}{abs(exponent)}"
    assert rule_of(text) == "money.exponent"


@PROPERTY
@given(
    st.sampled_from(["nan", "inf", "infinity", "snan"]),
    st.lists(st.booleans(), min_size=8, max_size=8),
    st.sampled_from(["", "+", "-"]),
)
def test_nan_and_infinity_in_any_case_are_rejected(word: str, upper: list[bool], sign: str) -> None:
    mixed = "".join(ch.upper() if up else ch for ch, up in zip(word, upper))
    assert rule_of(sign + mixed, allow_negative=True) == "money.not_finite"


@PROPERTY
@given(st.floats())
def test_any_float_is_rejected(value: float) -> None:
    assert rule_of(value) == "money.float"


@PROPERTY
@given(
    st.decimals(
        max_value=Decimal("-0.01"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
        min_value=Decimal("-999999999999999.99"),
    )
)
def test_negative_amounts_need_permission(amount: Decimal) -> None:
    assert rule_of(amount) == "money.negative"
    assert rule_of(format_money(amount)) == "money.negative"
    assert parse_money(amount, allow_negative=True) == amount


@PROPERTY
@given(
    st.text(alphabet="0123456789", min_size=4, max_size=12),
    st.lists(st.integers(min_value=1, max_value=11), min_size=1, max_size=3, unique=True),
)
def test_misplaced_thousands_separators_are_rejected(digits: str, cuts: list[int]) -> None:
    positions = sorted(cut for cut in cuts if cut < len(digits))
    assume(positions)
    pieces, start = [], 0
    for position in positions:
        pieces.append(digits[start:position])
        start = position
    pieces.append(digits[start:])
    text = ",".join(pieces)
    grouped_correctly = re.fullmatch(r"\d{1,3}(,\d{3})+", text) is not None
    if grouped_correctly:
        assert parse_money(text) == Decimal(digits)
    else:
        assert rule_of(text) == "money.separator"


class Budget(BaseModel):
    amount: Money
    change: SignedMoney
    optional: Money | None = None


@PROPERTY
@given(AMOUNTS, SIGNED_AMOUNTS)
def test_model_json_round_trip_is_exact_and_uses_two_decimal_strings(
    amount: Decimal, change: Decimal
) -> None:
    budget = Budget(amount=amount, change=change)
    dumped = budget.model_dump_json()
    payload = json.loads(dumped)
    assert payload["amount"] == format_money(amount)
    assert payload["change"] == format_money(change)
    assert Budget.model_validate_json(dumped) == budget
    assert Budget.model_validate(budget.model_dump()) == budget


def test_model_accepts_source_forms_in_python_and_json_mode() -> None:
    from_python = Budget(amount="3,498,760,900.00", change="(1,000.00)")
    from_json = Budget.model_validate_json('{"amount": "3,498,760,900.00", "change": "(1,000.00)"}')
    assert from_python == from_json
    assert from_python.amount == Decimal("3498760900.00")
    assert from_python.change == Decimal("-1000.00")
    assert Budget.model_validate_json('{"amount": 10444000, "change": 0}').amount == Decimal("10444000.00")
    assert Budget(amount="๑,๐๐๐ บาท", change=0).amount == Decimal("1000.00")


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        ('{"amount": 1.5, "change": 0}', "money.float"),
        ('{"amount": "NaN", "change": 0}', "money.not_finite"),
        ('{"amount": "1e5", "change": 0}', "money.exponent"),
        ('{"amount": "1.005", "change": 0}', "money.too_many_decimals"),
        ('{"amount": "-1", "change": 0}', "money.negative"),
        ('{"amount": "-", "change": 0}', "money.null_marker"),
        ('{"amount": true, "change": 0}', "money.boolean"),
    ],
)
def test_model_errors_use_the_rule_as_type(payload: str, rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Budget.model_validate_json(payload)
    errors = caught.value.errors()
    assert [(error["loc"], error["type"]) for error in errors] == [(("amount",), rule)]


def test_json_schema_describes_the_canonical_string() -> None:
    properties = Budget.model_json_schema()["properties"]
    assert properties["amount"]["type"] == "string"
    assert re.fullmatch(properties["amount"]["pattern"], "10444000.00")
    assert not re.fullmatch(properties["amount"]["pattern"], "-1.00")
    assert re.fullmatch(properties["change"]["pattern"], "-1.00")
    assert not re.fullmatch(properties["amount"]["pattern"], "1.5")
