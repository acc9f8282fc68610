"""The canonical plan-and-budget model: the hub's common language. Pure: no I/O.

`ENTITY_TYPES` maps each `entity_type` to its pydantic model; the Thai value types and parsers are
re-exported here so plugins need one import.
"""

from pydantic import BaseModel

from canonical_model.codes import (
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
from canonical_model.entities import (
    BudgetLine,
    BudgetRequest,
    ClassificationRef,
    Contract,
    DevelopmentPlan,
    Disbursement,
    Organization,
    PlanProject,
    Procurement,
    ProgressReport,
    YearAmount,
)
from canonical_model.envelope import Entity, SourceRef, content_hash
from canonical_model.fiscal_year import (
    FiscalYear,
    fiscal_year_bounds,
    fiscal_year_from_egp_project_number,
    fiscal_year_from_gfmis_fund,
    fiscal_year_from_two_digit_be,
    fiscal_year_of,
    parse_fiscal_year,
)
from canonical_model.money import Money, SignedMoney, format_money, parse_money
from canonical_model.rejection import Rejection, rejections_from_validation_error
from canonical_model.thai_dates import ThaiDate, format_thai_date, parse_period, parse_thai_date
from canonical_model.thai_digits import to_arabic_digits, to_thai_digits
from canonical_model.formula import FORMULA_LIKE_RULE, formula_like, formula_warnings, neutralise_formula
from canonical_model.thai_text import (
    Identifier,
    IdentifierText,
    LabelText,
    Name,
    NonEmptyThaiText,
    TextLimit,
    ThaiText,
    Title,
    TitleText,
    normalize_code,
    normalize_text,
    reject_hidden_characters,
)

ENTITY_TYPES: dict[str, type[BaseModel]] = {
    model.model_fields["entity_type"].default: model
    for model in (
        Organization,
        DevelopmentPlan,
        PlanProject,
        BudgetRequest,
        BudgetLine,
        Procurement,
        Contract,
        Disbursement,
        ProgressReport,
    )
}

__all__ = [
    "ENTITY_TYPES",
    "FORMULA_LIKE_RULE",
    "Identifier",
    "IdentifierText",
    "LabelText",
    "Name",
    "TextLimit",
    "Title",
    "TitleText",
    "formula_like",
    "formula_warnings",
    "neutralise_formula",
    "reject_hidden_characters",
    "BbBudgetCode",
    "BudgetLine",
    "BudgetRequest",
    "ClassificationRef",
    "Contract",
    "DevelopmentPlan",
    "Disbursement",
    "DlaCode",
    "DopaDistrict",
    "DopaProvince",
    "DopaSubdistrict",
    "EgpProjectNumber",
    "Entity",
    "FiscalYear",
    "GfmisAgency",
    "GfmisBudgetCode",
    "GfmisFund",
    "GfmisGl",
    "Money",
    "NonEmptyThaiText",
    "Organization",
    "PlanProject",
    "Procurement",
    "ProgressReport",
    "Rejection",
    "SignedMoney",
    "SourceRef",
    "TaxId",
    "ThaiDate",
    "ThaiText",
    "YearAmount",
    "content_hash",
    "fiscal_year_bounds",
    "fiscal_year_from_egp_project_number",
    "fiscal_year_from_gfmis_fund",
    "fiscal_year_from_two_digit_be",
    "fiscal_year_of",
    "format_money",
    "format_thai_date",
    "normalize_code",
    "normalize_text",
    "org_type_of_dla_code",
    "parse_fiscal_year",
    "parse_money",
    "parse_period",
    "parse_thai_date",
    "rejections_from_validation_error",
    "tin_check_digit",
    "to_arabic_digits",
    "to_thai_digits",
    "validate_code",
]
