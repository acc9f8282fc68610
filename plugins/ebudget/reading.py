"""Reading bbgfproject by offset, year after year, with a cursor that says where to resume.

The API pages by `offset` in pages of 20 and says nothing about what is left: a short page is the
last one, and a full last page is only known to be last when the next offset answers nothing. The
cursor is `<fiscal year>:<offset>`, so a pull resumes inside the year it stopped in; a closed year's
list only grows at its end, so resuming by offset loses nothing there. A row changed in place is not
seen again until the cursor is reset (re-reading unchanged rows makes no new version).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from plugins.ebudget.parse import record_of
from prasan import PermanentError, ReadBatch

BBGFPROJECT = "/api/service/bbgfproject"
PAGE_SIZE = 20
_CURSOR = re.compile(r"^(?P<year>[0-9]{4}):(?P<offset>[0-9]+)$")

GetJson = Callable[[str, dict[str, str]], Awaitable[Any]]


def parse_cursor(cursor: str | None, years: tuple[int, ...]) -> tuple[int, int]:
    """(fiscal year, offset) to resume from; None starts at the first configured year."""
    if cursor is None:
        return years[0], 0
    found = _CURSOR.match(cursor.strip())
    if found is None:
        reason = f"e-budgeting cursor {cursor!r} is not '<fiscal year>:<offset>'"
        raise PermanentError(reason, system="ebudget")
    return int(found["year"]), int(found["offset"])


def page_rows(body: Any, rows_of: Callable[[Any], list[Any]]) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or "result" not in body:
        raise PermanentError('e-budgeting answered a page without "result"', system="ebudget")
    return rows_of(body)


async def read_years(
    get_json: GetJson,
    params: dict[str, str],
    years: tuple[int, ...],
    cursor: str | None,
    max_pages: int,
    rows_of: Callable[[Any], list[Any]],
) -> AsyncIterator[ReadBatch]:
    """One batch per page, from the cursor on, at most `max_pages` pages."""
    year, offset = parse_cursor(cursor, years)
    remaining = [y for y in years if y >= year]
    pages = 0
    for index, current in enumerate(remaining):
        start = offset if current == year else 0
        later_years = index + 1 < len(remaining)
        while True:
            if pages == max_pages:
                return
            body = await get_json(BBGFPROJECT, {**params, "year": str(current), "offset": str(start)})
            rows = page_rows(body, rows_of)
            pages += 1
            records = [record_of(start + n, row) for n, row in enumerate(rows, 1)]
            start += len(rows)
            full = len(rows) >= PAGE_SIZE
            yield ReadBatch(records, f"{current}:{start}", more=full or later_years)
            if not full:
                break
