"""Connection settings of the GF-MIS source."""

from __future__ import annotations

from pydantic import Field

from prasan import HttpSettings


class GfmisSettings(HttpSettings):
    page_size: int = Field(default=200, ge=1, le=1000, description="Disbursement lines asked for per page of a poll.")
    max_pages: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Pages one pull reads before handing back to the scheduler, which resumes from the saved cursor.",
    )
