"""The `elaas.guid` converter: a local classification code on the hub's side, an e-LAAS GUID on the other."""

from __future__ import annotations

from typing import Any

from prasan import Rejection
from prasan import Converter, ConverterArgs
from plugins.elaas.guids import default_guids


class GuidArgs(ConverterArgs):
    scheme: str
    level: str


def guid(args: GuidArgs, reference: Any) -> Converter:
    guids = default_guids()
    scheme, level = args.scheme, args.level
    if not guids.at_level(level):
        raise ValueError(f"guids.yaml has no entries at level {level!r}")

    def forward(value: Any) -> str:  # native GUID -> code
        entry = guids.entry_of_guid(str(value))
        if entry is None or entry.scheme != scheme or entry.level != level:
            raise Rejection("elaas.guid_unknown", f"not an e-LAAS {level} GUID of {scheme}", value)
        return entry.code

    def inverse(value: Any) -> str:  # code -> native GUID
        entry = guids.entry(scheme, str(value))
        if entry is None:
            raise Rejection(
                "elaas.guid_unmapped",
                f"no e-LAAS GUID is known for {scheme} code {value!r} (plugins/elaas/codelists/guids.yaml)",
                value,
            )
        if entry.level != level:
            raise Rejection("elaas.wrong_level", f"{scheme} code {value!r} is a {entry.level}, not a {level}", value)
        return entry.guid

    return Converter(forward, inverse)
