"""Converters the e-Plan mapping needs beyond the core set."""

from __future__ import annotations

from typing import Any

from core.mapping.converters import Args, Converter, identity, register_converter


class KnownOrgArgs(Args):
    pass


@register_converter("eplan_known_org", KnownOrgArgs, needs_reference=True)
def _known_org(args: KnownOrgArgs, reference: Any) -> Converter:
    """A DLA code (Thai digits allowed) that the organisation registry knows; else rule `org.unknown`."""

    def forward(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            value = "" if value is None else value
        return str(reference.require_org(str(value))["org_code"])

    return Converter(forward, identity)
