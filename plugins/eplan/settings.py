"""Connection settings of the e-Plan source."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class EplanSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(
        default="http://127.0.0.1:8091",
        description="Root URL of the e-Plan service (or its simulator), without a trailing slash.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="API key sent as the X-Api-Key header when e-Plan requires one."
    )
    timeout_s: float = Field(default=15.0, gt=0, le=300, description="Seconds to wait for one e-Plan request.")
    page_size: int = Field(default=100, ge=1, le=500, description="Projects asked for per poll request.")
