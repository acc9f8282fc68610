"""Connection settings of the e-Plan source."""

from __future__ import annotations

from pydantic import Field

from prasan import HttpSettings


class EplanSettings(HttpSettings):
    base_url: str = Field(
        default="http://127.0.0.1:8091",
        description="Root URL of the e-Plan service (or its simulator), without a trailing slash.",
    )
    page_size: int = Field(default=100, ge=1, le=500, description="Projects asked for per poll request.")
