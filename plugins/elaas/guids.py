"""The e-LAAS code <-> GUID crosswalk: e-LAAS keys its master data by GUIDs, the hub by local codes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from prasan import Rejection

GUIDS_FILE = Path(__file__).parent / "codelists" / "guids.yaml"


@dataclass(frozen=True)
class GuidEntry:
    scheme: str
    code: str
    guid: str
    level: str
    name_th: str
    parent: str | None


class GuidCrosswalk:
    def __init__(self, entries: list[GuidEntry]) -> None:
        self.entries = entries
        self._by_code = {(e.scheme, e.code): e for e in entries}
        self._by_guid = {e.guid: e for e in entries}
        if len(self._by_guid) != len(entries) or len(self._by_code) != len(entries):
            raise ValueError("guids.yaml repeats a code or a GUID")

    def guid_of(self, scheme: str, code: str, field: str | None = None) -> str:
        entry = self._by_code.get((scheme, code))
        if entry is None:
            raise Rejection(
                "elaas.guid_unmapped",
                f"no e-LAAS GUID is known for {scheme} code {code!r} (plugins/elaas/codelists/guids.yaml)",
                code,
                field,
            )
        return entry.guid

    def entry_of_guid(self, guid: str) -> GuidEntry | None:
        return self._by_guid.get(guid.lower())

    def entry(self, scheme: str, code: str) -> GuidEntry | None:
        return self._by_code.get((scheme, code))

    def at_level(self, level: str) -> list[GuidEntry]:
        return [e for e in self.entries if e.level == level]

    def children_of(self, guid: str) -> list[GuidEntry]:
        parent = self.entry_of_guid(guid)
        if parent is None:
            return []
        return [e for e in self.entries if e.scheme == parent.scheme and e.parent == parent.code]


def load_guids(path: Path | str = GUIDS_FILE) -> GuidCrosswalk:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    entries = [
        GuidEntry(scheme, str(row["code"]), str(row["guid"]).lower(), row["level"], row["name_th"], row.get("parent"))
        for scheme, rows in data["schemes"].items()
        for row in rows
    ]
    return GuidCrosswalk(entries)


@lru_cache(maxsize=1)
def default_guids() -> GuidCrosswalk:
    return load_guids()
