"""Regenerate guids.yaml, the e-LAAS code <-> GUID crosswalk, from the hub's local code lists.

The real e-LAAS keys its master data by GUIDs we cannot see; ours are uuid5 of scheme and code so that
they are reproducible. The output is committed: it is data, and a code's GUID must never change once
records carry it. Run: `python -m plugins.elaas.codelists.generate_guids`.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml

NAMESPACE = uuid.UUID("6f1c3a52-9a0e-5b7d-8c1e-2e4c0d5a7b90")
ROOT = Path(__file__).resolve().parents[3]
SOURCES = {
    "local-classification": ROOT / "config" / "codelists" / "local-classification.yaml",
    "local-expense-category": ROOT / "config" / "codelists" / "local-expense-category.yaml",
}
# e-LAAS dropdowns cover แผนงาน/งาน and งบ/หมวด/ประเภท; ด้าน is only a heading in its reports.
LEVELS = {"programme", "activity", "budget_group", "expense_category", "expense_type"}


def build() -> dict:
    schemes: dict[str, list[dict]] = {}
    for scheme, path in SOURCES.items():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        rows = []
        for node in data["nodes"]:
            if node["level"] not in LEVELS:
                continue
            rows.append(
                {
                    "code": node["code"],
                    "guid": str(uuid.uuid5(NAMESPACE, f"{scheme}:{node['code']}")),
                    "level": node["level"],
                    "name_th": node["name_th"],
                    "parent": node.get("parent") if node.get("parent") else None,
                }
            )
        schemes[scheme] = rows
    return {"namespace": str(NAMESPACE), "schemes": schemes}


def main() -> None:
    header = (
        "# e-LAAS master-data GUIDs for the local classification codes (config/codelists).\n"
        "# Generated once by generate_guids.py (uuid5 of 'scheme:code') and committed as data:\n"
        "# never edit a GUID in place, records already carry it.\n"
    )
    text = yaml.safe_dump(build(), allow_unicode=True, sort_keys=False, width=200)
    (Path(__file__).parent / "guids.yaml").write_text(header + text, encoding="utf-8")


if __name__ == "__main__":
    main()
