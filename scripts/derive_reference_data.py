"""Regenerate the derived reference data under config/ from the public data sets it names.

Run by hand when the public data changes (the hub never runs it); SOURCE is a folder holding the DLA
registry (lao_registry.csv), the DOPA areas (geo/) and the bbgfproject sample (samples/):

    .venv/bin/python scripts/derive_reference_data.py --source SOURCE [--config config]

Writes config/masterdata/{lao_registry,provinces,districts,subdistricts}.csv and
config/codelists/national-classification.yaml. The hand-written files (local code lists, the expense
category lists, crosswalks, ATTRIBUTION.md) are left alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

EXPECTED_ROWS = {
    "lao_registry.csv": 7849,
    "provinces.csv": 77,
    "districts.csv": 929,
    "sub_districts.csv": 7451,
}


def clean(text: str) -> str:
    # Same folding as canonical_model.codelists.name_key, repeated so the script runs on its own.
    text = unicodedata.normalize("NFC", text).replace("\u0e4d\u0e32", "\u0e33")
    text = re.sub("[\u200b\u200c\u200d\u2060\ufeff]", "", text)
    return re.sub(r"\s+", " ", text).strip().strip("\"'").strip()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = EXPECTED_ROWS.get(path.name)
    if expected is not None and len(rows) != expected:
        sys.exit(f"{path}: {len(rows)} rows, README says {expected}; check the source before deriving")
    return rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {len(rows)} rows")


def derive_geo(source: Path, out: Path) -> None:
    provinces = read_csv(source / "geo" / "provinces.csv")
    districts = read_csv(source / "geo" / "districts.csv")
    subdistricts = read_csv(source / "geo" / "sub_districts.csv")
    regions = {r["id"]: clean(r["name"]) for r in read_csv(source / "geo" / "geographies.csv")}

    # provinces.csv has a running id; the DOPA code is only visible as the first two digits of its districts.
    dopa_of_province: dict[str, set[str]] = defaultdict(set)
    for d in districts:
        dopa_of_province[d["province_id"]].add(d["id"][:2])
    province_rows = []
    for p in provinces:
        codes = dopa_of_province.get(p["id"], set())
        if len(codes) != 1:
            sys.exit(f"province {p['id']} {p['name_th']}: DOPA code not unique from its districts: {codes}")
        province_rows.append(
            [codes.pop(), clean(p["name_th"]), clean(p["name_en"]), regions[p["geography_id"]]]
        )
    province_rows.sort()
    write_csv(out / "provinces.csv", ["code", "name_th", "name_en", "region_th"], province_rows)

    write_csv(
        out / "districts.csv",
        ["code", "name_th", "name_en", "province_code"],
        sorted([d["id"], clean(d["name_th"]), clean(d["name_en"]), d["id"][:2]] for d in districts),
    )
    write_csv(
        out / "subdistricts.csv",
        ["code", "name_th", "name_en", "district_code", "zip_code", "lat", "lon"],
        sorted(
            [
                s["id"],
                clean(s["name_th"]),
                clean(s["name_en"]),
                s["district_id"],
                s["zip_code"],
                s["lat"],
                s["long"],
            ]
            for s in subdistricts
        ),
    )


def derive_registry(source: Path, out: Path) -> None:
    read_csv(source / "lao_registry.csv")  # row-count check only
    # Copied byte for byte: it is already clean, and a verbatim copy is the simplest derivative to attribute.
    shutil.copyfile(source / "lao_registry.csv", out / "lao_registry.csv")
    print(f"copied lao_registry.csv: {EXPECTED_ROWS['lao_registry.csv']} rows")


def yaml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def derive_national(source: Path, out: Path) -> None:
    path = source / "samples" / "bb_grant_projects_2559.jsonl"
    with path.open(encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]

    ministries: dict[str, set[str]] = defaultdict(set)
    agencies: dict[str, set[tuple[str, str]]] = defaultdict(set)
    plan_segment: dict[str, set[str]] = defaultdict(set)  # plan name -> BB code digits 6-7
    plans_of_agency: dict[str, set[str]] = defaultdict(set)
    for item in items:
        ministries[item["min_code"]].add(clean(item["min"]))
        agencies[item["agc_code"]].add((item["min_code"], clean(item["agc"])))
        plan = clean(item["plan_name"])
        plan_segment[plan].add(item["bb_code"][5:7])
        plans_of_agency[item["agc_code"]].add(plan)
        if not item["bb_code"].startswith(item["agc_code"]):
            sys.exit(f"{item['bb_code']}: does not start with its agency code {item['agc_code']}")

    for what, table in (("ministry", ministries), ("agency", agencies), ("plan", plan_segment)):
        for key, values in table.items():
            if len(values) != 1:
                sys.exit(f"{what} {key}: not one value in the sample: {sorted(values)}")
    segment_owner = Counter(next(iter(v)) for v in plan_segment.values())
    if any(n > 1 for n in segment_owner.values()):
        sys.exit(f"BB code digits 6-7 shared by several plan names: {segment_owner}")
    objc = Counter(item["objc_level1_name"] for item in items)

    lines = [
        "# GENERATED by scripts/derive_reference_data.py from",
        "# the FY 2559 bbgfproject sample, tests/data/bb_grant_projects_2559.jsonl.xz (govspending API, FY 2559,",
        "# data.go.th). Do not edit by hand; rerun the script.",
        "#",
        "# National budget classification, programme tree:",
        "# กระทรวง › หน่วยรับงบประมาณ › แผนงาน › ผลผลิต/โครงการ.",
        "# Ministry and agency codes are the Budget Bureau's (min_code, agc_code). Plans carry no code",
        "# in the data, so the code is DERIVED: <agency code>-<digits 6-7 of the 16-digit BB code>.",
        "# In this sample those two digits are always the same for the same plan name, across agencies,",
        "# and differ between plans; that they are the Budget Bureau's plan number is an inference [I],",
        "# not a published fact.",
        "# A plan run by several agencies is one node per agency: the tree has the agency above the plan.",
        "# The ผลผลิต/โครงการ level is declared but empty: the sample has no output/project names.",
        "# Coverage: only what the FY 2559 sample holds (one ministry, "
        f"{len(agencies)} agencies, {sum(len(v) for v in plans_of_agency.values())} agency plans).",
        "# งบรายจ่าย (LV1..) is a separate economic list: national-expense-category.yaml. objc_level1_name",
        "# values seen: " + ", ".join(f"{k} ({n})" for k, n in objc.most_common()) + ".",
        "scheme: national-classification",
        "title: การจำแนกงบประมาณรายจ่ายตามหน่วยรับงบประมาณและแผนงาน (FY 2559 sample)",
        "levels:",
        "  - {id: ministry, name_th: กระทรวง}",
        "  - {id: budgetary_unit, name_th: หน่วยรับงบประมาณ}",
        "  - {id: budget_plan, name_th: แผนงาน}",
        "  - {id: output_project, name_th: ผลผลิต/โครงการ}",
        "nodes:",
    ]
    for min_code in sorted(ministries):
        (name,) = ministries[min_code]
        lines.append(f'  - {{code: "{min_code}", level: ministry, name_th: {yaml_str(name)}}}')
        for agc_code in sorted(a for a, v in agencies.items() if next(iter(v))[0] == min_code):
            ((_, agc_name),) = agencies[agc_code]
            lines.append(
                f'  - {{code: "{agc_code}", level: budgetary_unit, parent: "{min_code}", '
                f"name_th: {yaml_str(agc_name)}}}"
            )
            for plan in sorted(plans_of_agency[agc_code], key=lambda p: next(iter(plan_segment[p]))):
                seg = next(iter(plan_segment[plan]))
                lines.append(
                    f'  - {{code: "{agc_code}-{seg}", level: budget_plan, parent: "{agc_code}", '
                    f"name_th: {yaml_str(plan)}}}"
                )
    target = out / "national-classification.yaml"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(
        f"wrote {target.relative_to(REPO) if target.is_relative_to(REPO) else target}: "
        f"{len(ministries)} ministries, {len(agencies)} agencies, "
        f"{sum(len(v) for v in plans_of_agency.values())} plans"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="folder of the public data sets")
    parser.add_argument("--config", type=Path, default=REPO / "config")
    args = parser.parse_args(argv)
    masterdata = args.config / "masterdata"
    masterdata.mkdir(parents=True, exist_ok=True)
    (args.config / "codelists").mkdir(parents=True, exist_ok=True)
    derive_registry(args.source, masterdata)
    derive_geo(args.source, masterdata)
    derive_national(args.source, args.config / "codelists")


if __name__ == "__main__":
    main()
