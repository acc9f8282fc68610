"""Converters the SOLA mappings need beyond the core set, contributed as `sola.<name>`."""

from __future__ import annotations

from typing import Any

from prasan import Converter, ConverterArgs, identity


class KnownOrgArgs(ConverterArgs):
    pass


def known_org(args: KnownOrgArgs, reference: Any) -> Converter:
    """A DLA code (Thai digits allowed) the organisation registry knows, else rule `org.unknown`: a
    well-formed typo would otherwise file the project under another organisation, or under nobody."""

    def forward(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            value = "" if value is None else value
        return str(reference.require_org(str(value))["org_code"])

    return Converter(forward, identity)
