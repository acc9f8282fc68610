"""Identifier schemes (DLA, DOPA, e-GP, tax id, GF-MIS, Budget Bureau): codes are strings, never numbers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

from canonical_model.rejection import Rejection, pydantic_check
from canonical_model.thai_text import normalize_code, reject_hidden_characters


@dataclass(frozen=True)
class CodeScheme:
    name: str
    description: str
    pattern: str
    example: str  # "" when no real sample is known
    # When a valid code may start with "0", an int has already lost information and is refused.
    may_start_with_zero: bool


def _digits(length: int) -> str:
    return rf"^\d{{{length}}}$"


_CLASSIFICATION_PATTERN = r"^[0-9A-Za-z](?:[0-9A-Za-z.\-]*[0-9A-Za-z])?$"

_SCHEME_LIST = (
    CodeScheme("dla-lao", "DLA local administrative organisation code, 7 digits T PP AA NN", _digits(7),
               example="5810401", may_start_with_zero=False),
    CodeScheme("dopa-province", "DOPA province code, 2 digits 10-99", _digits(2),
               example="81", may_start_with_zero=False),
    CodeScheme("dopa-district", "DOPA amphoe code, 4 digits (province + amphoe)", _digits(4),
               example="8104", may_start_with_zero=False),
    CodeScheme("dopa-subdistrict", "DOPA tambon code, 6 digits", _digits(6),
               example="100101", may_start_with_zero=False),
    CodeScheme("egp-project", "e-GP project number, 11 digits YYMM + running number", _digits(11),
               example="68069160377", may_start_with_zero=False),
    CodeScheme("th-tin", "Thai taxpayer / citizen id, 13 digits with check digit", _digits(13),
               example="0105549007974", may_start_with_zero=True),
    # No 20-digit sample is public; the 16-digit `0300213001120001` of the old system is refused here.
    CodeScheme("gfmis-budget", "GF-MIS budget code (FISTL), 20 digits", _digits(20),
               example="", may_start_with_zero=True),
    CodeScheme("gfmis-fund", "GF-MIS fund source (GEBER), 7 digits, BE fiscal year first", _digits(7),
               example="6011220", may_start_with_zero=False),
    CodeScheme("gfmis-gl", "GF-MIS general-ledger account (HKONT), 10 digits, leading 1-5", _digits(10),
               example="5104010107", may_start_with_zero=False),
    CodeScheme("gfmis-agency", "GF-MIS agency code (BUKRS), 5 digits", _digits(5),
               example="01009", may_start_with_zero=True),
    CodeScheme("bb-budget", "Budget Bureau legacy budget code, 16 characters: 5-digit agency + 11 [0-9A-Z]",
               r"^\d{5}[0-9A-Z]{11}$", example="1500883002600IT3", may_start_with_zero=True),
    CodeScheme("local-classification", "local (DLA) budget classification code: digits, letters, . and -",
               _CLASSIFICATION_PATTERN, example="00111", may_start_with_zero=True),
    CodeScheme("national-classification", "national budget classification code: digits, letters, . and -",
               _CLASSIFICATION_PATTERN, example="15008", may_start_with_zero=True),
)  # fmt: skip
SCHEMES: dict[str, CodeScheme] = {scheme.name: scheme for scheme in _SCHEME_LIST}

ORG_TYPE_BY_DLA_TYPE_DIGIT: dict[str, str] = {
    "2": "provincial_admin_org",  # อบจ.
    "3": "city_municipality",  # เทศบาลนคร
    "4": "town_municipality",  # เทศบาลเมือง
    "5": "subdistrict_municipality",  # เทศบาลตำบล
    "6": "subdistrict_admin_org",  # อบต.
}
# Pattaya is the one special administrative area in the DLA registry; its code carries the city digit 3.
_ORG_TYPE_BY_DLA_CODE: dict[str, str] = {"3200408": "special_admin_area"}


def tin_check_digit(first12: str) -> int:
    """The 13th digit of a Thai tax / citizen id, from the first twelve."""
    if not (isinstance(first12, str) and re.fullmatch(r"\d{12}", first12, re.ASCII)):
        raise Rejection("code.th-tin.format", "the check digit is computed from exactly 12 digits", first12)
    weighted = sum(int(digit) * (13 - position) for position, digit in enumerate(first12))
    return (11 - weighted % 11) % 10


def _for_example(scheme: CodeScheme) -> str:
    return f", e.g. {scheme.example!r}" if scheme.example else ""


def _rule(scheme: str, what: str) -> str:
    return f"code.{scheme}.{what}"


def _check_province(scheme: str, code: str, original: Any, digits: slice = slice(0, 2)) -> None:
    if not 10 <= int(code[digits]) <= 99:
        raise Rejection(
            _rule(scheme, "province"),
            f"{code[digits]!r} is not a DOPA province code (10-99) in a {scheme} code",
            original,
        )


def _check_dla(code: str, original: Any) -> None:
    if code[0] not in ORG_TYPE_BY_DLA_TYPE_DIGIT:
        raise Rejection(
            _rule("dla-lao", "type_digit"),
            f"the first digit of a DLA code is the organisation type 2-6, got {code[0]!r}",
            original,
        )
    _check_province("dla-lao", code, original, slice(1, 3))


def _check_egp(code: str, original: Any) -> None:
    year, month = int(code[0:2]), int(code[2:4])
    if year < 40:  # 2-digit BE 40 is 1997 CE, before e-GP existed; smaller prefixes are not years
        raise Rejection(
            _rule("egp-project", "year"),
            f"an e-GP project number starts with a 2-digit BE year (40-99), got {code[0:2]!r}",
            original,
        )
    if not 1 <= month <= 12:
        raise Rejection(
            _rule("egp-project", "month"),
            f"digits 3-4 of an e-GP project number are the month 01-12, got {code[2:4]!r}",
            original,
        )


def _check_tin(code: str, original: Any) -> None:
    expected = tin_check_digit(code[:12])
    if int(code[12]) != expected:
        raise Rejection(
            _rule("th-tin", "check_digit"),
            f"check digit is {code[12]}, expected {expected}: the id is mistyped",
            original,
        )


def _check_gl(code: str, original: Any) -> None:
    if code[0] not in "12345":
        raise Rejection(
            _rule("gfmis-gl", "account_class"),
            f"a GL account starts with 1-5 (assets .. expenses), got {code[0]!r}",
            original,
        )


_EXTRA_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "dla-lao": _check_dla,
    "dopa-province": lambda code, original: _check_province("dopa-province", code, original),
    "dopa-district": lambda code, original: _check_province("dopa-district", code, original),
    "dopa-subdistrict": lambda code, original: _check_province("dopa-subdistrict", code, original),
    "egp-project": _check_egp,
    "th-tin": _check_tin,
    "gfmis-gl": _check_gl,
}


def _as_text(scheme: CodeScheme, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Rejection(
            _rule(scheme.name, "not_a_string"),
            f"a {scheme.name} code is text, got {type(value).__name__}{_for_example(scheme)}",
            value,
        )
    if isinstance(value, int):
        if scheme.may_start_with_zero:
            raise Rejection(
                _rule(scheme.name, "not_a_string"),
                f"a {scheme.name} code can start with 0, so a number may have lost digits; "
                f"send it as text{_for_example(scheme)}",
                value,
            )
        return str(value)
    text = normalize_code(reject_hidden_characters(value))
    if scheme.name == "th-tin":
        text = text.replace("-", "")  # ids are usually printed grouped: 0-1055-49007-97-4
    elif scheme.name == "bb-budget":
        text = text.upper()
    return text


def validate_code(scheme: str, value: Any) -> str:
    """The code in canonical form (Thai digits to Arabic, blanks removed); else `Rejection` `code.<scheme>.*`.

    An int is accepted only for schemes whose codes never start with 0.
    """
    found = SCHEMES.get(scheme)
    if found is None:
        raise Rejection(
            "code.unknown_scheme", f"unknown code scheme; expected one of {sorted(SCHEMES)}", scheme
        )
    code = _as_text(found, value)
    if not code:
        raise Rejection(_rule(scheme, "empty"), f"a {scheme} code is required{_for_example(found)}", value)
    if scheme == "th-tin" and re.fullmatch(r"\d{9,12}[xX*]{1,4}", code) and len(code) == 13:
        raise Rejection(
            _rule(scheme, "masked"), "the tax id is masked (e.g. 130990115xxxx); need all 13 digits", value
        )
    if not re.fullmatch(found.pattern, code, re.ASCII):
        raise Rejection(_rule(scheme, "format"), f"expected {found.description}{_for_example(found)}", value)
    check = _EXTRA_CHECKS.get(scheme)
    if check is not None:
        check(code, value)
    return code


def org_type_of_dla_code(code: Any) -> str:
    """The organisation type a DLA code announces by its first digit.

    When an อบต. is upgraded to เทศบาลตำบล it keeps its 6xxxxxx code, so the registry's own type
    wins over this where both are known.
    """
    canonical = validate_code("dla-lao", code)
    return _ORG_TYPE_BY_DLA_CODE.get(canonical) or ORG_TYPE_BY_DLA_TYPE_DIGIT[canonical[0]]


class _CodeAnnotation:
    def __init__(self, scheme: str) -> None:
        self.scheme = scheme

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            pydantic_check(partial(validate_code, self.scheme)), serialization=core_schema.to_string_ser_schema()
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        found = SCHEMES[self.scheme]
        schema = {"type": "string", "pattern": found.pattern, "description": found.description}
        return schema | ({"examples": [found.example]} if found.example else {})


def code_type(scheme: str) -> Any:
    """An annotated `str` type that validates codes of `scheme` (for schemes without a named alias)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown code scheme {scheme!r}")
    return Annotated[str, _CodeAnnotation(scheme)]


DlaCode = Annotated[str, _CodeAnnotation("dla-lao")]
DopaProvince = Annotated[str, _CodeAnnotation("dopa-province")]
DopaDistrict = Annotated[str, _CodeAnnotation("dopa-district")]
DopaSubdistrict = Annotated[str, _CodeAnnotation("dopa-subdistrict")]
EgpProjectNumber = Annotated[str, _CodeAnnotation("egp-project")]
TaxId = Annotated[str, _CodeAnnotation("th-tin")]
GfmisBudgetCode = Annotated[str, _CodeAnnotation("gfmis-budget")]
GfmisFund = Annotated[str, _CodeAnnotation("gfmis-fund")]
GfmisGl = Annotated[str, _CodeAnnotation("gfmis-gl")]
GfmisAgency = Annotated[str, _CodeAnnotation("gfmis-agency")]
BbBudgetCode = Annotated[str, _CodeAnnotation("bb-budget")]
LocalClassificationCode = Annotated[str, _CodeAnnotation("local-classification")]
NationalClassificationCode = Annotated[str, _CodeAnnotation("national-classification")]
