"""Small value objects shared by several entity families."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from canonical_model.envelope import CanonicalId as CanonicalId  # one definition, cited from here too
from canonical_model.envelope import CanonicalModel
from canonical_model.fiscal_year import FiscalYear
from canonical_model.money import Money
from canonical_model.thai_text import LabelText, identifier_text

Latitude = Annotated[Decimal, Field(ge=Decimal("-90"), le=Decimal("90"), max_digits=16, decimal_places=12)]
Longitude = Annotated[Decimal, Field(ge=Decimal("-180"), le=Decimal("180"), max_digits=16, decimal_places=12)]
# Kept for plugins that used it: a short free-text phrase (normalised, at most 500 characters).
ShortText = LabelText
# Names of classification schemes and tree levels are short tokens ("local-classification", "programme").
ClassificationToken = identifier_text(60, "a classification scheme or level")
# Classification codes are short tokens of digits, letters, dots and dashes; 40 as before.
ClassificationCode = identifier_text(40, "a classification code")


class YearAmount(CanonicalModel):
    fiscal_year: FiscalYear
    amount: Money


class ClassificationRef(CanonicalModel):
    """One node of a budget classification tree, as cited by a budget line."""

    scheme: ClassificationToken
    level: ClassificationToken
    code: ClassificationCode
    name: LabelText | None = None
