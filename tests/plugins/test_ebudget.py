"""e-budgeting plugin: the conformance kit, every quirk of its simulator through the plugin, the FY 2559
sample in full, later years' new plans, and rejections that name field, value and rule."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import plugins.ebudget
from core.contract import read_batches
from core.errors import ConfigError, TransientError
from core.plugin_manager import load_plugins
from core.reference_data import load_reference_data
from plugins.ebudget import Ebudget
from plugins.ebudget.simulator import create_app
from prasan import Delivered, MappingError, NativeRecord, PayloadError, Rejected, Rejection, WriteItem
from prasan.canonical import BudgetLine
from prasan.testing import PluginConformance, Sample, served
from tests.shipped_data import bb_sample_rows

SAMPLES = Path(plugins.ebudget.__file__).parent / "samples"
NDJSON = "application/x-ndjson"
REQUEST = {
    "entity_type": "budget_request",
    "org_code": "5810401",
    "fiscal_year": 2568,
    "amount": "2457500.50",
    "grant_kind": "specific",
    "budget_type": "งบลงทุน",
    "status": "submitted",
    "project_id": "0b6c2f4e-road",
}


class TestEbudgetConformance(PluginConformance):
    system = Ebudget
    plugin = plugins.ebudget
    samples = [
        Sample((SAMPLES / "bbgfproject_2559.json").read_bytes(), "application/json", "utf-8"),
        Sample((SAMPLES / "bbgfproject_2568.jsonl").read_bytes(), NDJSON),
        Sample((SAMPLES / "bbgfproject_tis620.json").read_bytes(), "application/json", "tis-620"),
    ]
    entities = [("budget_request", REQUEST)]
    # What the request channel takes is not the bbgfproject shape the system is read in.
    native_round_trip = False


REGISTRY = load_plugins(load_entrypoints=False, extra_plugins=[("ebudget", plugins.ebudget)])


def _system(**settings: Any) -> Ebudget:
    raw = {**Ebudget.simulator_settings("http://127.0.0.1:9"), **settings}
    systems = REGISTRY.configure(load_reference_data(), {"ebudget": raw})
    assert not systems.problems, systems.problems
    return systems.get("ebudget")


@asynccontextmanager
async def _running(*, result_as_text: bool = False, **settings: Any) -> AsyncIterator[tuple[Ebudget, str]]:
    async with served(create_app(result_as_text=result_as_text)) as url, aiohttp.ClientSession() as http:
        system = _system(base_url=url, **settings)
        await system.start(http)
        yield system, url
        await system.close()


def _mapped(system: Ebudget, records: list[NativeRecord]) -> list[Any]:
    return [system.map_in(record)[0] for record in records]


def _rejections(system: Ebudget, data: dict[str, Any]) -> list[Rejection]:
    with pytest.raises(MappingError) as caught:
        system.map_in(NativeRecord(row=1, data=data))
    return caught.value.as_rejections()


def _sample_rows(name: str) -> list[dict[str, Any]]:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


# --- the FY 2559 sample in full, and later years --------------------------------------------------------


def _post_all(system: Ebudget, rows: list[dict[str, Any]]) -> tuple[int, Counter[str]]:
    """Every row through parse and map-in as the inbound path runs them, in JSON arrays of 500."""
    accepted, rejected = 0, Counter[str]()
    for start in range(0, len(rows), 500):
        payload = json.dumps(rows[start : start + 500], ensure_ascii=False).encode()
        for record in system.parse(payload, "application/json", "utf-8"):
            try:
                [mapped] = system.map_in(record)
            except MappingError as exc:
                reasons = exc.as_rejections()
                assert reasons and all(r.field and r.rule and r.reason for r in reasons), reasons
                rejected[reasons[0].rule] += 1
                continue
            BudgetLine.model_validate(mapped.body())
            assert mapped.external_id
            accepted += 1
    return accepted, rejected


def test_every_row_of_fy2559_is_accepted_or_rejected_with_a_reason() -> None:
    rows = bb_sample_rows()
    accepted, rejected = _post_all(_system(), rows)
    assert accepted + sum(rejected.values()) == len(rows) == 7480
    assert accepted >= 0.95 * len(rows), rejected


def test_a_later_year_with_plans_the_classification_has_not_seen_reaches_the_same_rate() -> None:
    # FY 2561+ brings integrated plans (แผนงานบูรณาการ...) that the FY 2559 code list cannot know.
    rows = [
        {**row, "bb_year": "2568", "plan_name": f"แผนงานบูรณาการ{row['plan_name']}"}
        for row in bb_sample_rows()[::5]
    ]
    accepted, rejected = _post_all(_system(), rows)
    assert accepted >= 0.95 * len(rows), rejected


def test_a_new_plan_is_carried_with_its_derived_code_and_its_name() -> None:
    row = _sample_rows("bbgfproject_2559.json")[0] | {
        "bb_year": "2568", "bb_code": "1500861002600102", "plan_name": "แผนงานบูรณาการพัฒนาพื้นที่ระดับภาค "}
    [line] = _mapped(_system(), [NativeRecord(1, row)])
    plan = next(c for c in line.body()["classification"] if c["level"] == "budget_plan")
    assert plan == {"scheme": "national-classification", "level": "budget_plan", "code": "15008-61",
                    "name": "แผนงานบูรณาการพัฒนาพื้นที่ระดับภาค"}  # fmt: skip


# --- pushed payloads --------------------------------------------------------------------------------------


def test_api_quirks_in_names_and_categories_are_normalised() -> None:
    system = _system()
    records = system.parse((SAMPLES / "bbgfproject_2559.json").read_bytes(), "application/json", None)
    school, milk, personnel, operating, other = (m.body() for m in _mapped(system, records))
    assert school["description"].startswith("ก่อสร้างอาคารเรียน 4 ชั้น") and "\t" not in school["description"]
    assert milk["description"] == "เงินอุดหนุนสำหรับสนับสนุนอาหารเสริม (นม)"  # quotes and tabs gone
    categories = {c["level"]: c for c in milk["classification"]}
    category = categories["category_lv1"]
    assert (category["code"], category["name"]) == ("subsidy", "งบเงินอุดหนุน")
    assert {c["level"]: c for c in other["classification"]}["category_lv1"]["name"] == "งบรายจ่ายอื่น"
    plan = {c["level"]: c for c in personnel["classification"]}["budget_plan"]
    assert (plan["code"], plan["name"]) == ("15004-25", "พัฒนาเศรษฐกิจระดับฐานราก")  # trailing space gone
    assert school["org_code"] == "15008" and school["phase"] == "approved" and school["fiscal_year"] == 2559


def test_one_bb_code_with_two_expense_categories_makes_two_lines() -> None:
    system = _system()
    records = system.parse((SAMPLES / "bbgfproject_2559.json").read_bytes(), "application/json", None)
    ids = [m.external_id for m in _mapped(system, records)]
    assert ids[2:4] == ["2559:1500425014000000:personnel", "2559:1500425014000000:operating"]
    assert len(set(ids)) == len(ids)


def test_the_same_row_pushed_as_json_and_as_json_lines_is_the_same_entity() -> None:
    system = _system()
    as_json = (SAMPLES / "bbgfproject_2559.json").read_bytes()
    as_lines = (SAMPLES / "bbgfproject_2568.jsonl").read_bytes()
    from_json = _mapped(system, system.parse(as_json, "application/json", None))
    from_lines = _mapped(system, system.parse(as_lines, "application/jsonl", None))
    assert from_lines[-1].external_id == from_json[0].external_id
    assert from_lines[-1].body() == from_json[0].body()


def test_amounts_with_satang_are_read_as_decimal_never_float() -> None:
    system = _system()
    records = system.parse((SAMPLES / "bbgfproject_2568.jsonl").read_bytes(), NDJSON, None)
    amount = records[0].data["amount"]
    assert amount == Decimal("2457500.50") and isinstance(amount, Decimal)
    assert _mapped(system, records[:1])[0].payload.amount == Decimal("2457500.50")


def test_tis620_with_thai_digits_maps_like_utf8_and_needs_its_charset() -> None:
    system = _system()
    payload = (SAMPLES / "bbgfproject_tis620.json").read_bytes()
    typed = _mapped(system, system.parse(payload, "application/json", "tis-620"))
    assert typed[0].body()["fiscal_year"] == 2568 and typed[0].body()["amount"] == "2457500.50"
    lines = _mapped(system, system.parse((SAMPLES / "bbgfproject_2568.jsonl").read_bytes(), NDJSON, None))
    assert typed[0].external_id == lines[0].external_id and typed[0].body() == lines[0].body()
    with pytest.raises(PayloadError) as caught:
        system.parse(payload, "application/json", None)
    assert caught.value.rule == "payload.encoding"


def test_a_broken_json_line_rejects_that_row_only() -> None:
    system = _system()
    good = (SAMPLES / "bbgfproject_2568.jsonl").read_text(encoding="utf-8").splitlines()
    nan = '{"bb_code": "1500852002600101", "amount": NaN}'
    payload = "\n".join([good[0], nan, "[1, 2]", good[1]]).encode()
    first, broken, not_object, last = system.parse(payload, NDJSON, None)
    assert not first.problems and not last.problems
    assert [p.rule for p in broken.problems] == ["json.non_finite"]
    [rej] = _rejections_of(system, broken)
    assert rej.rule == "json.non_finite" and "NaN" in rej.value
    assert [p.rule for p in not_object.problems] == ["ebudget.not_an_object"]
    with pytest.raises(PayloadError) as caught:  # in a JSON array, bad syntax leaves nothing to read
        system.parse(b'[{"amount": 1,}]', "application/json", None)
    assert caught.value.rule == "json.syntax"


def _rejections_of(system: Ebudget, record: NativeRecord) -> list[Rejection]:
    with pytest.raises(MappingError) as caught:
        system.map_in(record)
    return caught.value.as_rejections()


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("amount", -2457500, "money.negative"),
        ("amount", "12,34,5", "money.separator"),
        ("bb_year", "2025", "fiscal_year.ce_where_be_expected"),
        ("bb_code", "15008830026", "code.bb-budget."),
        ("bb_code", "15008XX002600K01", "ebudget.plan_number"),
        ("agc_code", "15004", "ebudget.agency_mismatch"),
        ("agc_code", "1500", "ebudget.agency_code"),
        ("objc_level1_name", "งบกลาง", "codelist.unknown_name"),
        ("name", '"\t  "', "text.empty"),
        ("min_code", "", "mapping.missing_field"),
    ],
)
def test_a_bad_row_is_rejected_naming_field_value_and_rule(field: str, value: Any, rule: str) -> None:
    row = _sample_rows("bbgfproject_2559.json")[0] | {field: value}
    rejections = _rejections(_system(), row)
    found = [r for r in rejections if r.field == field]
    assert found and found[0].rule.startswith(rule) and found[0].value == value, rejections
    assert found[0].reason


def test_every_problem_of_a_row_is_reported() -> None:
    broken = {"amount": None, "bb_year": "๒๐๒๕", "objc_level1_name": "งบ"}
    row = _sample_rows("bbgfproject_2559.json")[0] | broken
    fields = {r.field for r in _rejections(_system(), row)}
    assert {"amount", "bb_year", "objc_level1_name"} <= fields


# --- polling the simulator ----------------------------------------------------------------------------------


async def test_read_pages_by_offset_year_after_year_and_resumes_from_the_cursor() -> None:
    async with _running() as (system, _):
        stream = system.stream_for("budget_line")
        batches = await read_batches(system, stream, None)
        # 2559: 5 rows (one short page); 2568: 3 + 42 rows, in pages of 20.
        assert [(len(b.records), b.next_cursor, b.more) for b in batches] == [
            (5, "2559:5", True),
            (20, "2568:20", True),
            (20, "2568:40", True),
            (5, "2568:45", False),
        ]
        lines = _mapped(system, [r for b in batches for r in b.records])
        assert len({m.external_id for m in lines}) == 50
        assert {m.payload.amount for m in lines} >= {Decimal("2457500.50"), Decimal("1500000.75")}
        resumed = await read_batches(system, stream, "2568:40")
        assert [r.data for r in resumed[0].records] == [r.data for r in batches[3].records]
        at_end = await read_batches(system, stream, "2568:45")
        assert [(len(b.records), b.next_cursor) for b in at_end] == [(0, "2568:45")]


async def test_a_full_last_page_is_known_only_by_the_empty_one_after_it() -> None:
    async with _running(fiscal_years=[2568], max_pages=2) as (system, _):
        first = await read_batches(system, system.stream_for("budget_line"), None)
        # The pull stops at max_pages, saying there is more.
        assert [(b.next_cursor, b.more) for b in first] == [("2568:20", True), ("2568:40", True)]
        rest = await read_batches(system, system.stream_for("budget_line"), first[-1].next_cursor)
        assert [(len(b.records), b.more) for b in rest] == [(5, False)]


async def test_filters_reach_the_api() -> None:
    async with _running(fiscal_years=[2568], prov_code="81") as (system, _):
        batches = await read_batches(system, system.stream_for("budget_line"), None)
        rows = [r.data for b in batches for r in b.records]
        assert rows and all(any(c["bb_province"] == "กระบี่" for c in row["compare"]) for row in rows)
    async with _running(min_code="20000") as (system, _):
        batches = await read_batches(system, system.stream_for("budget_line"), None)
        assert [b.records for b in batches] == [[], []]


async def test_result_given_as_json_text_reads_the_same() -> None:
    async with _running() as (plain, _):
        expected = await _rows_read(plain)
    async with _running(result_as_text=True) as (system, _):
        assert await _rows_read(system) == expected


async def _rows_read(system: Ebudget) -> list[dict[str, Any]]:
    batches = await read_batches(system, system.stream_for("budget_line"), None)
    return [record.data for batch in batches for record in batch.records]


async def _fault(url: str, **fault: Any) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"{url}/_sim/faults", json=fault) as response:
        assert response.status == 200


async def test_rate_limit_with_retry_after_is_transient_and_the_next_pull_resumes() -> None:
    async with _running() as (system, url):
        stream = system.stream_for("budget_line")
        await _fault(url, status=429, retry_after=7)
        with pytest.raises(TransientError) as caught:
            await read_batches(system, stream, None)
        assert caught.value.retry_after == 7
        assert len(await read_batches(system, stream, None)) == 4


async def test_a_read_slower_than_timeout_s_is_transient() -> None:
    async with _running(timeout_s=0.2) as (system, url):
        await _fault(url, status=200, delay_s=3)
        with pytest.raises(TransientError):
            await read_batches(system, system.stream_for("budget_line"), None)


async def test_a_wrong_user_token_is_a_configuration_error_and_health_says_so() -> None:
    async with _running(api_key="not-the-token") as (system, _):
        with pytest.raises(ConfigError):
            await read_batches(system, system.stream_for("budget_line"), None)
        assert not (await system.healthcheck()).ok
    async with _running() as (system, _):
        assert (await system.healthcheck()).ok


async def test_an_unreadable_cursor_is_a_permanent_error() -> None:
    from core.errors import PermanentError

    async with _running() as (system, _):
        with pytest.raises(PermanentError, match="cursor"):
            await read_batches(system, system.stream_for("budget_line"), "offset=40")


# --- budget requests to the request channel ---------------------------------------------------------------


def _item(native: dict[str, Any], key: str = "ebudget:req-1:1", external_id: str | None = None) -> WriteItem:
    return WriteItem(key, "req-1", "budget_request", 1, native, external_id)


async def _log(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/_sim/log") as response:
        return (await response.json())["entries"]


async def test_a_request_is_filed_once_per_key_and_answered_with_its_number() -> None:
    async with _running() as (system, url):
        native = system.map_out("budget_request", REQUEST)
        [first] = await system.write([_item(native)])
        [again] = await system.write([_item(native)])
        assert isinstance(first, Delivered) and re.fullmatch(r"A6-2568-\d{6}", first.external_id or "")
        assert again == first
        entries = await _log(url)
        assert [(e["idempotency_key"], e["status"], e["replayed"]) for e in entries] == [
            ("ebudget:req-1:1", 201, False), ("ebudget:req-1:1", 200, True)]  # fmt: skip
        # A new version amends the filed request under its number instead of filing another.
        changed = system.map_out("budget_request", REQUEST | {"amount": "2600000.00"})
        [amended] = await system.write([_item(changed, "ebudget:req-1:2", first.external_id)])
        assert amended == first
        where = f"{url}/bbl/api/v1/requests/{first.external_id}"
        async with aiohttp.ClientSession() as http, http.get(where) as response:
            stored = await response.json()
        assert (stored["request_amount"], stored["revision"]) == ("2600000.00", 2)
        assert stored["grant_type"] == "เงินอุดหนุนเฉพาะกิจ"


async def test_a_request_the_channel_refuses_is_rejected_with_its_words() -> None:
    async with _running() as (system, _):
        native = system.map_out("budget_request", REQUEST) | {"budget_year": 2025}
        [result] = await system.write([_item(native)])
        assert isinstance(result, Rejected) and "budget_year 2025" in result.reason
        native = system.map_out("budget_request", REQUEST)
        [gone] = await system.write([_item(native, "k-2", "A1-2568-999999")])
        assert isinstance(gone, Rejected) and "A1-2568-999999" in gone.reason


async def test_a_wrong_request_key_holds_the_destination() -> None:
    async with _running(requests_api_key="wrong") as (system, _):
        with pytest.raises(ConfigError):
            await system.write([_item(system.map_out("budget_request", REQUEST))])


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"grant_kind": "own_revenue"}, "grant_kind", "codelist.unknown_code"),
        ({"grant_kind": None}, "grant_kind", "mapping.missing_field"),
        ({"org_code": "15008"}, "org_code", "code.dla-lao."),
        ({"org_code": "5810499"}, "org_code", "org.unknown"),
    ],
)
def test_a_request_the_channel_cannot_take_is_refused_at_map_out(
    change: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(MappingError) as caught:
        _system().map_out("budget_request", REQUEST | change)
    [problem] = caught.value.problems
    assert (problem.target, problem.value) == (field, change[field]), problem
    assert problem.rule.startswith(rule), problem


def test_only_budget_requests_are_written() -> None:
    with pytest.raises(MappingError) as caught:
        _system().map_out("budget_line", {"org_code": "15008"})
    assert caught.value.rules == ["ebudget.entity_type"]


def test_the_request_mapping_reads_back_what_it_writes() -> None:
    system = _system()
    native = system.map_out("budget_request", REQUEST)
    sent = {k: v for k, v in REQUEST.items() if k != "entity_type"}
    assert system.request_mapping.map_in(native) == sent | {"amount": Decimal("2457500.50")}


def test_settings_refuse_a_common_era_fiscal_year() -> None:
    from core.plugin_manager import validate_settings

    _, problems = validate_settings(Ebudget, {"fiscal_years": [2025]})
    assert problems and "fiscal_years" in str(problems[0])
