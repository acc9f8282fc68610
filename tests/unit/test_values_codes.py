import csv
import re
from collections import Counter
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from canonical_model.codes import (
    SCHEMES,
    BbBudgetCode,
    DlaCode,
    DopaDistrict,
    DopaProvince,
    DopaSubdistrict,
    EgpProjectNumber,
    GfmisAgency,
    GfmisBudgetCode,
    GfmisFund,
    GfmisGl,
    TaxId,
    org_type_of_dla_code,
    tin_check_digit,
    validate_code,
)
from canonical_model.entities.organization import LocalOrgType
from canonical_model.rejection import Rejection
from canonical_model.thai_digits import to_thai_digits
from tests.shipped_data import LAO_REGISTRY

PROPERTY = settings(max_examples=200, deadline=None)
DIGITS12 = st.text(alphabet="0123456789", min_size=12, max_size=12)


def rule_of(scheme: str, value: object) -> str:
    with pytest.raises(Rejection) as caught:
        validate_code(scheme, value)
    assert caught.value.reason
    return caught.value.rule


@pytest.mark.parametrize(
    ("scheme", "raw", "expected"),
    [
        ("dla-lao", "2810101", "2810101"),  # อบจ.กระบี่
        ("dla-lao", "4810102", "4810102"),
        ("dla-lao", "5810401", "5810401"),
        ("dla-lao", "6810403", "6810403"),
        ("dla-lao", "3340101", "3340101"),  # ทน.อุบลราชธานี
        ("dla-lao", 5810401, "5810401"),
        ("dla-lao", "๕๘๑๐๔๐๑", "5810401"),
        ("dopa-province", "81", "81"),
        ("dopa-district", "8104", "8104"),
        ("dopa-subdistrict", "100101", "100101"),
        ("egp-project", "68069160377", "68069160377"),
        ("egp-project", "67089336878", "67089336878"),
        ("egp-project", 68069160377, "68069160377"),
        ("th-tin", "0105549007974", "0105549007974"),
        ("th-tin", "0-1055-49007-97-4", "0105549007974"),
        ("th-tin", " ๐๑๐๕๕๔๙๐๐๗๙๗๔ ", "0105549007974"),
        ("gfmis-budget", "0" * 19 + "1", "0" * 19 + "1"),
        ("gfmis-fund", "6011220", "6011220"),
        ("gfmis-fund", "5911500", "5911500"),
        ("gfmis-gl", "5104010107", "5104010107"),
        ("gfmis-gl", "1101010101", "1101010101"),
        ("gfmis-gl", 1101020501, "1101020501"),
        ("gfmis-agency", "01009", "01009"),
        ("gfmis-agency", "03003", "03003"),
        ("bb-budget", "1500883002600IT3", "1500883002600IT3"),  # govspending bbgfproject
        ("bb-budget", "1500883002600it3", "1500883002600IT3"),
        ("local-classification", "00111", "00111"),
        ("local-classification", "00 110", "00110"),
        ("national-classification", "2565.1.2-3", "2565.1.2-3"),
    ],
)
def test_valid_codes_in_canonical_form(scheme: str, raw: object, expected: str) -> None:
    assert validate_code(scheme, raw) == expected


@pytest.mark.parametrize(
    ("scheme", "raw", "rule"),
    [
        ("dla-lao", "7810401", "code.dla-lao.type_digit"),
        ("dla-lao", "1810401", "code.dla-lao.type_digit"),
        ("dla-lao", "5090401", "code.dla-lao.province"),
        ("dla-lao", "581040", "code.dla-lao.format"),
        ("dla-lao", "58104O1", "code.dla-lao.format"),
        ("dla-lao", "", "code.dla-lao.empty"),
        ("dla-lao", 5810401.0, "code.dla-lao.not_a_string"),
        ("dla-lao", True, "code.dla-lao.not_a_string"),
        ("dopa-province", "09", "code.dopa-province.province"),
        ("dopa-province", "810", "code.dopa-province.format"),
        ("dopa-district", "0104", "code.dopa-district.province"),
        ("dopa-subdistrict", "10010", "code.dopa-subdistrict.format"),
        ("egp-project", "68139160377", "code.egp-project.month"),
        ("egp-project", "68009160377", "code.egp-project.month"),
        ("egp-project", "01069160377", "code.egp-project.year"),
        ("egp-project", "6806916037", "code.egp-project.format"),
        ("th-tin", "0105549007975", "code.th-tin.check_digit"),
        ("th-tin", "130990115xxxx", "code.th-tin.masked"),
        ("th-tin", 105549007974, "code.th-tin.not_a_string"),  # the leading 0 is already lost
        ("th-tin", "010554900797", "code.th-tin.format"),
        ("gfmis-budget", "0300213001120001", "code.gfmis-budget.format"),  # old 16-digit FISTL
        ("gfmis-budget", 12345678901234567890, "code.gfmis-budget.not_a_string"),
        ("gfmis-fund", "601122", "code.gfmis-fund.format"),
        ("gfmis-gl", "6104010107", "code.gfmis-gl.account_class"),
        ("gfmis-gl", "5104010107.101", "code.gfmis-gl.format"),
        ("gfmis-agency", 1009, "code.gfmis-agency.not_a_string"),
        ("gfmis-agency", "1009", "code.gfmis-agency.format"),
        ("bb-budget", "1500883002600IT", "code.bb-budget.format"),
        ("bb-budget", "A500883002600IT3", "code.bb-budget.format"),
        ("local-classification", "", "code.local-classification.empty"),
        ("local-classification", "00110/1", "code.local-classification.format"),
        ("local-classification", ".00110", "code.local-classification.format"),
        ("local-classification", 110, "code.local-classification.not_a_string"),
        ("national-classification", "งบลงทุน", "code.national-classification.format"),
        ("no-such-scheme", "1", "code.unknown_scheme"),
    ],
)
def test_invalid_codes_are_rejected_with_the_scheme_rule(scheme: str, raw: object, rule: str) -> None:
    assert rule_of(scheme, raw) == rule


def test_every_scheme_accepts_its_own_example_and_has_a_description() -> None:
    assert set(SCHEMES) == {
        "dla-lao",
        "dopa-province",
        "dopa-district",
        "dopa-subdistrict",
        "egp-project",
        "th-tin",
        "gfmis-budget",
        "gfmis-fund",
        "gfmis-gl",
        "gfmis-agency",
        "bb-budget",
        "local-classification",
        "national-classification",
    }
    for scheme in SCHEMES.values():
        assert scheme.description
        if scheme.example:
            assert validate_code(scheme.name, scheme.example) == scheme.example


def test_tin_check_digit_of_the_reference_sample() -> None:
    assert tin_check_digit("010554900797") == 4
    with pytest.raises(Rejection) as caught:
        tin_check_digit("01055490079")
    assert caught.value.rule == "code.th-tin.format"


@PROPERTY
@given(DIGITS12)
def test_tin_with_its_check_digit_is_valid_and_any_other_digit_is_not(first12: str) -> None:
    check = tin_check_digit(first12)
    assert 0 <= check <= 9
    assert validate_code("th-tin", f"{first12}{check}") == f"{first12}{check}"
    assert validate_code("th-tin", to_thai_digits(f"{first12}{check}")) == f"{first12}{check}"
    for wrong in set(range(10)) - {check}:
        assert rule_of("th-tin", f"{first12}{wrong}") == "code.th-tin.check_digit"


def test_tin_check_digit_follows_the_official_formula_including_its_blind_spot() -> None:
    # The third digit has weight 11 = 0 (mod 11), so the official formula cannot see a typo there;
    # matching that weakness shows we compute the same digit the Revenue Department does.
    assert tin_check_digit("019554900797") == tin_check_digit("010554900797") == 4
    assert validate_code("th-tin", "0195549007974") == "0195549007974"


DLA_CODES = st.builds(
    lambda type_digit, province, district, running: f"{type_digit}{province:02d}{district:02d}{running:02d}",
    st.sampled_from("23456"),
    st.integers(min_value=10, max_value=99),
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=99),
)


@PROPERTY
@given(DLA_CODES)
def test_dla_codes_accept_thai_digits_ints_and_spaces_alike(code: str) -> None:
    assert validate_code("dla-lao", code) == code
    assert validate_code("dla-lao", to_thai_digits(code)) == code
    assert validate_code("dla-lao", int(code)) == code
    assert validate_code("dla-lao", f" {code[:3]} {code[3:]}\t") == code
    assert org_type_of_dla_code(code) in get_args(LocalOrgType)


@PROPERTY
@given(DLA_CODES, st.sampled_from("01789"))
def test_dla_type_digit_outside_two_to_six_is_rejected(code: str, type_digit: str) -> None:
    assert rule_of("dla-lao", type_digit + code[1:]) == "code.dla-lao.type_digit"


@PROPERTY
@given(
    st.sampled_from(sorted(name for name, scheme in SCHEMES.items() if scheme.may_start_with_zero)),
    st.integers(min_value=0, max_value=10**25),
)
def test_ints_are_refused_where_codes_may_start_with_zero(scheme: str, number: int) -> None:
    assert rule_of(scheme, number) == f"code.{scheme}.not_a_string"


@PROPERTY
@given(st.sampled_from(sorted(SCHEMES)), st.text(alphabet="0123456789", min_size=1, max_size=25))
def test_thai_digits_validate_like_arabic_digits(scheme: str, digits: str) -> None:
    try:
        expected: object = validate_code(scheme, digits)
    except Rejection as rejection:
        expected = rejection.rule
    try:
        actual: object = validate_code(scheme, to_thai_digits(digits))
    except Rejection as rejection:
        actual = rejection.rule
    assert actual == expected


@pytest.mark.parametrize(
    ("code", "org_type"),
    [
        ("2810101", "provincial_admin_org"),
        ("3340101", "city_municipality"),
        ("4810102", "town_municipality"),
        ("5810401", "subdistrict_municipality"),
        ("6810403", "subdistrict_admin_org"),
        ("3200408", "special_admin_area"),  # เมืองพัทยา
    ],
)
def test_org_type_of_dla_code(code: str, org_type: str) -> None:
    assert org_type_of_dla_code(code) == org_type


def _registry() -> list[dict[str, str]]:
    with LAO_REGISTRY.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_code_in_the_dla_registry_is_valid() -> None:
    rows = _registry()
    assert len(rows) > 7000
    for row in rows:
        assert validate_code("dla-lao", row["dla_code"]) == row["dla_code"]
        assert row["dla_code"][1:3] == row["province_code"]


def test_registry_org_types_follow_the_type_digit_except_for_upgraded_tambon_councils() -> None:
    disagreements = Counter(
        (row["dla_code"][0], row["org_type"])
        for row in _registry()
        if org_type_of_dla_code(row["dla_code"]) != row["org_type"]
    )
    # An อบต. upgraded to เทศบาลตำบล keeps its 6xxxxxx code; nothing else may disagree.
    assert set(disagreements) <= {("6", "subdistrict_municipality")}


class Line(BaseModel):
    org: DlaCode
    province: DopaProvince
    district: DopaDistrict
    subdistrict: DopaSubdistrict
    project: EgpProjectNumber
    winner_tin: TaxId
    budget_code: GfmisBudgetCode
    fund: GfmisFund
    gl: GfmisGl
    agency: GfmisAgency
    bb_code: BbBudgetCode


VALID_LINE = {
    "org": 5810401,
    "province": "81",
    "district": "8104",
    "subdistrict": "๘๑๐๔๐๑",
    "project": "68069160377",
    "winner_tin": "0105549007974",
    "budget_code": "0" * 20,
    "fund": "6011220",
    "gl": "5104010107",
    "agency": "01009",
    "bb_code": "1500883002600it3",
}


def test_annotated_codes_validate_and_stay_strings_in_json() -> None:
    line = Line.model_validate(VALID_LINE)
    assert line.org == "5810401" and line.subdistrict == "810401" and line.bb_code == "1500883002600IT3"
    dumped = line.model_dump_json()
    assert '"org":"5810401"' in dumped and '"agency":"01009"' in dumped
    assert Line.model_validate_json(dumped) == line
    schema = Line.model_json_schema()["properties"]
    assert schema["winner_tin"]["type"] == "string"
    assert re.fullmatch(schema["winner_tin"]["pattern"], "0105549007974")


def test_annotated_codes_report_the_rule() -> None:
    with pytest.raises(ValidationError) as caught:
        Line.model_validate(VALID_LINE | {"org": "7810401", "winner_tin": "0105549007975", "agency": 1009})
    assert {(error["loc"][0], error["type"]) for error in caught.value.errors()} == {
        ("org", "code.dla-lao.type_digit"),
        ("winner_tin", "code.th-tin.check_digit"),
        ("agency", "code.gfmis-agency.not_a_string"),
    }
