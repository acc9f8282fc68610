"""Load and check the hub's reference data: code lists, crosswalks, organisations and DOPA areas.

Everything under ``config/codelists``, ``config/crosswalks`` and ``config/masterdata`` is read once per
config directory, checked as a whole (a bad file stops the hub at start, with every problem listed),
and shared. The returned dicts are shared by every caller through the cache: treat them as read-only.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
from dataclasses import dataclass, field
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml

from canonical_model.codelists import CodeList, CodeListError, Crosswalk, name_key
from canonical_model.codes import validate_code
from canonical_model.entities import Organization
from canonical_model.entities.organization import LocalOrgType
from canonical_model.rejection import Rejection
from canonical_model.thai_text import normalize_code
from core.errors import ConfigError
from core.paths import SHIPPED_CONFIG_DIR

# The sub-folders that make a folder one of reference data (as opposed to an operator's hub.yaml/routes.yaml).
_REFERENCE_PARTS = ("codelists", "crosswalks", "masterdata")

ORG_TYPES = frozenset(get_args(LocalOrgType))

T = TypeVar("T")

try:  # libyaml is several times faster on the code lists; the pure-Python loader gives the same result
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _YamlLoader = yaml.SafeLoader


class ReferenceDataError(ConfigError):
    """The reference data under config/ is inconsistent; `problems` lists each finding."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n  ".join(problems[:30]) + (
            f"\n  ... {len(problems) - 30} more" if len(problems) > 30 else ""
        )
        super().__init__(f"reference data is invalid:\n  {shown}")


@dataclass
class ReferenceData:
    code_lists: dict[str, CodeList]
    crosswalks: dict[str, Crosswalk]
    organizations: dict[str, dict[str, Any]]
    provinces: dict[str, dict[str, Any]]
    districts: dict[str, dict[str, Any]]
    subdistricts: dict[str, dict[str, Any]]
    # Organisations whose district name is not in the DOPA list: org code -> name as the registry wrote it.
    unmatched_districts: dict[str, str] = field(default_factory=dict)
    config_dir: Path | None = None

    def require_org(self, code: Any, field: str | None = None) -> dict[str, Any]:
        """The organisation with this DLA code; a malformed code fails on its shape rule before lookup."""
        # A code written as the registry writes it is its own canonical form (tests/unit/test_reference_data.py):
        # found at once, without normalising it again (twice a record on ingest).
        org = self.organizations.get(code) if type(code) is str else None
        if org is not None:
            return org
        try:
            clean = validate_code("dla-lao", code)
        except Rejection as rej:
            raise rej.at(field) if field else rej from None
        org = self.organizations.get(clean)
        if org is None:
            raise Rejection(
                "org.unknown",
                f"{clean!r} is a well-formed DLA code but no organisation in the registry has it",
                code,
                field,
            )
        return org

    def organization_entity(self, code: Any) -> Organization:
        """The organisation as a canonical `organization` entity (the master data the hub serves)."""
        return Organization.model_validate(self.require_org(code))

    def require_area(self, code: Any, field: str | None = None) -> dict[str, Any]:
        """A DOPA province (2 digits), district (4) or sub-district (6)."""
        clean = normalize_code(code) if isinstance(code, str) else code
        table = {2: self.provinces, 4: self.districts, 6: self.subdistricts}.get(
            len(clean) if isinstance(clean, str) else -1
        )
        if table is None or not clean.isascii() or not clean.isdigit():
            raise Rejection(
                "area.malformed",
                "a DOPA area code is 2 (province), 4 (district) or 6 (sub-district) digits",
                code,
                field,
            )
        area = table.get(clean)
        if area is None:
            raise Rejection(
                "area.unknown", f"{clean!r} is not a DOPA {_AREA_LEVEL[len(clean)]} code", code, field
            )
        return area


_AREA_LEVEL = {2: "province", 4: "district", 6: "subdistrict"}


def load_reference_data(config_dir: Path | str | None = None) -> ReferenceData:
    """Load (once per resolved directory) and validate the reference data under ``config_dir``.

    None, or a folder with none of ``codelists/``, ``crosswalks/`` and ``masterdata/`` (the operator's
    folder of hub.yaml and routes.yaml), means the reference data shipped with the hub (core/paths.py).
    """
    folder = Path(config_dir) if config_dir else SHIPPED_CONFIG_DIR
    if not any((folder / part).is_dir() for part in _REFERENCE_PARTS):
        folder = SHIPPED_CONFIG_DIR
    return _load(folder.resolve())


@functools.lru_cache(maxsize=8)
def _load(config_dir: Path) -> ReferenceData:
    problems: list[str] = []
    code_lists = _load_code_lists(config_dir / "codelists", problems)
    crosswalks = _load_crosswalks(config_dir / "crosswalks", code_lists, problems)
    masterdata = config_dir / "masterdata"
    provinces = _load_provinces(masterdata / "provinces.csv", problems)
    districts = _load_districts(masterdata / "districts.csv", provinces, problems)
    subdistricts = _load_subdistricts(masterdata / "subdistricts.csv", districts, problems)
    organizations, unmatched = _load_organizations(
        masterdata / "lao_registry.csv", provinces, districts, problems
    )
    if problems:
        raise ReferenceDataError(problems)
    return ReferenceData(
        code_lists=code_lists,
        crosswalks=crosswalks,
        organizations=organizations,
        provinces=provinces,
        districts=districts,
        subdistricts=subdistricts,
        unmatched_districts=unmatched,
        config_dir=config_dir,
    )


def _read_yaml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name}: cannot read: {exc}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name}: expected a mapping at the top")
        return None
    return data


def _each_parsed(
    folder: Path, parse: Callable[[dict[str, Any]], T], problems: list[str]
) -> Iterator[tuple[Path, T]]:
    """Each YAML file of `folder` that reads and parses, in name order; one that does not says why in `problems`."""
    for path in sorted(folder.glob("*.yaml")):
        data = _read_yaml(path, problems)
        if data is None:
            continue
        try:
            parsed = parse(data)
        except CodeListError as exc:
            problems.extend(f"{path.name}: {p}" for p in exc.problems)
            continue
        yield path, parsed


def _load_code_lists(folder: Path, problems: list[str]) -> dict[str, CodeList]:
    lists: dict[str, CodeList] = {}
    for path, code_list in _each_parsed(folder, CodeList.from_dict, problems):
        if code_list.scheme in lists:
            problems.append(f"{path.name}: scheme {code_list.scheme!r} is defined twice")
        # The file name is the scheme, so that a reader finds a list without opening every file.
        if path.stem != code_list.scheme:
            problems.append(
                f"{path.name}: holds scheme {code_list.scheme!r}; name the file {code_list.scheme}.yaml"
            )
        lists[code_list.scheme] = code_list
    if not lists:
        problems.append(f"{folder}: no code lists found")
    return lists


def _load_crosswalks(
    folder: Path, code_lists: dict[str, CodeList], problems: list[str]
) -> dict[str, Crosswalk]:
    crosswalks: dict[str, Crosswalk] = {}
    for path, crosswalk in _each_parsed(folder, Crosswalk.from_dict, problems):
        if crosswalk.name in crosswalks:
            problems.append(f"{path.name}: crosswalk {crosswalk.name!r} is defined twice")
        source = code_lists.get(crosswalk.source_scheme)
        target = code_lists.get(crosswalk.target_scheme)
        if source is None or target is None:
            missing = [
                s
                for s, cl in ((crosswalk.source_scheme, source), (crosswalk.target_scheme, target))
                if cl is None
            ]
            problems.append(f"{path.name}: no code list for scheme(s) {missing}")
        else:
            try:
                crosswalk.validate_against(source, target)
            except CodeListError as exc:
                problems.extend(f"{path.name}: {p}" for p in exc.problems)
        crosswalks[crosswalk.name] = crosswalk
    return crosswalks


def _read_csv(path: Path, problems: list[str]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problems.append(f"{path.name}: cannot read: {exc}")
        return []


def _or_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _unique(rows: list[dict[str, str]], key: str, source: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for row in rows:
        if row[key] in seen:
            problems.append(f"{source}: duplicate {key} {row[key]!r}")
        seen.add(row[key])


def _load_provinces(path: Path, problems: list[str]) -> dict[str, dict[str, Any]]:
    rows = _read_csv(path, problems)
    _unique(rows, "code", path.name, problems)
    return {
        r["code"]: {
            "code": r["code"],
            "level": "province",
            "name_th": r["name_th"],
            "name_en": r["name_en"],
            "region_th": r["region_th"],
        }
        for r in rows
    }


def _load_districts(path: Path, provinces: dict[str, Any], problems: list[str]) -> dict[str, dict[str, Any]]:
    rows = _read_csv(path, problems)
    _unique(rows, "code", path.name, problems)
    for r in rows:
        if r["province_code"] not in provinces:
            problems.append(f"{path.name}: district {r['code']} has unknown province {r['province_code']!r}")
    return {
        r["code"]: {
            "code": r["code"],
            "level": "district",
            "name_th": r["name_th"],
            "name_en": r["name_en"],
            "province_code": r["province_code"],
        }
        for r in rows
    }


def _load_subdistricts(
    path: Path, districts: dict[str, Any], problems: list[str]
) -> dict[str, dict[str, Any]]:
    rows = _read_csv(path, problems)
    _unique(rows, "code", path.name, problems)
    for r in rows:
        if r["district_code"] not in districts:
            problems.append(
                f"{path.name}: sub-district {r['code']} has unknown district {r['district_code']!r}"
            )
    return {
        r["code"]: {
            "code": r["code"],
            "level": "subdistrict",
            "name_th": r["name_th"],
            "name_en": r["name_en"],
            "district_code": r["district_code"],
            "zip_code": _or_none(r["zip_code"]),
            "lat": _or_none(r["lat"]),
            "lon": _or_none(r["lon"]),
        }
        for r in rows
    }


def district_name_key(name: str) -> str:
    """Names as the DLA registry and DOPA write them differ by prefix ('อำเภอเมืองกระบี่' vs 'เมืองกระบี่')."""
    key = name_key(name).replace(" ", "")
    for prefix in ("กิ่งอำเภอ", "อำเภอ", "อ."):
        if key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix) :]
    return key


def _load_organizations(
    path: Path, provinces: dict[str, Any], districts: dict[str, Any], problems: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    # The district comes from the name, not from digits 2-5 of the DLA code: in 31 registry rows (all of
    # Bueng Kan, which DLA still numbers as it was before the province split, and อบจ.ลำปาง) they differ.
    district_by_name = {
        (d["province_code"], district_name_key(d["name_th"])): code for code, d in districts.items()
    }
    organizations: dict[str, dict[str, Any]] = {}
    unmatched: dict[str, str] = {}
    for i, r in enumerate(_read_csv(path, problems), start=2):
        where = f"{path.name}:{i}"
        code = r["dla_code"]
        try:
            if validate_code("dla-lao", code) != code:
                problems.append(f"{where}: code {code!r} is not in canonical form")
        except Rejection as rej:
            problems.append(f"{where}: {rej}")
        if code in organizations:
            problems.append(f"{where}: duplicate org code {code}")
        if r["org_type"] not in ORG_TYPES:
            problems.append(f"{where}: unknown org_type {r['org_type']!r}")
        province = r["province_code"]
        if province not in provinces:
            problems.append(f"{where}: org {code} has unknown province {province!r}")
        district = district_by_name.get((province, district_name_key(r["district_name_th"])))
        if district is None:
            unmatched[code] = r["district_name_th"]
        organizations[code] = {
            "org_code": code,
            "scheme": "dla-lao",
            "name_th": name_key(r["name_th"]),
            "org_type": r["org_type"],
            "province_code": province,
            "district_code": district,
            "lat": _or_none(r["lat"]),
            "lon": _or_none(r["lon"]),
            "area_km2": _or_none(r["area_km2"]),
        }
    return organizations, unmatched


def load_code_list_file(path: Path) -> CodeList:
    """One code list file, checked alone (a plugin's contribution); ReferenceDataError lists its problems."""
    problems: list[str] = []
    data = _read_yaml(path, problems)
    if data is None:
        raise ReferenceDataError(problems)
    try:
        return CodeList.from_dict(data)
    except CodeListError as exc:
        raise ReferenceDataError([f"{path.name}: {p}" for p in exc.problems]) from None


def with_code_lists(reference: ReferenceData, extra: dict[str, CodeList]) -> ReferenceData:
    """A copy of `reference` that also knows `extra` (the shared, cached original is left alone)."""
    if not extra:
        return reference
    clash = sorted(set(extra) & set(reference.code_lists))
    if clash:
        raise ReferenceDataError([f"code list {name!r} is defined twice" for name in clash])
    return dataclasses.replace(reference, code_lists={**reference.code_lists, **extra})
