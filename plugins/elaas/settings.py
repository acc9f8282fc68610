"""Connection settings of the e-LAAS destination."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ElaasSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(
        default="http://127.0.0.1:8092",
        description="Root URL of the e-LAAS service (or its simulator), without a trailing slash.",
    )
    api_key: SecretStr = Field(description="API key sent as the X-Api-Key header on every write.")
    timeout_s: float = Field(
        default=15.0, gt=0, le=300, description="Seconds to wait for one e-LAAS request before retrying later."
    )
