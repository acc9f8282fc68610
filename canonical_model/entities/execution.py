"""What happens after the budget: disbursements (การเบิกจ่าย) and progress reports."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from canonical_model.codes import GfmisBudgetCode, GfmisFund, GfmisGl
from canonical_model.entities.common import CanonicalId
from canonical_model.envelope import Entity
from canonical_model.fiscal_year import FiscalYear
from canonical_model.money import Money
from canonical_model.thai_dates import ThaiDate
from canonical_model.thai_text import Identifier, ThaiText


class Disbursement(Entity):
    entity_type: Literal["disbursement"] = "disbursement"
    document_number: Identifier
    fiscal_year: FiscalYear | None = None
    paid_on: ThaiDate
    amount: Money
    budget_code: GfmisBudgetCode | None = None
    fund_source: GfmisFund | None = None
    gl_account: GfmisGl | None = None
    cost_center: str | None = Field(default=None, pattern=r"^[0-9]{10}$")
    contract_id: CanonicalId | None = None
    project_id: CanonicalId | None = None


class ProgressReport(Entity):
    entity_type: Literal["progress_report"] = "progress_report"
    project_id: CanonicalId
    as_of: ThaiDate
    physical_progress_pct: Decimal = Field(ge=0, le=100, max_digits=5, decimal_places=2)
    spent_amount: Money | None = None
    status: Literal["not_started", "in_progress", "completed", "suspended", "cancelled"] = "in_progress"
    note: ThaiText | None = None
