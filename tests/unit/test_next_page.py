"""The next-page Link of paged lists (admin_api/spec.py): only on a full page of a list, with every other
parameter kept, and never to an offset the query model would refuse."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import make_mocked_request

import admin_api.app  # noqa: F401  (registers the operations)
from admin_api.spec import OPERATIONS, next_page, paged
from admin_api.types import MAX_OFFSET


def _link(path_qs: str, limit: int, offset: int, rows: int) -> str | None:
    request = make_mocked_request("GET", path_qs)
    return next_page(request, SimpleNamespace(limit=limit, offset=offset), list(range(rows))).get("Link")


def test_a_full_page_links_the_same_request_at_the_next_offset() -> None:
    link = _link("/api/v1/areas?level=province&code=26&programme=%E0%B8%96%E0%B8%99%E0%B8%99&limit=2&offset=4", 2, 4, 2)
    assert link is not None and link.endswith('>; rel="next"')
    target = urlsplit(link[1 : link.index(">")])
    query = parse_qs(target.query)
    assert target.path == "/api/v1/areas"
    assert query == {"level": ["province"], "code": ["26"], "programme": ["ถนน"], "limit": ["2"], "offset": ["6"]}


def test_no_link_for_a_short_page_a_non_list_or_past_the_largest_offset() -> None:
    assert _link("/api/v1/messages?limit=3", 3, 0, 2) is None
    request = make_mocked_request("GET", "/api/v1/messages?limit=1")
    assert next_page(request, SimpleNamespace(limit=1, offset=0), {"projects": [1]}) == {}
    assert _link(f"/api/v1/messages?limit=1000&offset={MAX_OFFSET - 999}", 1000, MAX_OFFSET - 999, 1000) is None
    assert _link(f"/api/v1/messages?limit=1000&offset={MAX_OFFSET - 1000}", 1000, MAX_OFFSET - 1000, 1000) is not None


def test_only_operations_that_answer_a_list_are_paged() -> None:
    by_id = {op.operation_id: op for op in OPERATIONS}
    assert paged(by_id["area_totals"]) and paged(by_id["list_messages"])
    assert not paged(by_id["public_organisation_projects"])  # its page is wrapped in an object with limit, offset
