"""Procurement projects (e-GP) and their contracts."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from canonical_model.codes import EgpProjectNumber, TaxId
from canonical_model.entities.common import CanonicalId
from canonical_model.envelope import CanonicalModel, Entity
from canonical_model.fiscal_year import FiscalYear
from canonical_model.money import Money
from canonical_model.rejection import Rejection
from canonical_model.thai_dates import ThaiDate
from canonical_model.thai_text import Identifier, IdentifierText, LabelText, Name, Title, normalize_code


class Winner(CanonicalModel):
    name: Name
    tax_id: TaxId | None = None


class Procurement(Entity):
    entity_type: Literal["procurement"] = "procurement"
    egp_project_number: EgpProjectNumber | None = None
    fiscal_year: FiscalYear | None = None
    title: Title
    procurement_type: Literal["purchase", "hire", "rent"]
    method: LabelText | None = None
    announced_on: ThaiDate | None = None
    budget_amount: Money | None = None
    reference_price: Money | None = None
    agreed_price: Money | None = None
    status: LabelText | None = None
    winner: Winner | None = None
    project_id: CanonicalId | None = None


class Contract(Entity):
    entity_type: Literal["contract"] = "contract"
    contract_number: Identifier
    # Derived, so that "กจด.ป.๑๑๕/๒๕๖๘" and "กจด.ป.115/2568" are recognised as one contract.
    contract_number_normalized: IdentifierText | None = None
    procurement_id: CanonicalId | None = None
    supplier_tax_id: TaxId | None = None
    signed_on: ThaiDate | None = None
    ends_on: ThaiDate | None = None
    amount: Money
    status: LabelText | None = None

    @model_validator(mode="after")
    def _derive_and_check(self) -> Contract:
        self.contract_number_normalized = normalize_code(self.contract_number)
        if self.signed_on and self.ends_on and self.ends_on < self.signed_on:
            raise Rejection(
                "contract.ends_before_signed",
                "ends_on must not be before signed_on",
                self.ends_on.isoformat(),
                "ends_on",
            ).as_pydantic_error()
        return self
