"""Amounts in Thai baht: always `Decimal` with two places, never float; a string with two decimals in JSON."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import partial
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

from canonical_model.rejection import Rejection, pydantic_check
from canonical_model.thai_digits import to_arabic_digits

CENT = Decimal("0.01")
# No Thai public amount comes near a quintillion baht (the national budget is about 3.7e12); anything
# larger is a concatenated identifier or a parse accident, and would overflow Numeric(20, 2) columns.
MAX_ABS_MONEY = Decimal(10) ** 18

_EXPECTED = 'expected an amount such as "3,498,760,900.00", "1000", "1,000 บาท" (at most two decimals)'
_NULL_MARKERS = frozenset({"-", "–", "—", "--"})
_NON_FINITE = frozenset({"nan", "snan", "qnan", "inf", "infinity"})
# Minus signs seen in Thai spreadsheets and PDF text layers besides the ASCII hyphen.
_MINUS_SIGNS = ("-", "\u2212", "\u2013")  # each one character long
_CURRENCY_PREFIX = re.compile(r"^(?:฿|THB)\s*", re.IGNORECASE)
# "1,000.-" is the Thai way of writing "exactly 1,000, no satang"; "บาท" ends amounts in budget books.
_CURRENCY_SUFFIX = re.compile(r"\s*(?:\.-)?\s*(?:บาท|THB)?\s*(?:\.-)?$", re.IGNORECASE)
_PLAIN_NUMBER = re.compile(r"^(?P<int>\d+)(?:\.(?P<frac>\d+))?$", re.ASCII)
_GROUPED_NUMBER = re.compile(r"^(?P<int>\d{1,3}(?:,\d{3})+)(?:\.(?P<frac>\d+))?$", re.ASCII)
_EXPONENT_NUMBER = re.compile(r"^\d*\.?\d*e[+-]?\d+$", re.IGNORECASE)


def _reject(rule: str, reason: str, value: Any) -> Rejection:
    return Rejection(f"money.{rule}", reason, value)


def _checked(amount: Decimal, original: Any, allow_negative: bool) -> Decimal:
    if not amount.is_finite():
        raise _reject("not_finite", f"NaN and infinities are not amounts; {_EXPECTED}", original)
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, so never the 'n'/'N'/'F' markers
    if exponent > 0:
        raise _reject("exponent", f"exponent notation is not accepted; {_EXPECTED}", original)
    if exponent < -2:
        raise _reject(
            "too_many_decimals", f"baht amounts have at most two decimals (satang); {_EXPECTED}", original
        )
    if abs(amount) >= MAX_ABS_MONEY:
        raise _reject("too_large", f"amount is implausibly large (limit {MAX_ABS_MONEY:,} baht)", original)
    if amount < 0 and not allow_negative:
        raise _reject("negative", "a negative amount is not allowed here; expected zero or more", original)
    if amount == 0:
        return Decimal("0.00")  # never "-0.00"
    return amount.quantize(CENT)


def _strip_sign(text: str, original: str) -> tuple[bool, str]:
    """One negative notation at most: "-1,000", "(1,000.00)" or SAP's trailing "1,000.00-"."""
    notations: list[str] = []
    if text.startswith("(") and text.endswith(")"):  # accountants' negative
        notations.append("parentheses")
        text = text[1:-1].strip()
    if text.startswith("+"):
        text = text[1:].strip()
    elif text.startswith(_MINUS_SIGNS):
        notations.append("leading minus")
        text = text[1:].strip()
    if text.endswith(_MINUS_SIGNS) and not text.endswith(".-"):  # SAP (GF-MIS) exports write "1,000.00-"
        notations.append("trailing minus")
        text = text[:-1].strip()
    if len(notations) > 1:
        raise _reject(
            "not_a_number", f"more than one negative sign ({', '.join(notations)}); {_EXPECTED}", original
        )
    return bool(notations), text


# The shape almost every real amount has; recognising it first keeps bulk ingest fast.
_CLEAN_AMOUNT = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d{1,18})(?:\.\d{1,2})?", re.ASCII)


def _parse_text(original: str, allow_negative: bool) -> Decimal:
    if len(original) <= 24 and _CLEAN_AMOUNT.fullmatch(original):
        amount = Decimal(original.replace(",", ""))
        if amount < MAX_ABS_MONEY:
            return amount.quantize(CENT)
    text = " ".join(to_arabic_digits(original).split())
    if not text:
        raise _reject("empty", f"empty text is not an amount; {_EXPECTED}", original)
    if text in _NULL_MARKERS:
        raise _reject("null_marker", f'"{text}" marks a missing value, not an amount; {_EXPECTED}', original)

    negative, text = _strip_sign(text, original)
    text = _CURRENCY_SUFFIX.sub("", _CURRENCY_PREFIX.sub("", text))

    lowered = text.lower()
    if lowered in _NON_FINITE or lowered.lstrip("+-") in _NON_FINITE:
        raise _reject("not_finite", f"NaN and infinities are not amounts; {_EXPECTED}", original)
    if _EXPONENT_NUMBER.match(text) and any(ch.isdigit() for ch in text):
        raise _reject("exponent", f"exponent notation is not accepted; {_EXPECTED}", original)
    match = _PLAIN_NUMBER.match(text) or _GROUPED_NUMBER.match(text)
    if match is None:
        if re.fullmatch(r"[\d,. ]+", text) and ("," in text or " " in text):
            raise _reject(
                "separator", f"thousands separators must group exactly three digits; {_EXPECTED}", original
            )
        raise _reject("not_a_number", f"not an amount; {_EXPECTED}", original)
    fraction = match.group("frac") or ""
    if len(fraction) > 2:
        raise _reject(
            "too_many_decimals", f"baht amounts have at most two decimals (satang); {_EXPECTED}", original
        )
    amount = Decimal(match.group("int").replace(",", "") + ("." + fraction if fraction else ""))
    return _checked(-amount if negative else amount, original, allow_negative)


def parse_money(value: Any, *, allow_negative: bool = False) -> Decimal:
    """A baht amount from text, int or Decimal, quantized to two places; raises `Rejection` (rule `money.*`).

    `"-"` is refused (rule `money.null_marker`) rather than read as null: whether a missing amount is
    acceptable is the caller's decision.
    """
    if isinstance(value, bool):  # bool is an int subclass; True is not one baht
        raise _reject("boolean", f"a true/false value is not an amount; {_EXPECTED}", value)
    if isinstance(value, float):  # a float has already lost the satang it was meant to carry
        raise _reject("float", f"floating-point numbers are not accepted for money; {_EXPECTED}", value)
    if isinstance(value, int):
        if abs(value) >= MAX_ABS_MONEY:
            raise _reject("too_large", f"amount is implausibly large (limit {MAX_ABS_MONEY:,} baht)", value)
        return _checked(Decimal(value), value, allow_negative)
    if isinstance(value, Decimal):
        return _checked(value, value, allow_negative)
    if isinstance(value, str):
        return _parse_text(value, allow_negative)
    raise _reject("not_a_number", f"got {type(value).__name__}, not an amount; {_EXPECTED}", value)


def format_money(amount: Any, *, thousands: bool = False) -> str:
    """Canonical text of an amount: `"10444000.00"`, or `"10,444,000.00"` with `thousands=True`."""
    checked = parse_money(amount, allow_negative=True)
    return f"{checked:,.2f}" if thousands else f"{checked:.2f}"


class _MoneyAnnotation:
    def __init__(self, *, allow_negative: bool) -> None:
        self.allow_negative = allow_negative

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            pydantic_check(partial(parse_money, allow_negative=self.allow_negative)),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda amount: f"{amount:.2f}", when_used="json"
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        sign = "-?" if self.allow_negative else ""
        return {
            "type": "string",
            "pattern": rf"^{sign}\d+\.\d{{2}}$",
            "description": "Thai baht with exactly two decimals" + (", may be negative" if sign else ""),
        }


Money = Annotated[Decimal, _MoneyAnnotation(allow_negative=False)]
SignedMoney = Annotated[Decimal, _MoneyAnnotation(allow_negative=True)]
