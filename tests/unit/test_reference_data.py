"""Reference data as shipped in config/: organisations, DOPA areas, code lists and crosswalks together."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

import pytest

from canonical_model.codes import validate_code
from canonical_model.rejection import Rejection
from core.reference_data import ReferenceData, ReferenceDataError, load_reference_data

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"


@pytest.fixture(scope="module")
def ref() -> ReferenceData:
    return load_reference_data(CONFIG)


def copy_config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    for part in ("codelists", "crosswalks", "masterdata"):
        shutil.copytree(CONFIG / part, target / part)
    return target


# --- organisations -------------------------------------------------------------------------------------


def test_the_registry_has_every_organisation_outside_bangkok(ref: ReferenceData) -> None:
    assert len(ref.organizations) == 7849


def test_counts_per_type_match_the_dla_registry_table_of_reference_1_7(ref: ReferenceData) -> None:
    counts = Counter(org["org_type"] for org in ref.organizations.values())
    assert counts == {
        "subdistrict_admin_org": 5300,  # อบต.
        "subdistrict_municipality": 2247,  # เทศบาลตำบล
        "town_municipality": 195,  # เทศบาลเมือง
        "provincial_admin_org": 76,  # อบจ.
        "city_municipality": 30,  # เทศบาลนคร
        "special_admin_area": 1,  # พัทยา
    }


def test_provincial_admin_org_of_krabi(ref: ReferenceData) -> None:
    org = ref.require_org("2810101")
    assert org == {
        "org_code": "2810101",
        "scheme": "dla-lao",
        "name_th": "กระบี่",
        "org_type": "provincial_admin_org",
        "province_code": "81",
        "district_code": "8101",  # อำเภอเมืองกระบี่
        "lat": "8.047238349",
        "lon": "98.90891647",
        "area_km2": "0.07",
    }


def test_reference_examples_of_each_type_digit(ref: ReferenceData) -> None:
    # reference §1.7: 4810102 เทศบาลเมือง, 5810401 เทศบาลตำบล in amphoe คลองท่อม (8104), 6810403 อบต.
    assert ref.require_org("4810102")["org_type"] == "town_municipality"
    assert ref.require_org("5810401")["org_type"] == "subdistrict_municipality"
    assert ref.require_org("5810401")["district_code"] == "8104"
    assert ref.require_org("6810403")["org_type"] == "subdistrict_admin_org"


def test_ubon_city_municipality_is_3340102_not_the_inferred_3340101(ref: ReferenceData) -> None:
    # The reference cites 3340101 from an e-GP catalog and marks it [I]; the DLA registry says otherwise.
    assert ref.require_org("3340102")["name_th"] == "อุบลราชธานี"
    with pytest.raises(Rejection) as info:
        ref.require_org("3340101")
    assert info.value.rule == "org.unknown"
    assert info.value.value == "3340101"


def test_org_codes_in_thai_digits_are_found(ref: ReferenceData) -> None:
    assert ref.require_org("๒๘๑๐๑๐๑")["org_code"] == "2810101"


@pytest.mark.parametrize("code", ["28101", "281010a", "9810101", "", "28 10 10 1 0"])
def test_a_malformed_org_code_fails_on_its_shape_not_as_unknown(ref: ReferenceData, code: str) -> None:
    with pytest.raises(Rejection) as info:
        ref.require_org(code, field="org_code")
    assert info.value.rule.startswith("code.dla-lao."), info.value.rule
    assert info.value.field == "org_code"


def test_every_registry_code_is_its_own_canonical_form(ref: ReferenceData) -> None:
    """What lets `require_org` find a code written as the registry writes it without normalising it."""
    assert ref.organizations
    assert [code for code in ref.organizations if validate_code("dla-lao", code) != code] == []


def test_bueng_kan_districts_come_from_the_name_not_the_dla_digits(ref: ReferenceData) -> None:
    # DLA numbers Bueng Kan's amphoe as before the province split: 5380201 says "02", DOPA พรเจริญ is 3804.
    org = ref.require_org("5380201")
    assert org["district_code"] == "3804"
    assert ref.districts["3804"]["name_th"] == "พรเจริญ"


def test_matched_districts_lie_in_the_organisations_province(ref: ReferenceData) -> None:
    matched = [o for o in ref.organizations.values() if o["district_code"] is not None]
    assert len(matched) == 7849 - len(ref.unmatched_districts)
    assert all(ref.districts[o["district_code"]]["province_code"] == o["province_code"] for o in matched)


def test_only_the_district_missing_from_the_dopa_list_is_unmatched(ref: ReferenceData) -> None:
    # กัลยาณิวัฒนา (Chiang Mai) is not in the geo data; everything else must match by name.
    assert set(ref.unmatched_districts.values()) == {"กัลยาณิวัฒนา"}
    assert sorted(ref.unmatched_districts) == ["6502501", "6502502", "6502503"]
    assert ref.organizations["6502501"]["district_code"] is None


def test_registry_copy_matches_the_shared_source_row_for_row() -> None:
    source = REPO.parent / "shared" / "data" / "lao_registry.csv"
    if not source.exists():
        pytest.skip("shared data not present")
    with (
        source.open(encoding="utf-8") as a,
        (CONFIG / "masterdata" / "lao_registry.csv").open(encoding="utf-8") as b,
    ):
        assert list(csv.reader(a)) == list(csv.reader(b))


# --- areas -----------------------------------------------------------------------------------------------


def test_bangkok_and_its_first_district_and_subdistrict_exist(ref: ReferenceData) -> None:
    assert ref.require_area("10")["name_th"] == "กรุงเทพมหานคร"
    assert ref.require_area("1001")["name_th"] == "เขตพระนคร"
    sub = ref.require_area("100101")
    assert (sub["name_th"], sub["district_code"], sub["zip_code"]) == ("พระบรมมหาราชวัง", "1001", "10200")


def test_area_counts_and_krabi(ref: ReferenceData) -> None:
    assert (len(ref.provinces), len(ref.districts), len(ref.subdistricts)) == (77, 929, 7451)
    assert ref.provinces["81"]["name_en"] == "Krabi"
    assert ref.provinces["38"]["name_th"] == "บึงกาฬ"  # the newest province, split from Nong Khai


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("99", "area.unknown"),
        ("8199", "area.unknown"),
        ("810199", "area.unknown"),
        ("123", "area.malformed"),
        ("81a", "area.malformed"),
        ("", "area.malformed"),
    ],
)
def test_area_rejections(ref: ReferenceData, code: str, rule: str) -> None:
    with pytest.raises(Rejection) as info:
        ref.require_area(code)
    assert info.value.rule == rule


def test_area_codes_in_thai_digits(ref: ReferenceData) -> None:
    assert ref.require_area("๘๑")["code"] == "81"


# --- code lists and crosswalks as loaded -------------------------------------------------------------------


def test_all_code_lists_and_the_crosswalk_load(ref: ReferenceData) -> None:
    assert set(ref.code_lists) == {
        "local-classification",
        "local-expense-category",
        "national-classification",
        "national-expense-category",
    }
    cw = ref.crosswalks["local-to-national-expense-category"]
    assert ref.code_lists[cw.target_scheme].require(cw.translate("subsidy")).name_th == "งบเงินอุดหนุน"


# --- loading: validation, cache, speed ----------------------------------------------------------------------


def test_loading_is_cached_per_resolved_directory(tmp_path: Path) -> None:
    assert load_reference_data(CONFIG) is load_reference_data(str(CONFIG / ".." / "config"))
    assert load_reference_data(copy_config(tmp_path)) is not load_reference_data(CONFIG)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_crosswalk_naming_a_missing_code_stops_the_load(tmp_path: Path) -> None:
    config = copy_config(tmp_path)
    edit(
        config / "crosswalks" / "local-to-national-expense-category.yaml",
        "target_code: other",
        "target_code: other-expenses",
    )
    with pytest.raises(ReferenceDataError, match="'other-expenses' is not in national-expense-category"):
        load_reference_data(config)


def test_a_duplicate_org_code_and_an_unknown_province_stop_the_load(tmp_path: Path) -> None:
    config = copy_config(tmp_path)
    registry = config / "masterdata" / "lao_registry.csv"
    with registry.open("a", encoding="utf-8") as f:
        f.write("2810101,กระบี่,provincial_admin_org,81,เมืองกระบี่,,,\n")
        f.write("6990101,ไม่มีจริง,subdistrict_admin_org,99,ไม่มีจริง,,,\n")
    with pytest.raises(ReferenceDataError) as info:
        load_reference_data(config)
    text = "\n".join(info.value.problems)
    assert "duplicate org code 2810101" in text
    assert "org 6990101 has unknown province '99'" in text


def test_a_broken_code_list_stops_the_load(tmp_path: Path) -> None:
    config = copy_config(tmp_path)
    edit(config / "codelists" / "local-classification.yaml", 'parent: "00210"', 'parent: "00211"')
    with pytest.raises(ReferenceDataError, match="parent '00211' does not exist"):
        load_reference_data(config)


def test_every_registry_organisation_is_a_valid_organization_entity() -> None:
    from core.reference_data import load_reference_data

    reference = load_reference_data()
    entities = [reference.organization_entity(code) for code in reference.organizations]
    assert len(entities) == 7849
    krabi = reference.organization_entity("2810101")
    assert krabi.entity_type == "organization" and krabi.org_type == "provincial_admin_org"
    assert krabi.province_code == "81" and krabi.district_code is not None
    assert sum(1 for e in entities if e.lat is not None) > 0
