"""Budget requests (คำของบประมาณ) and budget lines (รายการงบประมาณ)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from canonical_model.codes import GfmisBudgetCode
from canonical_model.entities.common import CanonicalId, ClassificationRef, YearAmount
from canonical_model.envelope import Entity
from canonical_model.fiscal_year import FiscalYear
from canonical_model.money import Money
from canonical_model.thai_text import LabelText, NonEmptyThaiText


class BudgetRequest(Entity):
    entity_type: Literal["budget_request"] = "budget_request"
    project_id: CanonicalId | None = None
    fiscal_year: FiscalYear
    amount: Money
    budget_type: LabelText | None = None
    grant_kind: Literal["general", "specific", "own_revenue"] | None = None
    status: Literal["draft", "submitted", "approved", "rejected"] = "draft"
    approved_amount: Money | None = None
    # The GF-MIS budget code an approved grant is paid from: the key by which the payments find the request.
    budget_code: GfmisBudgetCode | None = None


class BudgetLine(Entity):
    entity_type: Literal["budget_line"] = "budget_line"
    fiscal_year: FiscalYear
    phase: Literal["requested", "approved", "revised", "transferred"]
    classification: list[ClassificationRef] = Field(default_factory=list)
    description: NonEmptyThaiText
    amount: Money
    project_id: CanonicalId | None = None
    funding_source: LabelText | None = None
    # What was actually spent in earlier fiscal years under the same line, as a budget ordinance
    # (ข้อบัญญัติ) prints it beside the new amount (รายจ่ายจริง of the two years before).
    past_years: list[YearAmount] = Field(default_factory=list, max_length=10)
