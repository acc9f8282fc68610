"""GF-MIS plugin: the conformance kit, every quirk of its simulator through the plugin, and rejections
that name the native field, the value and the rule."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import plugins.gfmis
from core.plugin_manager import load_plugins
from core.reference_data import load_reference_data
from plugins.gfmis import Gfmis
from plugins.gfmis.simulator import API_KEY, Quirks, create_app
from prasan import XLSX_MEDIA_TYPE, ConfigError, MappingError, NativeRecord, PayloadError, ReadBatch, TransientError
from prasan.testing import PluginConformance, Sample, served

SAMPLES = Path(plugins.gfmis.__file__).parent / "samples"
LINE_FORMATS = [
    ("disbursements_utf8_bom.csv", "text/csv", None),
    ("disbursements_tis620.csv", "text/csv", "tis-620"),
    ("disbursements.json", "application/json", None),
]


class TestGfmisConformance(PluginConformance):
    system = Gfmis
    plugin = plugins.gfmis  # its converter and code list come with it
    samples = [
        Sample((SAMPLES / name).read_bytes(), media_type, charset) for name, media_type, charset in LINE_FORMATS
    ] + [Sample((SAMPLES / "nfma46.xlsx").read_bytes(), XLSX_MEDIA_TYPE)]


@pytest.fixture(scope="module")
def registry():
    return load_plugins(load_entrypoints=False, extra_plugins=[("gfmis", plugins.gfmis)])


@pytest.fixture
def system(registry) -> Gfmis:
    """The system as the hub builds it, for the push path (no connection needed)."""
    return registry.configure(load_reference_data(), {"gfmis": {"base_url": "http://127.0.0.1:9"}}).get("gfmis")


@asynccontextmanager
async def simulator(quirks: Quirks | None = None) -> AsyncIterator[str]:
    async with served(create_app(quirks=quirks)) as url:
        yield url


@asynccontextmanager
async def running(registry, http: aiohttp.ClientSession, **raw: Any) -> AsyncIterator[Gfmis]:
    settings = {"api_key": API_KEY, "timeout_s": 5, **raw}
    gfmis = registry.configure(load_reference_data(), {"gfmis": settings}).get("gfmis")
    await gfmis.start(http)
    try:
        yield gfmis
    finally:
        await gfmis.close()


async def batches(gfmis: Gfmis, cursor: str | None) -> list[ReadBatch]:
    return [batch async for batch in gfmis.read(gfmis.stream_for("disbursement"), cursor)]


def mapped(gfmis: Gfmis, records: list[NativeRecord]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for record in records:
        [one] = gfmis.map_in(record)
        out.append((one.external_id, one.payload.model_dump(mode="json")))
    return out


def problems_of(gfmis: Gfmis, data: dict[str, Any]) -> list[tuple[str | None, Any, str]]:
    with pytest.raises(MappingError) as caught:
        gfmis.map_in(NativeRecord(row=1, data=data))
    return [(r.field, r.value, r.rule) for r in caught.value.as_rejections()]


LINE = {
    "รหัสหน่วยงาน": "15008", "รหัสศูนย์ต้นทุน": "1500800008", "รหัสงบประมาณ": "15008680041000000001",
    "รหัสแหล่งของเงิน": "6811410", "รหัสบัญชีแยกประเภท": "5104010107", "เลขที่เอกสาร": "3100004127",
    "วันที่ผ่านรายการ": "14/11/2567", "จำนวนเงิน": "1,250,000.00",
}  # fmt: skip


# --- push: every format of the same lines ---------------------------------------------------------
def test_one_document_pushed_in_every_format_is_one_record(system):
    """CSV (UTF-8 with BOM, TIS-620) with Thai headers and JSON with SAP names: the same lines, whatever
    the date form (BE slashes, Thai months, ISO with a BE year), the amount form (Thai digits, บาท,
    no separators), the line number (001 or 1) or the GL sub-account suffix."""
    found = [mapped(system, system.parse((SAMPLES / n).read_bytes(), t, c)) for n, t, c in LINE_FORMATS]
    assert found[0] == found[1] == found[2]
    ids = [external_id for external_id, _ in found[0]]
    assert len(ids) == len(set(ids)) == 6  # the รวม line of the CSVs is a sum, not a document
    first, second = found[0][0][1], found[0][1][1]
    assert ids[:2] == ["15008:2568:3100004127:1", "15008:2568:3100004127:2"]
    assert (first["paid_on"], first["amount"], first["fund_source"], first["fiscal_year"]) == (
        "2024-11-14", "1250000.00", "6811410", 2568
    )
    assert (second["amount"], second["gl_account"]) == ("348500.50", "5104010107")  # ๓๔๘,๕๐๐.๕๐ and .101


def test_fiscal_year_is_the_funds_not_the_postings(system):
    records = system.parse((SAMPLES / "disbursements.json").read_bytes(), "application/json", None)
    external_id, carried_over = mapped(system, records)[3]
    # A 2567 fund paid out in March 2568 (CE 2025): the money's year, under the posting year's document.
    assert (carried_over["fund_source"], carried_over["fiscal_year"], carried_over["paid_on"]) == (
        "6711320", 2567, "2025-03-27"
    )
    assert external_id == "15008:2568:3100006018:1"


def test_tis620_without_its_charset_is_refused(system):
    with pytest.raises(PayloadError) as caught:
        system.parse((SAMPLES / "disbursements_tis620.csv").read_bytes(), "text/csv", None)
    assert caught.value.rule == "payload.encoding"


def test_a_field_given_twice_or_missing_is_a_payload_error(system):
    twice = "BELNR,เลขที่เอกสาร,BUKRS,BUDAT,WRBTR,GEBER\n3100000001,3100000002,15008,14/11/2567,100,6811410\n"
    with pytest.raises(PayloadError) as caught:
        system.parse(twice.encode(), "text/csv", "utf-8")
    assert caught.value.rule == "gfmis.header_repeated"
    with pytest.raises(PayloadError) as caught:
        system.parse("BELNR,WRBTR\n3100000001,100\n".encode(), "text/csv", "utf-8")
    assert caught.value.rule == "gfmis.header_missing"


# --- rejections: field, value, rule ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("จำนวนเงิน", "1,23,000", "money.separator"),
        ("จำนวนเงิน", "-500.00", "money.negative"),
        ("รหัสบัญชีแยกประเภท", "4101010101", "gfmis.gl_class"),  # a revenue account in a disbursement
        ("รหัสบัญชีแยกประเภท", "510401010", "code.gfmis-gl.format"),
        ("รหัสงบประมาณ", "0300213001120001", "code.gfmis-budget.format"),  # the old 16-digit code
        ("รหัสหน่วยงาน", "0302", "code.gfmis-agency.format"),  # the old 4-digit agency
        ("วันที่ผ่านรายการ", "31/02/2568", "date.impossible"),
        ("ลำดับรายการ", "A1", "gfmis.line_number"),
        ("รหัสศูนย์ต้นทุน", "15008000081", "string_pattern_mismatch"),  # refused by the model, named natively
    ],
)
def test_a_bad_line_is_rejected_naming_field_value_and_rule(system, field, value, rule):
    assert problems_of(system, {**LINE, field: value}) == [(field, value, rule)]


def test_every_problem_of_a_line_is_reported_at_once(system):
    found = problems_of(system, {**LINE, "จำนวนเงิน": "NaN", "รหัสแหล่งของเงิน": "601122", "เลขที่เอกสาร": "-"})
    assert {field for field, _, _ in found} == {"จำนวนเงิน", "รหัสแหล่งของเงิน", "เลขที่เอกสาร"}
    assert ("รหัสแหล่งของเงิน", "601122", "code.gfmis-fund.format") in found


# --- NFMA46 budget status -------------------------------------------------------------------------
def nfma46(rows: list[list[Any]], title: list[list[Any]] | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in title if title is not None else [["รหัสหน่วยงาน 15008"], ["ปีงบประมาณ 2568"]]:
        sheet.append(row)
    sheet.append(["แผนงาน", "รหัสงบประมาณ", "งบสุทธิ", "PO", "เบิกจ่าย", "คงเหลือ"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_nfma46_rows_become_budget_lines_of_the_titles_agency_and_year(system):
    records = system.parse((SAMPLES / "nfma46.xlsx").read_bytes(), XLSX_MEDIA_TYPE, None)
    found = mapped(system, records)
    assert len(found) == 3  # รวมทั้งสิ้น is the report's total
    external_id, line = found[1]
    assert external_id == "15008:2568:15008680022000000003"  # the year is ๒๕๖๘ in the title
    assert (line["entity_type"], line["phase"], line["amount"], line["fiscal_year"]) == (
        "budget_line", "revised", "12500000.00", 2568
    )
    assert line["classification"] == [
        {"scheme": "gfmis-budget", "level": "budget_code", "code": "15008680022000000003", "name": None}
    ]
    assert found[2][1]["amount"] == "98765432.10"  # an Excel number read without a float's noise


def test_nfma46_budget_code_kept_as_an_excel_number_is_rejected(system):
    [record] = system.parse(nfma46([["แผนงานบุคลากรภาครัฐ", 15008680011000000002, 100, 0, 0, 100]]), XLSX_MEDIA_TYPE, None)
    with pytest.raises(MappingError) as caught:
        system.map_in(record)
    [rej] = caught.value.as_rejections()
    assert (rej.field, rej.rule) == ("รหัสงบประมาณ", "gfmis.budget_code_as_number")


def test_nfma46_row_that_does_not_add_up_is_rejected(system):
    [record] = system.parse(nfma46([["แผนงานบุคลากรภาครัฐ", "15008680011000000002", 1000, 100, 200, "800"]]), XLSX_MEDIA_TYPE, None)
    assert problems_of(system, record.data) == [("คงเหลือ", "800", "gfmis.nfma46_balance")]


def test_nfma46_without_agency_or_year_in_its_title_is_a_payload_error(system):
    with pytest.raises(PayloadError) as caught:
        system.parse(nfma46([["แผนงาน", "15008680011000000002", 1, 0, 0, 1]], title=[["ปีงบประมาณ 2568"]]), XLSX_MEDIA_TYPE, None)
    assert caught.value.rule == "gfmis.nfma46_title"
    with pytest.raises(PayloadError) as caught:
        system.parse((SAMPLES / "disbursements.json").read_bytes(), XLSX_MEDIA_TYPE, None)
    assert caught.value.rule == "xlsx.unreadable"


# --- the poll API ---------------------------------------------------------------------------------
async def test_poll_pages_with_a_cursor_per_page_and_resumes_from_it(registry, http):
    async with simulator() as url, running(registry, http, base_url=url, page_size=2) as gfmis:
        pages = await batches(gfmis, None)
        assert [(len(b.records), b.next_cursor, b.more) for b in pages] == [(2, "2", True), (2, "4", True), (2, "6", False)]
        resumed = await batches(gfmis, "2")
        assert [r.data for r in resumed[0].records] == [r.data for r in pages[1].records]
        [empty] = await batches(gfmis, "6")
        assert (empty.records, empty.next_cursor, empty.more) == ([], "6", False)
        polled = [record for batch in pages for record in batch.records]
    # The export's forms: a dotted BE date, Thai digits and a Thai month on every third line, GEBER a number.
    assert polled[0].data["วันที่ผ่านรายการ"] == "14.11.2567"
    assert (polled[2].data["จำนวนเงิน"], polled[2].data["วันที่ผ่านรายการ"]) == ("๘๗,๔๒๐.๐๐", "3 ก.พ. 68")
    assert polled[0].data["รหัสแหล่งของเงิน"] == 6811410


async def test_a_polled_line_and_the_same_line_pushed_are_one_record(registry, http, system):
    async with simulator() as url, running(registry, http, base_url=url) as gfmis:
        polled = [record for batch in await batches(gfmis, None) for record in batch.records]
        from_poll = mapped(gfmis, polled)
    pushed = system.parse((SAMPLES / "disbursements_tis620.csv").read_bytes(), "text/csv", "tis-620")
    assert from_poll == mapped(system, pushed)


async def test_too_fast_is_429_and_a_transient_error_with_retry_after(registry, http):
    async with simulator(Quirks(rate_limit=2, window_s=60)) as url, running(
        registry, http, base_url=url, page_size=1
    ) as gfmis:
        read = gfmis.read(gfmis.stream_for("disbursement"), None)
        first, second = await anext(read), await anext(read)
        with pytest.raises(TransientError) as caught:
            await anext(read)
    # The pages read before the refusal were handed over with their cursors: the next pull resumes at 2.
    assert (first.next_cursor, second.next_cursor) == ("1", "2")
    assert "429" in str(caught.value)
    assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 60


async def test_an_answer_slower_than_timeout_is_a_transient_error(registry, http):
    async with simulator(Quirks(slow_every=2, slow_delay_s=3)) as url, running(
        registry, http, base_url=url, page_size=4, timeout_s=0.3
    ) as gfmis:
        read = gfmis.read(gfmis.stream_for("disbursement"), None)
        first = await anext(read)  # the first page is answered at once, the second is slow
        with pytest.raises(TransientError) as caught:
            await anext(read)
    assert first.next_cursor == "4"
    assert "could not be reached" in str(caught.value)


async def test_a_posted_line_is_stored_once_per_key_and_seen_by_the_next_poll(registry, http):
    line = {"BUKRS": "15008", "BELNR": "3100007001", "BUZEI": "001", "GEBER": 6811410, "BUDAT": "2025-08-01",
            "WRBTR": "5000.00", "FISTL": "15008680041000000001", "HKONT": "5104010107", "KOSTL": "1500800008",
            "ZZPMT": "1500800008", "search_term": ""}
    async with simulator() as url, running(registry, http, base_url=url) as gfmis:
        [before] = await batches(gfmis, None)
        for _ in range(2):
            headers = {"X-Api-Key": API_KEY, "Idempotency-Key": "post-7001"}
            async with http.post(f"{url}/api/v1/disbursements", json=line, headers=headers) as response:
                assert (response.status, (await response.json())["seq"]) == (201, 7)
        [after] = await batches(gfmis, before.next_cursor)
        async with http.get(f"{url}/_sim/log") as response:
            entries = (await response.json())["entries"]
    assert [(e["idempotency_key"], e["status"], e["replayed"]) for e in entries] == [
        ("post-7001", 201, False), ("post-7001", 201, True)
    ]
    [(external_id, body)] = mapped(gfmis, after.records)
    assert (external_id, body["amount"], after.next_cursor) == ("15008:2568:3100007001:1", "5000.00", "7")


async def test_a_wrong_key_holds_the_source_and_health_says_so(registry, http):
    async with simulator() as url:
        async with running(registry, http, base_url=url, api_key="not-the-key") as gfmis:
            with pytest.raises(ConfigError):
                await batches(gfmis, None)
            assert not (await gfmis.healthcheck()).ok
        async with running(registry, http, base_url=url) as gfmis:
            assert (await gfmis.healthcheck()).ok


def test_a_page_item_that_is_not_an_object_is_its_own_rejection(system):
    from plugins.gfmis.parse import polled_record

    record = polled_record(3, ["3100004127", "15008"])
    with pytest.raises(MappingError) as caught:
        system.map_in(record)
    assert [r.rule for r in caught.value.as_rejections()] == ["gfmis.not_a_record"]
