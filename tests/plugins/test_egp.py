"""e-GP plugin: the conformance kit, each quirk of its simulator read through the plugin, and rejections."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import plugins.egp
from core.contract import AgencySystem, read_batches
from core.plugin_manager import load_plugins
from core.reference_data import load_reference_data
from plugins.egp import Egp, feed
from plugins.egp.simulator import API_KEY, SEED_PROJECTS, create_app
from prasan import ConfigError, MappingError, NativeRecord, PayloadError, PermanentError, TransientError
from prasan.testing import PluginConformance, Sample, served

SAMPLES = Path(plugins.egp.__file__).parent / "samples"
CSV_UTF8 = (SAMPLES / "egp_contracts_utf8.csv").read_bytes()
CSV_TIS620 = (SAMPLES / "egp_contracts_tis620.csv").read_bytes()
JSON_ANSWER = (SAMPLES / "cgdcontract.json").read_bytes()


class TestEgpConformance(PluginConformance):
    system = Egp
    plugin = plugins.egp
    samples = [
        Sample(CSV_UTF8, "text/csv", "utf-8"),
        Sample(CSV_TIS620, "text/csv", "tis-620"),
        Sample(JSON_ANSWER, "application/json"),
    ]


@pytest.fixture(scope="module")
def registry() -> Any:
    return load_plugins(load_entrypoints=False, extra_plugins=[("egp", plugins.egp)])


def make_system(registry: Any, **settings: Any) -> AgencySystem:
    raw = {**Egp.simulator_settings("http://127.0.0.1:9"), **settings}
    systems = registry.configure(load_reference_data(), {"egp": raw})
    assert not systems.problems, systems.problems
    return systems.get("egp")


@pytest.fixture
def egp(registry: Any) -> AgencySystem:
    return make_system(registry)


@pytest.fixture
async def sim() -> AsyncIterator[str]:
    async with served(create_app()) as url:
        yield url


async def started(registry: Any, http: aiohttp.ClientSession, url: str, **settings: Any) -> AgencySystem:
    system = make_system(registry, **{**Egp.simulator_settings(url), **settings})
    await system.start(http)
    return system


def mapped(system: AgencySystem, records: list[NativeRecord]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (m.entity_type, m.external_id): m.payload.model_dump(mode="json", exclude={"sources"})
        for record in records
        for m in system.map_in(record)
    }


def csv_row(**overrides: str) -> NativeRecord:
    [first] = [r for r in plugins.egp.parse.parse(CSV_UTF8, "text/csv", "utf-8")][:1]
    return NativeRecord(1, {**first.data, **overrides})


def rejection_of(system: AgencySystem, record: NativeRecord) -> list[tuple[str, Any, str]]:
    with pytest.raises(MappingError) as caught:
        system.map_in(record)
    return [(r.field, r.value, r.rule) for r in caught.value.as_rejections()]


# --- pushed formats ----------------------------------------------------------------------------------
def test_csv_in_utf8_and_tis620_gives_the_same_entities(egp):
    utf8 = mapped(egp, egp.parse(CSV_UTF8, "text/csv", "utf-8"))
    tis620 = mapped(egp, egp.parse(CSV_TIS620, "text/csv", "tis-620"))
    assert utf8 == tis620
    road = utf8[("procurement", "68069160377")]
    assert road["announced_on"] == "2025-06-19"  # "19 มิ.ย. 68": abbreviated month, 2-digit BE year
    assert road["budget_amount"] == "2450000.00"  # "2,450,000.00"
    assert road["procurement_type"] == "hire" and road["fiscal_year"] == 2568
    assert road["winner"] == {"name": "ห้างหุ้นส่วนจำกัด คลองท่อมวิศวกรรม", "tax_id": "0813556001236"}
    contract = utf8[("contract", "68069160377/กจด.ป.115/2568")]
    assert contract["contract_number"] == "กจด.ป.๑๑๕/๒๕๖๘"  # kept as written, Thai digits
    assert contract["contract_number_normalized"] == "กจด.ป.115/2568"
    assert contract["signed_on"] == "2025-08-01" and contract["ends_on"] == "2025-11-29"


def test_tis620_csv_without_its_charset_is_refused(egp):
    with pytest.raises(PayloadError) as caught:
        egp.parse(CSV_TIS620, "text/csv", None)
    assert caught.value.rule == "payload.encoding"


def test_one_contract_from_csv_and_from_json_is_one_entity(egp):
    from_csv = mapped(egp, egp.parse(CSV_UTF8, "text/csv", "utf-8"))
    from_json = mapped(egp, egp.parse(JSON_ANSWER, "application/json", None))
    assert set(from_csv) == set(from_json)  # same entity types and external ids: the hub sees one entity each
    key = ("contract", "68069160377/กจด.ป.115/2568")
    assert from_json[key]["contract_number"] == "กจด.ป.115/2568"
    assert from_json[key]["contract_number_normalized"] == from_csv[key]["contract_number_normalized"]
    for field in ("amount", "signed_on", "ends_on", "supplier_tax_id", "status", "org_code"):
        assert from_json[key][field] == from_csv[key][field]
    for field in ("budget_amount", "reference_price", "agreed_price", "announced_on", "title", "winner"):
        assert from_json[("procurement", "68069160377")][field] == from_csv[("procurement", "68069160377")][field]


def test_a_project_with_two_contracts_names_no_single_winner(egp):
    entities = mapped(egp, egp.parse(JSON_ANSWER, "application/json", None))
    assert "winner" not in {k for k, v in entities[("procurement", "67089336878")].items() if v is not None}
    assert ("contract", "67089336878/ทม.มห.12/2568") in entities and ("contract", "67089336878/ทม.มห.13/2568") in entities


def test_csv_without_project_number_column_is_a_payload_error(egp):
    with pytest.raises(PayloadError) as caught:
        egp.parse("ชื่อโครงการ,งบประมาณ(บาท)\nซื้อวัสดุ,100\n".encode(), "text/csv", None)
    assert caught.value.rule == "egp.header_missing"


# --- rejections name field, value and rule -----------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"รหัสหน่วยงาน": "5810499"}, ("รหัสหน่วยงาน", "5810499", "org.unknown")),
        ({"รหัสหน่วยงาน": "-"}, ("รหัสหน่วยงาน", "-", "egp.org_code_missing")),
        ({"รหัสหน่วยงาน": "001227600"}, ("รหัสหน่วยงาน", "001227600", "egp.org_not_dla")),
        ({"ชื่อหน่วยงานย่อย": "เทศบาลตำบลอ่าวนาง"}, ("ชื่อหน่วยงานย่อย", "เทศบาลตำบลอ่าวนาง", "egp.org_name_mismatch")),
        ({"งบประมาณ(บาท)": "2,45,0000"}, ("งบประมาณ(บาท)", "2,45,0000", "money.separator")),
        ({"รหัสโครงการ": "๖๘๑๓๙๑๖๐๓๗๗"}, ("รหัสโครงการ", "๖๘๑๓๙๑๖๐๓๗๗", "code.egp-project.month")),
        ({"เลขนิติบุคคล": "081355600xxxx"}, ("เลขนิติบุคคล", "081355600xxxx", "code.th-tin.masked")),
        ({"ชื่อประเภทโครงการ": "แลกเปลี่ยน"}, ("ชื่อประเภทโครงการ", "แลกเปลี่ยน", "codelist.unknown_name")),
        ({"วันที่สิ้นสุดสัญญา": "1 ก.ค. 68"}, ("วันที่สิ้นสุดสัญญา", "2025-07-01", "contract.ends_before_signed")),
    ],
)
def test_bad_csv_row_is_rejected_naming_field_value_rule(egp, overrides, expected):
    assert expected in rejection_of(egp, csv_row(**overrides))


def test_every_problem_of_a_row_is_reported(egp):
    found = rejection_of(egp, csv_row(**{"รหัสหน่วยงาน": "", "เลขนิติบุคคล": "0813556001237", "งบสัญญา(บาท)": "1e6"}))
    assert set(found) == {
        ("รหัสหน่วยงาน", "", "egp.org_code_missing"),
        ("เลขนิติบุคคล", "0813556001237", "code.th-tin.check_digit"),  # the winner's and the contract's
        ("งบสัญญา(บาท)", "1e6", "money.exponent"),
    }


def test_bad_json_contract_names_its_item(egp):
    project = copy.deepcopy(json.loads(JSON_ANSWER)["result"][2])
    project["contract"][1]["winner_tin"] = "3509900123451"
    found = rejection_of(egp, NativeRecord(1, project))
    assert ("contract[1].winner_tin", "3509900123451", "code.th-tin.check_digit") in found


def test_json_with_a_central_agency_code_is_rejected(egp):
    project = {**json.loads(JSON_ANSWER)["result"][0], "dept_code": "001442300"}
    assert ("dept_code", "001442300", "egp.org_not_dla") in rejection_of(egp, NativeRecord(1, project))


# --- the announcement feed ---------------------------------------------------------------------------
async def test_feed_in_windows_874_declared_only_in_the_prolog(registry, sim, http):
    async with http.get(f"{sim}/EPROCRssFeedWeb/egpannouncerss.xml", params={"deptsubId": "5810401"}) as response:
        raw = await response.read()
        assert "charset" not in response.headers["Content-Type"]
    assert raw.startswith(b'<?xml version="1.0" encoding="windows-874"?>')
    with pytest.raises(LookupError):  # why the plugin decodes it itself
        ET.fromstring(raw)
    system = await started(registry, http, sim, dept_sub_ids=["5810401"], announce_types=["D0", "15"])
    records = [r for batch in await read_batches(system, system.stream_for("procurement"), None) for r in batch.records]
    entities = [m.payload for r in records for m in system.map_in(r)]
    assert [(e.status, e.announced_on.isoformat()) for e in entities] == [
        ("ประกาศเชิญชวน", "2025-06-19"),
        ("ประกาศราคากลาง", "2025-06-11"),
    ]
    assert entities[0].title.startswith("ประกวดราคาจ้างก่อสร้างถนนคอนกรีตเสริมเหล็ก")
    assert {e.egp_project_number for e in entities} == {"68069160377"} and entities[0].procurement_type == "hire"


async def test_feed_cursor_reads_only_what_is_new(registry, sim, http):
    system = await started(registry, http, sim, dept_sub_ids=["5810401"], announce_types=["D0"])
    stream = system.stream_for("procurement")
    first = await read_batches(system, stream, None)
    assert sum(len(b.records) for b in first) == 1
    cursor = first[-1].next_cursor
    again = await read_batches(system, stream, cursor)
    assert sum(len(b.records) for b in again) == 0 and again[-1].next_cursor == cursor
    new = {"deptsubId": "5810401", "anounceType": "D0", "projectId": "68089000012",
           "title": "ประกวดราคาซื้อรถบรรทุกน้ำ ขนาด 6,000 ลิตร", "published": "2025-08-04T09:00:00+07:00"}
    async with http.post(f"{sim}/_sim/egp/announcements", json=new):
        pass
    later = await read_batches(system, stream, cursor)
    [record] = [r for b in later for r in b.records]
    [entity] = system.map_in(record)
    assert entity.external_id == "68089000012" and entity.payload.procurement_type == "purchase"


def test_feed_with_a_dtd_is_refused():
    hostile = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss><channel><item><title>&a;</title></item></channel></rss>'
    with pytest.raises(PermanentError):
        feed.items(hostile)


def test_announcement_of_an_unconfirmed_type_or_without_a_verb_is_rejected(egp):
    item = {"title": "ประกาศผลผู้ชนะการเสนอราคา", "link": "https://x/?projectId=68069160377",
            "pubDate": "Thu, 19 Jun 2025 10:15:00 +0700", "deptsubId": "5810401", "anounceType": "W0"}
    found = rejection_of(egp, NativeRecord(1, item))
    assert ("title", "ประกาศผลผู้ชนะการเสนอราคา", "egp.type_unknown") in found
    assert any(field == "anounceType" and value == "W0" and rule.startswith("codelist.") for field, value, rule in found)


# --- the contract API --------------------------------------------------------------------------------
async def test_contract_pages_resume_after_429_with_retry_after(registry, http):
    async with served(create_app(rate_limit_every=2, retry_after_s=3)) as url:
        for number in ("68069160378", "68069160379"):
            extra = {**copy.deepcopy(SEED_PROJECTS[0]), "project_id": number, "contract": []}
            async with http.post(f"{url}/_sim/egp/projects", data=json.dumps(extra, default=str)):
                pass
        system = await started(registry, http, url, dept_sub_ids=["5810401"], page_size=1)
        stream, cursor, seen, waits = system.stream_for("contract"), None, [], []
        for _ in range(6):
            try:
                async for batch in system.read(stream, cursor):
                    seen += [m.external_id for r in batch.records for m in system.map_in(r) if m.entity_type == "procurement"]
                    cursor = batch.next_cursor
                break
            except TransientError as exc:  # a page was refused: the next pull resumes from the stored cursor
                waits.append(exc.retry_after)
        assert seen == ["68069160377", "68069160378", "68069160379"]  # each project once, in order
        assert waits and all(wait == 3 for wait in waits)
        assert json.loads(cursor) == {"2568/5810401": 3}


async def test_a_slow_contract_api_is_a_transient_error(registry, sim, http):
    async with http.post(f"{sim}/_sim/faults", json={"status": 200, "delay_s": 5}):
        pass
    system = await started(registry, http, sim, timeout_s=0.2)
    with pytest.raises(TransientError):
        await read_batches(system, system.stream_for("contract"), None)


async def test_a_wrong_api_key_holds_the_reader(registry, sim, http):
    system = await started(registry, http, sim, api_key="not-" + API_KEY)
    with pytest.raises(ConfigError):
        await read_batches(system, system.stream_for("contract"), None)
    assert (await system.healthcheck()).ok is False


def test_feed_sample_reads_in_windows_874():
    items = feed.items((SAMPLES / "announcements_5810401.xml").read_bytes())
    assert [item["projectId"] for item in items] == ["68069160377", "68069160377"]
    assert items[0]["title"].startswith("ประกวดราคาจ้างก่อสร้าง")
