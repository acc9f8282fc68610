"""Settings of a declared REST system: the connection, and which transport declaration to follow."""

from __future__ import annotations

from pydantic import Field, SecretStr

from prasan import HttpSettings


class DeclaredSettings(HttpSettings):
    base_url: str = Field(description="Root URL of the system (or its simulator), without a trailing slash.")
    api_key: SecretStr | None = Field(
        default=None, description="Credential sent on every request, in the header the transport declares."
    )
    transport_file: str | None = Field(
        default=None,
        description=(
            "A transport.yaml to follow instead of the one shipped with the plugin (its mapping files are "
            "found next to it); for a system whose real format differs from the shipped declaration."
        ),
    )
