"""Settings of e-budgeting: the open-data API it is read from, the request channel it is written to."""

from __future__ import annotations

from datetime import date

from pydantic import Field, SecretStr, field_validator

from prasan import HttpSettings


def current_fiscal_year(today: date | None = None) -> int:
    """The Buddhist-Era fiscal year running today (October starts the next one)."""
    today = today or date.today()
    return today.year + 543 + (1 if today.month >= 10 else 0)


class EbudgetSettings(HttpSettings):
    base_url: str = Field(
        default="https://govspendingapi.data.go.th",
        description="Root URL of the open-data API serving bbgfproject (or its simulator), no trailing /.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="data.go.th user_token for the open-data API; the API takes it as a query parameter.",
    )
    fiscal_years: tuple[int, ...] = Field(
        default_factory=lambda: (current_fiscal_year(),),
        min_length=1,
        description="Buddhist-Era fiscal years to read, oldest first (default: the fiscal year running now).",
    )
    min_code: str | None = Field(
        default="15000",
        pattern=r"^[0-9]{5}$",
        description="Ministry the read is limited to (15000: Interior, with the local grants); null: all.",
    )
    prov_code: str | None = Field(
        default=None, description="Province filter passed to the API as prov_code; null reads every province."
    )
    max_pages: int = Field(
        default=50, ge=1, le=1000, description="Pages (of 20 rows) one read may fetch; the next pull goes on."
    )
    requests_url: str | None = Field(
        default=None,
        description="Root URL of the local-grant request channel (bbl.bb.go.th); null: the same as base_url.",
    )
    grant_request_year: int | None = Field(
        default=None, ge=2400, le=2700,
        description="Buddhist-Era fiscal year a plan project's grant request asks for; null: the first year "
        "the project plans money in.",
    )
    requests_api_key: SecretStr | None = Field(
        default=None, description="Credential of the request channel, sent as X-Api-Key with each request."
    )

    @field_validator("fiscal_years")
    @classmethod
    def _buddhist_era(cls, years: tuple[int, ...]) -> tuple[int, ...]:
        # A CE year here would read an empty API silently; refuse it where the operator typed it.
        wrong = [year for year in years if not 2400 <= year <= 2700]
        if wrong:
            raise ValueError(f"fiscal years are Buddhist Era (e.g. 2568), not {wrong}")
        return tuple(sorted(set(years)))
