"""SOLA plugin: the conformance kit, every quirk of its simulator read or written through the plugin,
rejections naming field, value and rule, and a differently shaped SOLA read by changing configuration only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

import plugins.sola
from core.contract import read_batches
from core.plugin_manager import load_plugins
from core.reference_data import load_reference_data
from plugins.sola import Sola
from plugins.sola.records import external_id
from plugins.sola.simulator import API_KEY, CSV_EXPORT, JSON_API, SEED_PROJECTS, Shape, create_app
from plugins.sola.transport import ExternalId
from prasan import (
    ConfigError,
    Delivered,
    MappingError,
    NativeRecord,
    PayloadError,
    PermanentError,
    Rejected,
    TransientError,
    WriteItem,
)
from prasan.canonical import content_hash
from prasan.testing import PluginConformance, Sample, served

HERE = Path(plugins.sola.__file__).parent
SAMPLES = HERE / "samples"
CSV_VARIANT = HERE / "variants" / "csv_export" / "transport.yaml"

PROJECT = {
    "entity_type": "plan_project",
    "org_code": "6810403",
    "title": "ก่อสร้างรางระบายน้ำ คสล. หมู่ที่ 4 บ้านห้วยน้ำขาว",
    "objective": "เพื่อแก้ไขปัญหาน้ำท่วมขังในฤดูฝน",
    "responsible_unit": "กองช่าง",
    "funding_source": "เงินอุดหนุนเฉพาะกิจ",
    "location": {"subdistrict_code": "810402"},
    "budget_by_year": [{"fiscal_year": 2568, "amount": "350000.00"}, {"fiscal_year": 2569, "amount": "120000.50"}],
    "links": {"local_programme": "แผนงานอุตสาหกรรมและการโยธา"},
}


class TestSolaConformance(PluginConformance):
    system = Sola
    plugin = plugins.sola
    samples = [
        Sample((SAMPLES / "local_projects.json").read_bytes(), "application/json", "utf-8"),
        Sample((SAMPLES / "local_projects_tis620.csv").read_bytes(), "text/csv", "tis-620"),
    ]
    entities = [("plan_project", PROJECT)]


# --- running the plugin against a simulator, as the hub does --------------------------------------
REGISTRY = load_plugins(load_entrypoints=False, extra_plugins=[("sola", plugins.sola)])


def configured(raw: dict[str, Any]) -> Sola:
    systems = REGISTRY.configure(load_reference_data(), {"sola": raw})
    assert "sola" not in systems.problems, systems.problems
    return systems.get("sola")


@asynccontextmanager
async def running(
    shape: Shape = JSON_API, seed: list[dict[str, Any]] | None = None, **settings: Any
) -> AsyncIterator[tuple[Sola, str]]:
    async with served(create_app(shape, seed=seed)) as url, aiohttp.ClientSession() as http:
        system = configured({"base_url": url, "api_key": API_KEY, "timeout_s": 5, **settings})
        await system.start(http)
        try:
            yield system, url
        finally:
            await system.close()


def declaration(
    tmp_path: Path, read: dict[str, Any] | None = None, paging: dict[str, Any] | None = None, **resource_keys: Any
) -> str:
    """The shipped transport.yaml with some of its read section changed, written to tmp_path (its mapping
    named by absolute path): a configuration change, no Python."""
    raw = yaml.safe_load((HERE / "transport.yaml").read_text(encoding="utf-8"))
    resource = raw["resources"]["plan_project"]
    resource["mapping"] = str(HERE / resource["mapping"])
    resource["read"].update(read or {})
    resource["read"]["paging"].update(paging or {})
    resource.update(resource_keys)
    path = tmp_path / "transport.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return str(path)


async def entities_of(system: Sola, batches: list[Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for batch in batches:
        for record in batch.records:
            [mapped] = system.map_in(record)
            found[mapped.external_id] = mapped.body()
    return found


def item(native: dict[str, Any], key: str, external: str | None = None) -> WriteItem:
    return WriteItem(key, "ent-1", "plan_project", 1, native, external_id=external)


async def sim_json(url: str, path: str, method: str = "GET", body: Any = None) -> Any:
    async with aiohttp.ClientSession() as http, http.request(method, f"{url}{path}", json=body) as response:
        return await response.json()


# --- reading the JSON API -------------------------------------------------------------------------
async def test_cursor_paging_reads_every_project_once_and_resumes_from_a_saved_cursor(tmp_path):
    async with running(transport_file=declaration(tmp_path, paging={"page_size": 2})) as (system, _):
        stream = system.stream_for("plan_project")
        batches = await read_batches(system, stream, None)
        assert [len(b.records) for b in batches] == [2, 2, 1]
        assert [b.more for b in batches] == [True, True, False]
        everything = await entities_of(system, batches)
        rest = await entities_of(system, await read_batches(system, stream, batches[0].next_cursor))
    assert len(everything) == 5
    assert set(rest) == set(everything) - set(list(everything)[:2])


async def test_thai_digits_baht_and_dash_read_like_plain_values():
    async with running() as (system, _):
        [batch] = await read_batches(system, system.stream_for("plan_project"), None)
        typed = batch.records[2].data  # every third record is served as typed on a Thai keyboard
        assert typed["lao_code"] == "๕๘๑๐๔๐๑" and typed["budget_2568"] == "๖๑๒,๕๐๐.๐๐ บาท"
        [mapped] = system.map_in(batch.records[2])
        [road] = system.map_in(batch.records[0])
    body = mapped.body()
    assert mapped.external_id == "SOLA-5810401-68-0012"
    assert body["org_code"] == "5810401" and body["location"] == {"subdistrict_code": "810401"}
    assert body["budget_by_year"] == [{"fiscal_year": 2568, "amount": "612500.00"}]
    assert body["target"] == "นักเรียน ๔๒๐ คน"  # free text keeps the digits its author typed
    assert road.body()["budget_by_year"] == [{"fiscal_year": 2568, "amount": "1350000.00"}]  # "-" plans nothing
    assert road.body()["funding_source"] == "ข้อบัญญัติงบประมาณรายจ่าย"  # code 01 of sola.funding-source


async def test_a_project_without_a_sola_number_is_named_by_organisation_and_title():
    async with running() as (system, _):
        [batch] = await read_batches(system, system.stream_for("plan_project"), None)
    ids = [system.map_in(record)[0].external_id for record in batch.records]
    assert ids[3].startswith("h:")
    retyped = {**SEED_PROJECTS[3], "lao_code": "๒๘๑๐๑๐๑", "project_name": "  " + SEED_PROJECTS[3]["project_name"]}
    assert system.map_in(NativeRecord(1, retyped))[0].external_id == ids[3]


async def test_429_with_retry_after_stops_the_pull_and_the_saved_cursor_resumes_it(tmp_path):
    shape = Shape(rate_limit_every=3, retry_after=7)
    async with running(shape, transport_file=declaration(tmp_path, paging={"page_size": 2})) as (system, _):
        stream, stored = system.stream_for("plan_project"), []
        with pytest.raises(TransientError) as caught:
            async for batch in system.read(stream, None):
                stored.append(batch)  # what the scheduler stores, with its cursor, before asking for more
        assert caught.value.retry_after == 7
        assert [len(b.records) for b in stored] == [2, 2]
        rest = await read_batches(system, stream, stored[-1].next_cursor)
    assert [len(b.records) for b in rest] == [1] and rest[-1].more is False


async def test_an_answer_slower_than_timeout_s_is_transient():
    async with running(timeout_s=0.3) as (system, url):
        await sim_json(url, "/_sim/faults", "POST", {"status": 200, "delay_s": 3})
        with pytest.raises(TransientError):
            await read_batches(system, system.stream_for("plan_project"), None)


async def test_a_bad_row_in_a_page_is_rejected_alone_with_field_value_and_rule():
    bad = {**SEED_PROJECTS[1], "project_id": "SOLA-6810403-68-0099", "budget_2568": "4,80,000",
           "budget_2025": "10,000", "lao_code": "6810499", "funding_source_code": "09"}
    async with running(seed=[SEED_PROJECTS[0], bad]) as (system, _):
        [batch] = await read_batches(system, system.stream_for("plan_project"), None)
    assert system.map_in(batch.records[0])
    with pytest.raises(MappingError) as caught:
        system.map_in(batch.records[1])
    found = {(p.source_field, p.value, p.rule) for p in caught.value.problems}
    assert found == {
        ("lao_code", "6810499", "org.unknown"),
        ("budget_2568", "4,80,000", "money.separator"),
        ("budget_2025", "budget_2025", "fiscal_year.ce_where_be_expected"),
        ("funding_source_code", "09", "codelist.unknown_code"),
    }


def test_rows_that_cannot_be_mapped_name_field_value_and_rule():
    system = configured({"base_url": "http://127.0.0.1:9"})
    cases = [
        ({**SEED_PROJECTS[0], "project_name": " - "}, ("project_name", " - ", "mapping.missing_field")),
        ({**SEED_PROJECTS[0], "tambon_code": "81040"}, ("tambon_code", "81040", "code.dopa-subdistrict.format")),
        ({**SEED_PROJECTS[0], "budget_2568": "12.345"}, ("budget_2568", "12.345", "money.too_many_decimals")),
    ]
    for data, (field, value, rule) in cases:
        with pytest.raises(MappingError) as caught:
            system.map_in(NativeRecord(1, data))
        assert [(p.source_field, p.value, p.rule) for p in caught.value.problems] == [(field, value, rule)]


def test_a_record_without_any_declared_id_is_rejected_naming_the_fields(tmp_path):
    assert external_id({"project_id": "-"}, [ExternalId(fields=["project_id"])]) is None
    only_numbers = declaration(tmp_path, external_id=[{"fields": ["project_id"]}])
    strict = configured({"base_url": "http://127.0.0.1:9", "transport_file": only_numbers})
    with pytest.raises(MappingError) as caught:
        strict.map_in(NativeRecord(1, SEED_PROJECTS[3]))  # typed in before SOLA numbered it
    assert [(p.source_field, p.rule) for p in caught.value.problems] == [("project_id", "sola.external_id_missing")]


def test_an_item_that_is_not_an_object_is_rejected_alone():
    system = configured({"base_url": "http://127.0.0.1:9"})
    [record] = system.parse(json.dumps([1]).encode(), "application/json", None)
    with pytest.raises(MappingError) as caught:
        system.map_in(record)
    assert [(p.value, p.rule) for p in caught.value.problems] == [(1, "sola.record_shape")]


# --- pushed payloads: one project from two formats ------------------------------------------------
def test_the_same_projects_pushed_as_json_and_as_tis620_csv_are_the_same_entities():
    system = configured({"base_url": "http://127.0.0.1:9"})
    as_json = system.parse((SAMPLES / "local_projects.json").read_bytes(), "application/json", "utf-8")
    as_csv = system.parse((SAMPLES / "local_projects_tis620.csv").read_bytes(), "text/csv", "tis-620")
    from_json = [system.map_in(r)[0] for r in as_json]
    from_csv = [system.map_in(r)[0] for r in as_csv]
    assert [m.external_id for m in from_json] == [m.external_id for m in from_csv]
    # Equal content hashes: the hub makes no second version and no second delivery of the duplicate.
    assert [content_hash(m.body()) for m in from_json] == [content_hash(m.body()) for m in from_csv]
    with pytest.raises(PayloadError) as caught:  # TIS-620 bytes without their charset are not guessed
        system.parse((SAMPLES / "local_projects_tis620.csv").read_bytes(), "text/csv", None)
    assert caught.value.rule == "payload.encoding"


# --- writing --------------------------------------------------------------------------------------
async def test_write_creates_then_updates_in_place_and_the_project_reads_back_under_the_same_id():
    async with running() as (system, url):
        native = system.map_out("plan_project", PROJECT)
        [created] = await system.write([item(native, "sola:ent-1:1")])
        assert isinstance(created, Delivered) and created.external_id.startswith("SOLA-6810403-")
        [again] = await system.write([item(native, "sola:ent-1:1")])  # a retry under the same key
        assert again == created
        changed = {**native, "budget_2569": "130000.00"}
        [updated] = await system.write([item(changed, "sola:ent-1:2", created.external_id)])
        assert updated == created
        batches = await read_batches(system, system.stream_for("plan_project"), None)
        log = (await sim_json(url, "/_sim/log"))["entries"]
    read_back = await entities_of(system, batches)
    assert read_back[created.external_id]["budget_by_year"][-1] == {"fiscal_year": 2569, "amount": "130000.00"}
    assert [(e["method"], e["status"], e["replayed"]) for e in log] == [
        ("POST", 201, False), ("POST", 201, True), ("PUT", 200, False)
    ]


async def test_a_record_sola_refuses_is_rejected_with_solas_own_words():
    async with running() as (system, _):
        native = {k: v for k, v in system.map_out("plan_project", PROJECT).items() if k != "project_name"}
        [result] = await system.write([item(native, "sola:ent-2:1")])
    assert isinstance(result, Rejected) and "422" in result.reason and "ต้องระบุ project_name" in result.reason


async def test_a_wrong_key_holds_the_destination_and_fails_the_health_check():
    async with running(api_key="not-the-key") as (system, _):
        with pytest.raises(ConfigError):
            await system.write([item(system.map_out("plan_project", PROJECT), "sola:ent-3:1")])
        assert not (await system.healthcheck()).ok
    async with running() as (system, _):
        assert (await system.healthcheck()).ok


# --- a differently shaped SOLA, followed by configuration alone -----------------------------------
async def test_the_csv_export_variant_is_read_by_changing_only_the_configuration():
    async with running() as (system, _):
        from_api = await entities_of(system, await read_batches(system, system.stream_for("plan_project"), None))
    async with running(CSV_EXPORT, transport_file=str(CSV_VARIANT)) as (system, _):
        batches = await read_batches(system, system.stream_for("plan_project"), None)
        assert batches[0].records[0].data["รหัส อปท."] == "5400103"  # Thai headers, TIS-620 bytes, no charset said
        from_csv = await entities_of(system, batches)
    assert [len(b.records) for b in batches] == [2, 2, 1]  # offset paging, two rows a page
    assert [b.next_cursor for b in batches] == ["2", "4", "5"]
    assert from_csv == from_api  # the same projects, the same ids, the same content


async def test_a_moved_record_list_is_an_error_until_the_declaration_says_where_it_went(tmp_path):
    moved = Shape(records_path="result.rows")
    async with running(moved) as (system, _):
        with pytest.raises(PermanentError, match="result.rows|data.items"):
            await read_batches(system, system.stream_for("plan_project"), None)
    async with running(moved, transport_file=declaration(tmp_path, read={"records": "result.rows"})) as (system, _):
        found = await entities_of(system, await read_batches(system, system.stream_for("plan_project"), None))
    assert len(found) == 5


def test_a_wrongly_declared_transport_is_a_config_error_naming_the_key(tmp_path):
    broken = tmp_path / "transport.yaml"
    broken.write_text("resources:\n  plan_project:\n    mapping: m.yaml\n    read: {path: /x, pagin: {}}\n")
    system = configured({"base_url": "http://127.0.0.1:9", "transport_file": str(broken)})
    with pytest.raises(ConfigError, match="pagin"):
        system.transport
