"""Converters the e-Plan mapping needs beyond the core set, contributed as `eplan.<name>`."""

from __future__ import annotations

from typing import Any

from prasan import Converter, ConverterArgs, identity


class KnownOrgArgs(ConverterArgs):
    pass


def known_org(args: KnownOrgArgs, reference: Any) -> Converter:
    """A DLA code (Thai digits allowed) that the organisation registry knows; else rule `org.unknown`."""

    def forward(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            value = "" if value is None else value
        return str(reference.require_org(str(value))["org_code"])

    return Converter(forward, identity)
