"""Following a declared paging scheme: a cursor the system hands out, an offset the reader counts, or
one page. A page is asked for with `fetch(params)`, which answers (records, JSON document, headers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from plugins.sola.transport import Paging
from plugins.sola.wire import at_path
from prasan import PermanentError

Page = tuple[list[dict[str, Any]], Any, dict[str, str]]
Fetch = Callable[[dict[str, str]], Awaitable[Page]]


def _more(paging: Paging, records: list[dict[str, Any]], document: Any) -> bool:
    flag = at_path(document, paging.more) if paging.more and isinstance(document, dict) else None
    if flag is None:
        # Without a flag, a full page is the only hint that another may follow; an empty one ends it.
        return len(records) >= paging.page_size
    return flag is True or str(flag).strip().lower() in ("true", "1", "yes")


def _next_cursor(paging: Paging, document: Any, headers: dict[str, str]) -> str | None:
    if paging.next_cursor_header:
        value = next((v for k, v in headers.items() if k.lower() == paging.next_cursor_header.lower()), None)
    else:
        value = at_path(document, paging.next_cursor) if isinstance(document, dict) else None
    return None if value in (None, "") else str(value)


def _offset(cursor: str | None) -> int:
    text = (cursor or "0").strip()
    if not text.isdigit():
        # An operator may set a cursor by hand; a wrong one must say so rather than crash the pull.
        raise PermanentError(f"offset paging needs a whole-number cursor, not {cursor!r}")
    return int(text)


def _params(paging: Paging, cursor: str | None) -> dict[str, str]:
    params = {paging.limit_param: str(paging.page_size)} if paging.limit_param else {}
    if paging.style == "offset":
        params[paging.offset_param] = str(_offset(cursor))
    elif paging.style == "cursor" and (cursor or paging.first_cursor):
        params[paging.cursor_param] = cursor or paging.first_cursor or ""
    return params


async def pages(
    fetch: Fetch, paging: Paging, cursor: str | None
) -> AsyncIterator[tuple[list[dict[str, Any]], str | None, bool]]:
    """(records, cursor after them, more) per page, at most `max_pages` per call: the scheduler resumes
    from the saved cursor, so one pull never runs for ever."""
    for _ in range(paging.max_pages):
        records, document, headers = await fetch({**_params(paging, cursor)})
        if paging.style == "none":
            yield records, None, False
            return
        if paging.style == "offset":
            after = str(_offset(cursor) + len(records))
        else:
            after = _next_cursor(paging, document, headers) or cursor
        more = _more(paging, records, document) and after != cursor
        yield records, after, more
        if not more:
            return
        cursor = after
