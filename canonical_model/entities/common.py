"""Small value objects shared by several entity families."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from canonical_model.envelope import CanonicalModel
from canonical_model.fiscal_year import FiscalYear
from canonical_model.money import Money

Latitude = Annotated[Decimal, Field(ge=Decimal("-90"), le=Decimal("90"), max_digits=16, decimal_places=12)]
Longitude = Annotated[Decimal, Field(ge=Decimal("-180"), le=Decimal("180"), max_digits=16, decimal_places=12)]
CanonicalId = Annotated[str, Field(min_length=1, max_length=64)]
ShortText = Annotated[str, Field(max_length=500)]


class YearAmount(CanonicalModel):
    fiscal_year: FiscalYear
    amount: Money


class ClassificationRef(CanonicalModel):
    """One node of a budget classification tree, as cited by a budget line."""

    scheme: str = Field(min_length=1, max_length=60)
    level: str = Field(min_length=1, max_length=60)
    code: str = Field(min_length=1, max_length=40)
    name: str | None = Field(default=None, max_length=500)
