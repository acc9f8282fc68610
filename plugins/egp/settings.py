"""Connection settings of the e-GP source: the contract API (API key) and the announcement feeds."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from prasan import HttpSettings
from prasan.canonical import validate_code


class EgpSettings(HttpSettings):
    base_url: str = Field(
        default="http://127.0.0.1:8094",
        description="Root URL of the govspending contract API (CGDCONTRACT) or its simulator, without a trailing slash.",
    )
    api_key: SecretStr = Field(  # type: ignore[assignment]
        description="data.go.th API key, sent as the api-key header to the contract API (never to the feed)."
    )
    feed_base_url: str | None = Field(
        default=None,
        description="Root URL of the e-GP announcement RSS (process3.gprocurement.go.th); unset: base_url.",
    )
    dept_sub_ids: tuple[str, ...] = Field(
        default=(),
        description="DLA codes (7 digits) of the organisations whose announcement feeds and contracts are read.",
    )
    announce_types: tuple[str, ...] = Field(
        default=("D0", "15"),
        description="e-GP announcement type codes read from the feed (egp.announce-type code list).",
    )
    budget_year: int = Field(
        default=2568, ge=2550, le=2700, description="Fiscal year (BE) whose contracts the contract API is asked for."
    )
    page_size: int = Field(default=50, ge=1, le=500, description="Projects asked for per contract API page.")

    @field_validator("dept_sub_ids")
    @classmethod
    def _dla_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # A feed is read per organisation; only a DLA code can be tied to the hub's registry.
        return tuple(validate_code("dla-lao", code) for code in value)
