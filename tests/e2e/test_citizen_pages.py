"""The citizens' pages over real HTTP, on SQLite and PostgreSQL, with the pilot's scenario loaded: the walk
from `/` to a project's timeline in the HTML itself (figures, Thai dates and system names), the page's
outline (lang, one h1, headings in order, labelled fields), cache headers, and hostile addresses and
queries answered with Thai 400/404 pages, never a 500. The same walk in a real browser is
test_citizen_pages_browser.py."""

from __future__ import annotations

from collections.abc import Mapping
from html.parser import HTMLParser

import pytest

from admin_api import pages
from prasan.cli.pilot import ORG, PROJECT_CODE, TITLE, p02_row
from tests.e2e.conftest import RunningHub
from tests.e2e.pilot_loader import load_pilot

pytestmark = pytest.mark.e2e


class Outline(HTMLParser):
    """What a reader (and a screen reader) gets from a page: its language, headings, links, fields, text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.lang: str | None = None
        self.headings: list[tuple[int, str]] = []
        self.links: dict[str, str] = {}  # text -> href
        self.fields: list[str] = []  # ids of input and select elements
        self.labels: list[str] = []  # what each label is for
        self.scripts = 0
        self.text: list[str] = []
        self._heading: int | None = None
        self._link: str | None = None
        self._buffer: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._heading, self._buffer = int(tag[1]), []
        elif tag == "a":
            self._link, self._buffer = a.get("href"), []
        elif tag in ("input", "select"):
            self.fields.append(a.get("id") or "")
        elif tag == "label":
            self.labels.append(a.get("for") or "")
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if self._heading is not None and tag == f"h{self._heading}":
            self.headings.append((self._heading, " ".join("".join(self._buffer).split())))
            self._heading = None
        elif tag == "a" and self._link is not None:
            self.links[" ".join("".join(self._buffer).split())] = self._link
            self._link = None

    def handle_data(self, data: str) -> None:
        self._buffer.append(data)
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def assert_accessible_outline(page: Outline) -> None:
    assert page.lang == "th"
    levels = [level for level, _ in page.headings]
    assert levels.count(1) == 1 and levels[0] == 1, page.headings
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), f"a heading level is skipped: {page.headings}"
    assert set(page.fields) <= set(page.labels) and all(page.fields), f"a field without its label: {page.fields} {page.labels}"
    assert page.scripts == 0


async def fetch(hub: RunningHub, path: str, **headers: str) -> tuple[int, str, Mapping[str, str]]:
    async with hub.http.get(f"{hub.url}{path}", headers=headers) as response:
        return response.status, await response.text(), response.headers


async def test_a_citizen_walks_from_the_province_to_the_timeline_in_plain_html(running_hub: RunningHub) -> None:
    hub = running_hub
    plan = await load_pilot(hub)

    status, html, headers = await fetch(hub, "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=60" and headers["ETag"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    home = Outline(html)
    assert_accessible_outline(home)
    assert home.links["นครนายก"] == "/p/26" and len([h for h in home.links.values() if h.startswith("/p/")]) == 77
    assert len(html.encode("utf-8")) < 100_000
    status, _, _ = await fetch(hub, "/", **{"If-None-Match": headers["ETag"]})
    assert status == 304
    # Sent compressed to whoever accepts it (the client here does, and unpacks it), plain to others.
    assert headers["Content-Encoding"] == "gzip" and headers["Vary"] == "Accept-Encoding"
    status, plain, plain_headers = await fetch(hub, "/", **{"Accept-Encoding": "identity"})
    assert status == 200 and plain == html and "Content-Encoding" not in plain_headers
    assert plain_headers["ETag"] != headers["ETag"] and int(plain_headers["Content-Length"]) > 3 * int(headers["Content-Length"])
    status, html, _ = await fetch(hub, "/?q=นายก")
    assert [h for h in Outline(html).links.values() if h.startswith("/p/")] == ["/p/26"]

    status, html, _ = await fetch(hub, "/p/26")
    province = Outline(html)
    assert status == 200 and province.headings[0] == (1, "จังหวัดนครนายก Nakhon Nayok")
    assert_accessible_outline(province)
    # Districts in DOPA's order: the capital district first.
    assert province.headings[1] == (2, "อำเภอเมืองนครนายก") and province.links["อบต.บ้านใหญ่"] == f"/o/{ORG}"
    status, html, _ = await fetch(hub, "/p/26?q=บ้าน ใหญ่")
    assert [h for h in Outline(html).links.values() if h.startswith("/o/")] == [f"/o/{ORG}"]

    status, html, _ = await fetch(hub, f"/o/{ORG}?fy=2570")
    organisation = Outline(html)
    assert status == 200 and organisation.headings[0] == (1, "องค์การบริหารส่วนตำบลบ้านใหญ่")
    assert_accessible_outline(organisation)
    assert organisation.links[TITLE] == f"/project/{plan}"
    words = organisation.words
    assert "อยู่ระหว่างเบิกจ่าย" in words and "รวม 1 โครงการ" in words
    for figure in ("ตามแผน 2,450,000 บาท", "งบประมาณ 2,450,000 บาท (100% ของแผน)",
                   "ตามสัญญา 2,198,000 บาท (89% ของแผน)", "เบิกจ่ายแล้ว 1,099,000 บาท (44% ของแผน)"):  # fmt: skip
        assert words.count(figure) == 2, figure  # the year's total and the project
    assert '<option value="2570" selected>2570 (1 โครงการ)</option>' in html
    # Thai digits in the year, and tags a shared link carries, read as the same page.
    _, same, _ = await fetch(hub, f"/o/{ORG}?fy=๒๕๗๐&fbclid=abc")
    assert same == html

    status, html, _ = await fetch(hub, f"/project/{plan}")
    project = Outline(html)
    assert status == 200 and project.headings[0] == (1, TITLE)
    assert_accessible_outline(project)
    words = project.words
    for step in (
        "12 มกราคม 2570 ประกาศจัดซื้อจัดจ้าง 2,450,000 บาท (ปีงบประมาณ 2570) ที่มา: ระบบการจัดซื้อจัดจ้างภาครัฐ (e-GP)",
        "20 กุมภาพันธ์ 2570 ลงนามในสัญญา 2,198,000 บาท ที่มา: ระบบการจัดซื้อจัดจ้างภาครัฐ (e-GP)",
        "15 มีนาคม 2570 เบิกจ่ายเงิน 1,099,000 บาท (ปีงบประมาณ 2570) ที่มา: ระบบบริหารการเงินการคลังภาครัฐแบบอิเล็กทรอนิกส์ (GFMIS)",
    ):
        assert step in words, step
    assert f"บรรจุในแผนพัฒนาท้องถิ่น 2,450,000 บาท (ปีงบประมาณ 2570) ที่มา: ระบบสารสนเทศเพื่อการวางแผนพัฒนาท้องถิ่น (e-Plan) · เลขที่ {ORG}:70-03-001" in words
    assert words.count("ข้อมูล ณ ") == 4  # e-Plan, e-Budgeting, e-GP and GF-MIS sent records of it
    assert project.links["อบต.บ้านใหญ่"] == f"/o/{ORG}"


HOSTILE = [  # (path, status, what the page says)
    ("/p/xx", 400, "รหัสจังหวัด"),
    ("/p/260", 400, "รหัสจังหวัด"),
    ("/p/99", 404, "ไม่พบจังหวัด"),
    ("/o/62601", 400, "รหัสองค์กรปกครองส่วนท้องถิ่น"),
    ("/o/9999999", 404, "ไม่พบองค์กรปกครองส่วนท้องถิ่น"),
    ("/project/not-a-project", 400, "รหัสโครงการ"),
    (f"/project/{'0' * 32}", 404, "ไม่พบโครงการ"),
    (f"/o/{ORG}?fy=2570abc", 400, "ปีงบประมาณ"),
    (f"/o/{ORG}?fy=99999999999999999999999", 400, "ปีงบประมาณ"),
    (f"/o/{ORG}?fy=1", 400, "ปีงบประมาณ"),
    (f"/o/{ORG}?page=0", 400, "หน้าที่"),
    ("/?q=" + "ก" * 101, 400, "คำค้น"),
    ("/p/26?q=%00", 400, "คำค้น"),
]


async def test_hostile_addresses_and_queries_get_a_thai_page_not_a_failure(running_hub: RunningHub) -> None:
    for path, status, says in HOSTILE:
        got, html, headers = await fetch(running_hub, path)
        assert got == status, (path, html)
        assert headers["Content-Type"] == "text/html; charset=utf-8" and "Cache-Control" not in headers, path
        page = Outline(html)
        assert_accessible_outline(page)
        assert says in page.words and page.links["กลับไปหน้าแรกเพื่อเลือกจังหวัด"] == "/", path

    # Bytes that are no UTF-8 (a lone surrogate) arrive as replacement characters: a search that finds nothing.
    status, html, _ = await fetch(running_hub, "/?q=%ED%A0%80")
    assert status == 200 and "ไม่พบจังหวัดที่ตรงกับคำค้น" in Outline(html).words
    status, html, _ = await fetch(running_hub, "/?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert status == 200 and "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_an_organisation_with_more_projects_than_a_page_holds_is_paged(
    running_hub: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    water = "ปรับปรุงระบบประปาหมู่บ้าน หมู่ที่ 2"
    second = p02_row().decode("utf-8").splitlines()[1].replace(PROJECT_CODE, "70-03-002").replace(TITLE, water)
    second = second.replace('"๒,๔๕๐,๐๐๐"', '"๓๕๐,๐๐๐"')
    csv = (p02_row().decode("utf-8") + second + "\n").encode("utf-8")
    status, answer = await running_hub.post(csv, "text/csv; charset=utf-8")
    assert status == 202 and len(answer["entities"]) == 2, answer
    # New projects sent to e-LAAS enter the area figures as they are filed there (decision 0017).
    await running_hub.wait_until(running_hub.settled, "both plans filed at e-LAAS")
    monkeypatch.setattr(pages, "PAGE_SIZE", 1)

    _, html, _ = await fetch(running_hub, f"/o/{ORG}?fy=2570")
    first = Outline(html)
    assert TITLE in first.links and water not in first.links  # the larger plan first
    assert first.links["หน้าถัดไป ›"] == f"/o/{ORG}?fy=2570&page=2" and "‹ หน้าก่อน" not in first.links
    assert "รวม 2 โครงการ" in first.words and "ตามแผน 2,800,000 บาท" in first.words
    _, html, _ = await fetch(running_hub, f"/o/{ORG}?fy=2570&page=2")
    following = Outline(html)
    assert water in following.links and TITLE not in following.links and "ตามแผน 350,000 บาท" in following.words
    assert following.links["‹ หน้าก่อน"] == f"/o/{ORG}?fy=2570&page=1" and "หน้าถัดไป ›" not in following.links


@pytest.mark.hub_settings(security={"address_rate_limit_per_s": 0.01, "address_rate_limit_burst": 2})
async def test_pages_the_hub_must_compute_spend_the_address_limit_and_cached_ones_do_not(running_hub: RunningHub) -> None:
    assert (await fetch(running_hub, "/"))[0] == 200
    for _ in range(3):
        assert (await fetch(running_hub, "/"))[0] == 200  # from the hub's cache: nothing spent
    assert (await fetch(running_hub, "/p/26"))[0] == 200
    status, html, headers = await fetch(running_hub, "/p/10")
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert "มีการเรียกดูถี่เกินไป" in Outline(html).words
