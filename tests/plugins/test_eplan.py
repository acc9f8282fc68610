"""e-Plan plugin: parse of every sample format, map-in and its rejections, polling the simulator."""

from __future__ import annotations

import aiohttp
import pytest

from core.mapping import MappingError
from core.payloads import PayloadError
from core.plugin_types import Capability, NativeRecord
from plugins.eplan.settings import EplanSettings
from tests.plugins.conftest import SAMPLES

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = [
    ("p02_utf8_bom.csv", "text/csv", None),
    ("p02_tis620.csv", "text/csv", "tis-620"),
    ("p02.xlsx", XLSX, None),
    ("p02.json", "application/json", None),
]


def _row(**overrides: str) -> NativeRecord:
    data = {
        "รหัส อปท.": "๕๔๐๐๑๐๓",
        "ยุทธศาสตร์": "การพัฒนาโครงสร้างพื้นฐาน",
        "แผนงาน": "อุตสาหกรรมและการโยธา",
        "ชื่อโครงการ": "ก่อสร้างถนน คสล. หมู่ที่ 3",
        "วัตถุประสงค์": "เพื่อการสัญจร",
        "เป้าหมาย (ผลผลิตของโครงการ)": "ถนนยาว 200 เมตร",
        "งบประมาณ 2566": "๑,๒๐๐,๐๐๐",
        "งบประมาณ 2567": "-",
        "งบประมาณ 2568": "1,200,000.00",
        "ตัวชี้วัด (KPI)": "ผู้ใช้พึงพอใจ",
        "ผลที่คาดว่าจะได้รับ": "สัญจรสะดวก",
        "หน่วยงานรับผิดชอบหลัก": "กองช่าง",
    }
    data.update(overrides)
    return NativeRecord(row=1, data=data)


def test_describes_itself(registry):
    plugin = registry.get("eplan")
    assert plugin.description.capabilities == {Capability.PUSH, Capability.READ, Capability.INCREMENTAL}
    assert "plan_project" in plugin.description.reads
    fields = EplanSettings.model_fields
    assert all(f.description for f in fields.values())
    settings = EplanSettings(api_key="very-secret")
    assert "very-secret" not in repr(settings)
    assert "very-secret" not in str(settings.model_dump())
    assert "very-secret" not in settings.model_dump_json()
    with pytest.raises(Exception):
        EplanSettings(unknown_field=1)


@pytest.mark.parametrize(("name", "media_type", "charset"), FORMATS)
async def test_parse_and_map_each_sample(registry, reference, name, media_type, charset):
    plugin = registry.get("eplan")
    records = await plugin.parse((SAMPLES / name).read_bytes(), media_type, charset)
    assert len(records) == 5  # the "รวม" total row of the CSVs is not a project
    first = records[0].data
    assert first["รหัส อปท."] == "5400103"
    assert "งบประมาณ 2566" in first  # Thai-digit headers folded to Arabic
    mapped = [(await plugin.map_in(record, reference))[0] for record in records]
    road = mapped[0]
    assert road.entity_type == "plan_project"
    assert road.body()["org_code"] == "5400103"
    assert road.body()["budget_by_year"] == [
        {"fiscal_year": 2566, "amount": "1200000.00"},
        {"fiscal_year": 2568, "amount": "1200000.00"},
    ]
    assert road.body()["links"] == {"lao_strategy": "การพัฒนาโครงสร้างพื้นฐาน", "local_programme": "อุตสาหกรรมและการโยธา"}
    assert mapped[2].body()["target"] == "สุนัขและแมว ๓,๐๐๐ ตัว"  # free text keeps its Thai digits
    if name.endswith(".json"):
        assert "kpi" not in road.body()  # the issue-based format has no KPI column
    else:
        assert road.body()["kpi"] == "ร้อยละ 80 ของผู้ใช้เส้นทางพึงพอใจ"


async def test_same_file_in_every_format_gives_the_same_ids(registry, reference):
    plugin = registry.get("eplan")
    ids = []
    for name, media_type, charset in FORMATS:
        records = await plugin.parse((SAMPLES / name).read_bytes(), media_type, charset)
        ids.append([(await plugin.map_in(r, reference))[0].external_id for r in records])
    assert all(found == ids[0] for found in ids)
    assert len(set(ids[0])) == 5


async def test_tis620_without_charset_is_refused(registry):
    with pytest.raises(PayloadError) as caught:
        await registry.get("eplan").parse((SAMPLES / "p02_tis620.csv").read_bytes(), "text/csv", None)
    assert caught.value.rule == "payload.encoding"


async def test_missing_org_column_is_a_payload_error(registry):
    payload = "ชื่อโครงการ,งบประมาณ 2566\nก่อสร้างถนน,100\n".encode()
    with pytest.raises(PayloadError) as caught:
        await registry.get("eplan").parse(payload, "text/csv", None)
    assert caught.value.rule == "eplan.header_missing"


async def test_map_in_good_row_with_thai_digits(registry, reference):
    [mapped] = await registry.get("eplan").map_in(_row(), reference)
    assert mapped.body()["org_code"] == "5400103"
    assert [i["amount"] for i in mapped.body()["budget_by_year"]] == ["1200000.00", "1200000.00"]
    assert mapped.external_id.startswith("h:")


async def test_external_id_prefers_project_code_and_hash_is_stable(registry, reference):
    plugin = registry.get("eplan")
    [coded] = await plugin.map_in(_row(**{"รหัสโครงการ": "5400103-2566-009"}), reference)
    assert coded.external_id == "5400103:5400103-2566-009"  # codes are unique per organisation only
    [a] = await plugin.map_in(_row(), reference)
    [b] = await plugin.map_in(_row(**{"ชื่อโครงการ": "  ก่อสร้างถนน  คสล. หมู่ที่ ๓ "}), reference)
    assert a.external_id == b.external_id


async def test_bad_amount_is_rejected_with_field_value_rule(registry, reference):
    with pytest.raises(MappingError) as caught:
        await registry.get("eplan").map_in(_row(**{"งบประมาณ 2567": "1.2e6"}), reference)
    [rej] = caught.value.as_rejections()
    assert rej.field == "งบประมาณ 2567"
    assert rej.value == "1.2e6"
    assert rej.rule.startswith("money.")


async def test_unknown_org_is_rejected(registry, reference):
    with pytest.raises(MappingError) as caught:
        await registry.get("eplan").map_in(_row(**{"รหัส อปท.": "5400199"}), reference)
    [rej] = caught.value.as_rejections()
    assert (rej.field, rej.value, rej.rule) == ("รหัส อปท.", "5400199", "org.unknown")


async def test_every_problem_of_a_row_is_reported(registry, reference):
    with pytest.raises(MappingError) as caught:
        await registry.get("eplan").map_in(
            _row(**{"รหัส อปท.": "abc", "งบประมาณ 2566": "NaN", "ชื่อโครงการ": ""}), reference
        )
    fields = {r.field for r in caught.value.as_rejections()}
    assert fields == {"รหัส อปท.", "งบประมาณ 2566", "ชื่อโครงการ"}


async def test_year_out_of_range_names_the_header(registry, reference):
    with pytest.raises(MappingError) as caught:
        await registry.get("eplan").map_in(_row(**{"งบประมาณ 2399": "100"}), reference)
    [rej] = caught.value.as_rejections()
    assert rej.field == "งบประมาณ 2399" and rej.rule.startswith("fiscal_year.")


async def test_model_rejection_names_the_native_field(registry, reference):
    # Passes the mapping (any code is text) but not the model (project_code is at most 100 characters).
    with pytest.raises(MappingError) as caught:
        await registry.get("eplan").map_in(_row(**{"รหัสโครงการ": "X" * 600}), reference)
    [rej] = caught.value.as_rejections()
    assert rej.field == "รหัสโครงการ" and rej.rule == "text.too_long"


async def test_read_paginates_with_cursors(registry, reference, eplan_sim, http):
    plugin = registry.get("eplan")
    settings = plugin.settings_from({"base_url": eplan_sim, "page_size": 2})
    # One read follows the pages to the end; each page is its own batch, so each cursor is saved with
    # exactly the records read before it.
    first, second, third = await plugin.read("plan_project", None, settings, http)
    assert [len(first.records), first.next_cursor, first.more] == [2, "2", True]
    assert (second.next_cursor, second.more, len(third.records), third.more) == ("4", True, 1, False)
    resumed, _ = await plugin.read("plan_project", first.next_cursor, settings, http)
    assert resumed.records[0].data == second.records[0].data
    [empty] = await plugin.read("plan_project", third.next_cursor, settings, http)
    assert empty.records == [] and empty.next_cursor == "5" and not empty.more
    everything = first.records + second.records + third.records
    assert "updated_seq" not in everything[0].data
    # The third record comes with Thai digits and a BE date; it maps like the others.
    assert everything[2].data["งบประมาณ 2566"] == "๑๕๐,๐๐๐"
    assert everything[2].data["วันที่ปรับปรุง"] == "๑๑/๐๖/๒๕๖๖"
    mapped = [(await plugin.map_in(r, reference))[0] for r in everything]
    assert mapped[2].body()["budget_by_year"][0] == {"fiscal_year": 2566, "amount": "150000.00"}
    assert [m.external_id for m in mapped][:1] == ["5400103:5400103-2566-001"]


async def test_posted_change_is_visible_to_the_next_poll(registry, eplan_sim, http):
    plugin = registry.get("eplan")
    settings = plugin.settings_from({"base_url": eplan_sim})
    [batch] = await plugin.read("plan_project", None, settings, http)
    change = {"รหัสโครงการ": "5400103-2566-002", "รหัส อปท.": "5400103", "ชื่อโครงการ": "อาหารกลางวัน (ปรับปรุง)",
              "งบประมาณ 2566": "600,000"}
    async with http.post(f"{eplan_sim}/api/v1/projects", json=change, headers={"Idempotency-Key": "k-1"}) as resp:
        assert resp.status == 200
    [after] = await plugin.read("plan_project", batch.next_cursor, settings, http)
    assert [r.data["ชื่อโครงการ"] for r in after.records] == ["อาหารกลางวัน (ปรับปรุง)"]
    async with http.get(f"{eplan_sim}/_sim/log") as resp:
        entries = (await resp.json())["entries"]
    assert [(e["method"], e["idempotency_key"]) for e in entries] == [("POST", "k-1")]


async def test_healthcheck(registry, eplan_sim, http):
    plugin = registry.get("eplan")
    health = await plugin.healthcheck(plugin.settings_from({"base_url": eplan_sim}), http)
    assert health.ok
    down = await plugin.healthcheck(plugin.settings_from({"base_url": "http://127.0.0.1:9", "timeout_s": 2}), http)
    assert not down.ok


async def test_unreachable_eplan_is_transient(registry, http):
    from core.errors import TransientError

    plugin = registry.get("eplan")
    with pytest.raises(TransientError):
        await plugin.read("plan_project", None, plugin.settings_from({"base_url": "http://127.0.0.1:9"}), http)
    assert isinstance(http, aiohttp.ClientSession)


async def test_an_unreadable_poll_answer_is_a_permanent_error_not_a_crash(registry) -> None:
    from aiohttp import web

    from core.errors import PermanentError
    from prasan.testing import served

    async def broken(request: web.Request) -> web.Response:
        return web.Response(text='{"records": [{"งบประมาณ 2566": NaN}], "more": false}', content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/projects", broken)
    async with served(app) as url:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(PermanentError, match="unreadable JSON"):
                plugin = registry.get("eplan")
                await plugin.read("plan_project", None, plugin.settings_from({"base_url": url}), http)


@pytest.mark.parametrize(
    ("written", "kind", "number"),
    [
        ("ฉบับแรก", "original", 0),
        ("เพิ่มเติม ครั้งที่ 1", "addition", 1),
        ("เปลี่ยนแปลง ครั้งที่ ๒", "change", 2),
        ("ฉบับแก้ไข ครั้งที่ 3", "correction", 3),
        ("เพิ่มเติม", "addition", 1),
    ],
)
async def test_the_plan_edition_of_a_row_is_kept(registry, reference, written, kind, number):
    [mapped] = await registry.get("eplan").map_in(_row(**{"ฉบับ": written}), reference)
    assert mapped.body()["revision"] == {"kind": kind, "number": number}


async def test_the_edition_column_is_read_under_its_other_names(registry, reference):
    payload = "รหัส อปท.,ชื่อโครงการ,งบประมาณ 2568,ฉบับที่\n5400103,ถนนสายใหม่,100000,เปลี่ยนแปลง ครั้งที่ 1\n"
    [record] = await registry.get("eplan").parse(payload.encode("utf-8"), "text/csv", "utf-8")
    [mapped] = await registry.get("eplan").map_in(record, reference)
    assert mapped.body()["revision"] == {"kind": "change", "number": 1}


async def test_an_unknown_plan_edition_is_rejected(registry, reference):
    with pytest.raises(MappingError) as caught:
        await registry.get("eplan").map_in(_row(**{"ฉบับ": "ฉบับพิเศษ"}), reference)
    [rej] = caught.value.as_rejections()
    assert (rej.field, rej.value, rej.rule) == ("ฉบับ", "ฉบับพิเศษ", "eplan.revision_unknown")
