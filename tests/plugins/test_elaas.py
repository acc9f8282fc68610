"""e-LAAS plugin: map-out to GUID-keyed documents, writes to the live simulator and their results."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from core.errors import ConfigError
from core.mapping import MappingError
from core.plugin_types import Capability, Delivered, Rejected, Retryable, WriteItem
from plugins.elaas.guids import default_guids
from plugins.elaas.settings import ElaasSettings

PROJECT = {
    "entity_type": "plan_project",
    "org_code": "5400103",
    "project_code": "5400103-2566-001",
    "title": "ก่อสร้างถนนคอนกรีตเสริมเหล็ก สายบ้านเป็ด-บ้านโนนท่อน หมู่ที่ 5",
    "budget_by_year": [{"fiscal_year": 2566, "amount": "1200000.00"}, {"fiscal_year": 2568, "amount": "1350000.00"}],
    "links": {"lao_strategy": "การพัฒนาโครงสร้างพื้นฐาน", "local_programme": "อุตสาหกรรมและการโยธา"},
}
BUDGET_LINE = {
    "entity_type": "budget_line",
    "org_code": "4500103",
    "fiscal_year": 2568,
    "phase": "approved",
    "description": "ค่าจัดซื้อรถบรรทุกขยะ",
    "amount": "2500000.00",
    "classification": [
        {"scheme": "local-classification", "level": "programme", "code": "00240"},
        {"scheme": "local-classification", "level": "activity", "code": "00244"},
        {"scheme": "local-expense-category", "level": "budget_group", "code": "investment"},
        {"scheme": "local-expense-category", "level": "expense_category", "code": "investment.equipment"},
    ],
}


def guid(scheme: str, code: str) -> str:
    return default_guids().guid_of(scheme, code)


def item(native: dict, key: str = "elaas:ent-1:1") -> WriteItem:
    return WriteItem(delivery_key=key, entity_id="ent-1", entity_type="plan_project", version=1, native=native)


@pytest.fixture
def settings(registry, elaas_sim):
    return registry.get("elaas").settings_from({"base_url": elaas_sim, "api_key": "test-key", "timeout_s": 5})


async def _get(http: aiohttp.ClientSession, url: str) -> dict:
    async with http.get(url) as response:
        return await response.json()


def test_describes_itself(registry):
    plugin = registry.get("elaas")
    assert Capability.WRITE in plugin.description.capabilities
    assert set(plugin.description.writes) == {"plan_project", "budget_line"}
    assert all(f.description for f in ElaasSettings.model_fields.values())
    settings = ElaasSettings(api_key="very-secret", base_url="http://x")
    assert "very-secret" not in repr(settings)
    assert "very-secret" not in str(settings.model_dump())
    assert "very-secret" not in settings.model_dump_json()
    with pytest.raises(ConfigError):
        plugin.settings_from({"base_url": "http://x", "api_key": "k", "apikey": "typo"})


def test_guids_are_uuid5_of_the_codes_and_cover_every_programme(reference):
    guids = default_guids()
    programmes = reference.code_lists["local-classification"].at_level("programme")
    for node in programmes:
        value = guids.guid_of("local-classification", node.code)
        assert value == str(uuid.uuid5(uuid.UUID("6f1c3a52-9a0e-5b7d-8c1e-2e4c0d5a7b90"), f"local-classification:{node.code}"))
    for node in reference.code_lists["local-expense-category"]:
        guids.guid_of("local-expense-category", node.code)


async def test_map_out_plan_project(registry, reference):
    native = await registry.get("elaas").map_out("plan_project", PROJECT, reference)
    plan = guid("local-classification", "00310")
    assert native["LaoCode"] == "5400103"
    assert native["ProjectCode"] == "5400103-2566-001"
    assert native["Lines"] == [
        {"BudgetYear": 2566, "Amount": "1200000.00", "PlanGUID": plan, "Description": PROJECT["title"]},
        {"BudgetYear": 2568, "Amount": "1350000.00", "PlanGUID": plan, "Description": PROJECT["title"]},
    ]


@pytest.mark.parametrize("name", ["การศึกษา", "แผนงานการศึกษา", " การศึกษา "])
async def test_programme_is_found_by_its_name_or_alias(registry, reference, name):
    entity = {**PROJECT, "links": {"local_programme": name}}
    native = await registry.get("elaas").map_out("plan_project", entity, reference)
    assert native["Lines"][0]["PlanGUID"] == guid("local-classification", "00210")


async def test_unknown_programme_is_a_mapping_error_not_a_default(registry, reference):
    entity = {**PROJECT, "links": {"local_programme": "แผนงานอวกาศ"}}
    with pytest.raises(MappingError) as caught:
        await registry.get("elaas").map_out("plan_project", entity, reference)
    [rej] = caught.value.as_rejections()
    assert (rej.field, rej.value, rej.rule) == ("links.local_programme", "แผนงานอวกาศ", "codelist.unknown_name")
    entity = {**PROJECT, "links": {}}
    with pytest.raises(MappingError) as caught:
        await registry.get("elaas").map_out("plan_project", entity, reference)
    assert caught.value.rules == ["elaas.programme_missing"]


async def test_map_out_budget_line_turns_codes_into_guids(registry, reference):
    native = await registry.get("elaas").map_out("budget_line", BUDGET_LINE, reference)
    [line] = native["Lines"]
    assert native["LaoCode"] == "4500103"
    assert line == {
        "BudgetYear": 2568,
        "Description": "ค่าจัดซื้อรถบรรทุกขยะ",
        "Amount": "2500000.00",
        "PlanGUID": guid("local-classification", "00240"),
        "JobGUID": guid("local-classification", "00244"),
        "BudgetGroupGUID": guid("local-expense-category", "investment"),
        "CategoryGUID": guid("local-expense-category", "investment.equipment"),
    }


async def test_budget_line_with_an_unmapped_code_is_refused(registry, reference):
    entity = {**BUDGET_LINE, "classification": [{"scheme": "local-classification", "level": "programme", "code": "00999"}]}
    with pytest.raises(MappingError) as caught:
        await registry.get("elaas").map_out("budget_line", entity, reference)
    assert caught.value.rules == ["elaas.guid_unmapped"]


async def test_write_delivers_and_repeat_has_no_second_effect(registry, reference, settings, elaas_sim, http):
    plugin = registry.get("elaas")
    native = await plugin.map_out("plan_project", PROJECT, reference)
    [first] = await plugin.write([item(native)], settings, http)
    assert isinstance(first, Delivered) and uuid.UUID(first.external_id)
    [again] = await plugin.write([item(native)], settings, http)
    assert again == first
    records = await _get(http, f"{elaas_sim}/_sim/records")
    assert len(records["documents"]) == 1 and len(records["lines"]) == 2
    assert records["documents"][0]["RecordID"] == first.external_id
    log = (await _get(http, f"{elaas_sim}/_sim/log"))["entries"]
    assert [(e["idempotency_key"], e["status"], e["replayed"]) for e in log] == [
        ("elaas:ent-1:1", 200, False),
        ("elaas:ent-1:1", 200, True),
    ]


async def test_503_is_retryable_with_retry_after(registry, reference, settings, elaas_sim, http):
    plugin = registry.get("elaas")
    native = await plugin.map_out("plan_project", PROJECT, reference)
    async with http.post(f"{elaas_sim}/_sim/faults", json={"status": 503, "times": 2, "retry_after": 7}) as r:
        assert r.status == 200
    for _ in range(2):
        [result] = await plugin.write([item(native)], settings, http)
        assert isinstance(result, Retryable) and result.retry_after == 7.0
    [result] = await plugin.write([item(native)], settings, http)
    assert isinstance(result, Delivered)
    assert len((await _get(http, f"{elaas_sim}/_sim/records"))["documents"]) == 1


async def test_429_is_retryable(registry, reference, settings, elaas_sim, http):
    plugin = registry.get("elaas")
    native = await plugin.map_out("plan_project", PROJECT, reference)
    await http.post(f"{elaas_sim}/_sim/faults", json={"status": 429, "times": 1, "retry_after": 0})
    [result] = await plugin.write([item(native)], settings, http)
    assert isinstance(result, Retryable) and result.retry_after == 0.0


async def test_400_is_rejected_with_the_message(registry, reference, settings, elaas_sim, http):
    plugin = registry.get("elaas")
    native = await plugin.map_out("plan_project", PROJECT, reference)
    await http.post(f"{elaas_sim}/_sim/faults", json={"status": 400, "times": 1, "message": "ปีงบประมาณปิดแล้ว"})
    [result] = await plugin.write([item(native)], settings, http)
    assert isinstance(result, Rejected) and "ปีงบประมาณปิดแล้ว" in result.reason


async def test_unknown_guid_is_rejected_by_the_simulator(registry, reference, settings, elaas_sim, http):
    plugin = registry.get("elaas")
    native = await plugin.map_out("plan_project", PROJECT, reference)
    native["Lines"][0]["PlanGUID"] = str(uuid.uuid4())
    [result] = await plugin.write([item(native)], settings, http)
    assert isinstance(result, Rejected) and "PlanGUID" in result.reason
    assert (await _get(http, f"{elaas_sim}/_sim/records"))["documents"] == []


async def test_401_is_a_configuration_error(registry, reference, elaas_sim, http):
    plugin = registry.get("elaas")
    native = await plugin.map_out("plan_project", PROJECT, reference)
    wrong = plugin.settings_from({"base_url": elaas_sim, "api_key": "wrong-key"})
    with pytest.raises(ConfigError) as caught:
        await plugin.write([item(native)], wrong, http)
    assert "wrong-key" not in str(caught.value)


async def test_missing_idempotency_key_is_refused_by_the_simulator(reference, elaas_sim, http, registry):
    native = await registry.get("elaas").map_out("plan_project", PROJECT, reference)
    async with http.post(f"{elaas_sim}/api/BudgetExpense", json=native, headers={"X-Api-Key": "test-key"}) as r:
        assert r.status == 400
        assert "Idempotency-Key" in (await r.json())["Message"]


async def test_timeout_and_refused_connection_are_retryable(registry, reference, elaas_sim, http):
    plugin = registry.get("elaas")
    native = await plugin.map_out("plan_project", PROJECT, reference)
    slow = plugin.settings_from({"base_url": elaas_sim, "api_key": "test-key", "timeout_s": 0.2})
    await http.post(f"{elaas_sim}/_sim/faults", json={"status": 200, "times": 1, "delay_s": 1})
    [result] = await plugin.write([item(native)], slow, http)
    assert isinstance(result, Retryable)
    closed = plugin.settings_from({"base_url": "http://127.0.0.1:9", "api_key": "test-key"})
    [result] = await plugin.write([item(native)], closed, http)
    assert isinstance(result, Retryable)


async def test_batch_write_gives_one_result_per_item(registry, reference, settings, elaas_sim, http):
    plugin = registry.get("elaas")
    good = await plugin.map_out("plan_project", PROJECT, reference)
    line = await plugin.map_out("budget_line", BUDGET_LINE, reference)
    bad = {**good, "Lines": [{**good["Lines"][0], "Amount": "12.5"}]}
    batch = [item(good, "k1"), item(line, "k2"), item(bad, "k3")]
    results = await plugin.write(batch, settings, http)
    assert [type(r) for r in results] == [Delivered, Delivered, Rejected]
    assert "Amount" in results[2].reason
    again = await plugin.write(batch[:2], settings, http)
    assert again == results[:2]
    assert len((await _get(http, f"{elaas_sim}/_sim/records"))["documents"]) == 2


async def test_dropdowns_list_master_data_as_xml(elaas_sim, http):
    async with http.get(f"{elaas_sim}/DropDownService.asmx/GetExpExpensePlan") as r:
        plans = await r.text()
    assert plans.count("<DropdownData>") == 12 and "แผนงานการศึกษา" in plans
    plan = guid("local-classification", "00110")
    async with http.get(f"{elaas_sim}/DropDownService.asmx/GetExpExpenseJob", params={"PlanID": plan}) as r:
        jobs = await r.text()
    assert "<Value>" + guid("local-classification", "00113") + "</Value>" in jobs
    assert jobs.count("<DropdownData>") == 3


async def test_healthcheck(registry, settings, http):
    health = await registry.get("elaas").healthcheck(settings, http)
    assert health.ok and health.extra["plans"] == 12


async def test_a_new_version_replaces_the_record_and_a_vanished_record_is_recreated(
    registry, reference, settings, elaas_sim, http
):
    import dataclasses

    plugin = registry.get("elaas")
    native = await plugin.map_out("plan_project", PROJECT, reference)
    [first] = await plugin.write([item(native, "elaas:ent-1:1")], settings, http)
    changed = {**native, "Lines": [{**native["Lines"][0], "Amount": "5.00"}]}
    update = dataclasses.replace(item(changed, "elaas:ent-1:2"), external_id=first.external_id)
    gone = dataclasses.replace(item(native, "elaas:ent-2:2"), external_id="00000000-0000-0000-0000-000000000000")
    [replaced, recreated] = await plugin.write([update, gone], settings, http)
    assert replaced == Delivered(first.external_id)
    assert isinstance(recreated, Delivered) and recreated.external_id != gone.external_id
    documents = (await _get(http, f"{elaas_sim}/_sim/records"))["documents"]
    assert len(documents) == 2
    [kept] = [d for d in documents if d["RecordID"] == first.external_id]
    assert kept["Revision"] == 2 and kept["Lines"][0]["Amount"] == "5.00"


async def test_a_budget_line_carries_the_ordinances_past_years_and_elaas_checks_them(
    registry, reference, settings, elaas_sim, http
):
    plugin = registry.get("elaas")
    past = [{"fiscal_year": 2566, "amount": "1980000.00"}, {"fiscal_year": 2567, "amount": "2104500.50"}]
    native = await plugin.map_out("budget_line", {**BUDGET_LINE, "past_years": past}, reference)
    assert native["Lines"][0]["PastYears"] == [
        {"BudgetYear": 2566, "ActualAmount": "1980000.00"},
        {"BudgetYear": 2567, "ActualAmount": "2104500.50"},
    ]
    [written] = await plugin.write([item(native, "elaas:line-past:1")], settings, http)
    assert isinstance(written, Delivered)
    stored = await _get(http, f"{elaas_sim}/_sim/records")
    [line] = [d for d in stored["documents"] if d.get("RecordID") == written.external_id][0]["Lines"]
    assert [p["BudgetYear"] for p in line["PastYears"]] == [2566, 2567]

    # A "past" year that is not before the line's own year is refused by e-LAAS, with its reason.
    wrong = await plugin.map_out("budget_line", {**BUDGET_LINE, "past_years": [{"fiscal_year": 2568, "amount": "1.00"}]}, reference)
    [refused] = await plugin.write([item(wrong, "elaas:line-past:2")], settings, http)
    assert isinstance(refused, Rejected) and "is not before 2568" in refused.reason
