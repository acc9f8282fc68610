"""The citizens' pages in a real headless Chromium (tests/e2e/browser.py), on SQLite and PostgreSQL, with the
pilot's scenario loaded and rows of the FY 2559 budget sample posted to e-budgeting's inbound endpoint.

A person on a 360 px wide phone walks from `/` to Nakhon Nayok, to อบต.บ้านใหญ่, picks the pilot's fiscal
year, opens the road project and reads its timeline; the visible figures are asserted, screenshots kept in
var/test-artifacts/, and the browser reports no console error, no request to any host but 127.0.0.1 and
a first page under 100 KB on the wire. The same walk is then made with JavaScript off, by the search
forms and the year form.
"""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from prasan.cli.pilot import ORG, TITLE
from tests.e2e.browser import ARTIFACTS, PHONE, chromium, chromium_or_skip
from tests.e2e.conftest import RunningHub
from tests.e2e.pilot_loader import load_pilot
from tests.shipped_data import bb_sample_rows

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PILOT_YEAR = "2570"
FIRST_PAGE_LIMIT = 100_000  # bytes on the wire, headers included
BUDGET_ROWS = 500
# Every text node's contrast against the background it is drawn on (WCAG 2 relative luminance).
LOW_CONTRAST_JS = """() => {
  const rgb = s => { const p = s.match(/[\\d.]+/g).map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                     return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const background = el => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
                                                                          if (c.a > 0) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || el.closest('[aria-hidden="true"]')) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(node.textContent.trim().slice(0, 40) + ' ' + ratio.toFixed(2));
  }
  return low;
}"""


@pytest.fixture
def browser_path() -> Path:
    return chromium_or_skip()


def thai_fiscal_year_now() -> str:
    """October to September, Buddhist Era, by the clock in Thailand."""
    now = datetime.now(UTC) + timedelta(hours=7)
    return str(now.year + 543 + (1 if now.month >= 10 else 0))


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


async def post_budget_sample(hub: RunningHub) -> tuple[int, int]:
    """One batch of the FY 2559 Budget Bureau sample through e-budgeting's inbound endpoint: (accepted, sent)."""
    _, key = await asyncio.to_thread(hub.hub.store.access.add_client, "e2e-ebudget", "ebudget")
    rows = bb_sample_rows()[:BUDGET_ROWS]
    headers = {"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {key}"}
    body = json.dumps(rows, ensure_ascii=False).encode("utf-8")
    async with hub.http.post(f"{hub.url}/api/v1/inbound/ebudget", data=body, headers=headers) as response:
        answer = await response.json(content_type=None)
        assert response.status == 202, answer
    return len({e["row"] for e in answer["entities"]}), len(rows)


def words(text: str) -> str:
    return " ".join(text.split())


async def texts(locator: Any) -> list[str]:
    return [words(t) for t in await locator.all_inner_texts()]


async def follow(page: Any, locator: Any) -> None:
    """Click a link or a button and wait for the page it leads to."""
    async with page.expect_navigation():
        await locator.click()


async def check_page(page: Any) -> None:
    """What every page of the walk owes a reader on a phone."""
    assert await page.get_attribute("html", "lang") == "th"
    assert await page.locator("h1").count() == 1
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} scrolls sideways at {PHONE['width']} px ({width} px wide)"
    assert await page.evaluate(LOW_CONTRAST_JS) == [], f"{page.url}: text below a 4.5:1 contrast"
    for bar in await page.locator(".bar").all():
        assert await bar.get_attribute("aria-hidden") == "true"  # the amount beside it is its text


async def test_a_citizen_walks_from_nakhon_nayok_to_the_project_in_chromium(
    browser_path: Path, running_hub: RunningHub, request: pytest.FixtureRequest
) -> None:
    from playwright.async_api import async_playwright

    hub = running_hub
    plan = await load_pilot(hub)
    accepted, sent = await post_budget_sample(hub)
    assert accepted >= 0.95 * sent, (accepted, sent)
    shots = ARTIFACTS / request.node.name.replace("[", "-").rstrip("]")
    shots.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        async with chromium(playwright, browser_path) as (context, watch):
            page = await context.new_page()
            first = await page.goto(f"{hub.url}/")
            assert first is not None and first.status == 200
            sizes = await first.request.sizes()
            on_the_wire = sizes["responseHeadersSize"] + sizes["responseBodySize"]
            print(f"\nfirst page: {on_the_wire} bytes on the wire, {len(watch.requests)} request(s)")
            assert watch.requests == [f"{hub.url}/"] and 0 < on_the_wire < FIRST_PAGE_LIMIT
            await check_page(page)
            assert await page.locator("h1").inner_text() == "โครงการของท้องถิ่นในจังหวัดของคุณ"
            await page.screenshot(path=shots / "home.png")

            await follow(page, page.get_by_role("link", name="นครนายก", exact=True))
            assert page.url == f"{hub.url}/p/26"
            await check_page(page)
            assert words(await page.locator("h1").inner_text()) == "จังหวัดนครนายก Nakhon Nayok"
            district = page.locator("h2", has_text="อำเภอเมืองนครนายก")
            assert await district.count() == 1
            await page.screenshot(path=shots / "province.png")

            await follow(page, page.get_by_role("link", name="อบต.บ้านใหญ่", exact=True))
            assert page.url == f"{hub.url}/o/{ORG}"
            assert await page.locator("h1").inner_text() == "องค์การบริหารส่วนตำบลบ้านใหญ่"
            assert await page.get_by_label("ปีงบประมาณ (พ.ศ.)").input_value() == thai_fiscal_year_now()
            await page.get_by_label("ปีงบประมาณ (พ.ศ.)").select_option(PILOT_YEAR)
            await follow(page, page.get_by_role("button", name="แสดง"))
            assert page.url == f"{hub.url}/o/{ORG}?fy={PILOT_YEAR}"
            await check_page(page)
            assert await page.locator("h2").first.inner_text() == f"โครงการปีงบประมาณ {PILOT_YEAR}"
            card = page.locator("article", has=page.get_by_role("link", name=TITLE))
            assert await card.locator(".stage").inner_text() == "อยู่ระหว่างเบิกจ่าย"
            assert await texts(card.locator("ul.bars li")) == [
                "ตามแผน 2,450,000 บาท", "งบประมาณ 2,450,000 บาท (100% ของแผน)",
                "ตามสัญญา 2,198,000 บาท (89% ของแผน)", "เบิกจ่ายแล้ว 1,099,000 บาท (44% ของแผน)",
            ]  # fmt: skip
            paid_width = await card.locator(".b-disbursed span").evaluate("e => e.getBoundingClientRect().width")
            plan_width = await card.locator(".b-planned span").evaluate("e => e.getBoundingClientRect().width")
            assert plan_width > 0 and abs(paid_width / plan_width - 1_099_000 / 2_450_000) < 0.01
            await page.screenshot(path=shots / "organisation.png")

            await follow(page, page.get_by_role("link", name=TITLE))
            assert page.url == f"{hub.url}/project/{plan}"
            await check_page(page)
            assert await page.locator("h1").inner_text() == TITLE
            steps = await texts(page.locator("ol.timeline > li"))
            assert "บรรจุในแผนพัฒนาท้องถิ่น 2,450,000 บาท" in steps[0] and "(e-Plan)" in steps[0], steps
            for step in (
                "12 มกราคม 2570 ประกาศจัดซื้อจัดจ้าง 2,450,000 บาท (ปีงบประมาณ 2570) ที่มา: ระบบการจัดซื้อจัดจ้างภาครัฐ (e-GP)",
                "20 กุมภาพันธ์ 2570 ลงนามในสัญญา 2,198,000 บาท ที่มา: ระบบการจัดซื้อจัดจ้างภาครัฐ (e-GP)",
                "15 มีนาคม 2570 เบิกจ่ายเงิน 1,099,000 บาท (ปีงบประมาณ 2570) "
                "ที่มา: ระบบบริหารการเงินการคลังภาครัฐแบบอิเล็กทรอนิกส์ (GFMIS)",
            ):
                assert any(s.startswith(step) for s in steps), (step, steps)
            assert [s.split(" ที่มา")[0].split(" ", 3)[3] for s in steps if s.startswith(("12 ม", "20 ก", "15 มี"))] == [
                "ประกาศจัดซื้อจัดจ้าง 2,450,000 บาท (ปีงบประมาณ 2570)", "ลงนามในสัญญา 2,198,000 บาท",
                "เบิกจ่ายเงิน 1,099,000 บาท (ปีงบประมาณ 2570)",
            ]  # fmt: skip
            as_of = await texts(page.locator("dl.asof dd"))
            assert len(as_of) == 4 and all(t.startswith("ข้อมูล ณ ") and t.endswith(" น.") for t in as_of), as_of
            await page.screenshot(path=shots / "project.png")
            await page.screenshot(path=shots / "project-full.png", full_page=True)

            assert watch.console_errors == [] and watch.page_errors == []
            assert watch.foreign == [] and all(url.startswith(f"{hub.url}/") for url in watch.requests), watch.requests
        assert png_size(shots / "project.png") == (PHONE["width"], PHONE["height"])

        async with chromium(playwright, browser_path, javascript=False) as (context, watch):
            page = await context.new_page()
            await page.goto(f"{hub.url}/")
            await page.get_by_label("ค้นหาจังหวัด").fill("นครนายก")
            await follow(page, page.get_by_role("button", name="ค้นหา"))
            assert await page.locator("main a[href^='/p/']").all_inner_texts() == ["นครนายก"]
            await follow(page, page.get_by_role("link", name="นครนายก", exact=True))
            await page.get_by_label("ค้นหาชื่อ อบจ. เทศบาล หรือ อบต.").fill("บ้านใหญ่")
            await follow(page, page.get_by_role("button", name="ค้นหา"))
            assert await page.locator("main a[href^='/o/']").all_inner_texts() == ["อบต.บ้านใหญ่"]
            await follow(page, page.get_by_role("link", name="อบต.บ้านใหญ่"))
            await page.get_by_label("ปีงบประมาณ (พ.ศ.)").select_option(PILOT_YEAR)
            await follow(page, page.get_by_role("button", name="แสดง"))
            await follow(page, page.get_by_role("link", name=TITLE))
            assert page.url == f"{hub.url}/project/{plan}"
            assert any(s.startswith("20 กุมภาพันธ์ 2570 ลงนามในสัญญา 2,198,000 บาท") for s in await texts(page.locator("ol.timeline > li")))
            await page.screenshot(path=shots / "project-no-javascript.png")
            assert watch.console_errors == [] and watch.page_errors == [] and watch.foreign == []
