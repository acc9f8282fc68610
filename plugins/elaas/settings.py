"""Connection settings of the e-LAAS destination."""

from __future__ import annotations

from pydantic import Field, SecretStr

from prasan import HttpSettings


class ElaasSettings(HttpSettings):
    base_url: str = Field(
        default="http://127.0.0.1:8092",
        description="Root URL of the e-LAAS service (or its simulator), without a trailing slash.",
    )
    api_key: SecretStr = Field(description="API key sent as the X-Api-Key header on every write.")  # type: ignore[assignment]
