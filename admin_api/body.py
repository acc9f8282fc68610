"""Reading a request body within a byte limit, holding it in memory once.

aiohttp's `Request.read()` gathers the body in a bytearray and then copies it into bytes, after asking
the stream for chunks as large as the limit: a 30 MB upload briefly held about three copies. Here the
chunks go into one growing buffer as they come, and the bytes returned share that buffer. A body over
the limit is refused as soon as its declared length or its running size says so, never read to the end,
and one that sends nothing for the stall limit is refused too.
"""

from __future__ import annotations

import asyncio
import io

from aiohttp import web

READ_CHUNK_BYTES = 64 * 1024


class BodyStalled(Exception):
    """Nothing of a request body arrived within the stall limit."""


async def next_chunk(request: web.Request, stall_s: float) -> bytes:
    """The next piece of the body (b"" at its end), or BodyStalled when nothing arrives for `stall_s` seconds."""
    try:
        async with asyncio.timeout(stall_s):
            return await request.content.read(READ_CHUNK_BYTES)
    except TimeoutError:
        raise BodyStalled from None


async def read_body(request: web.Request, limit: int, stall_s: float) -> bytes:
    """The whole body; HTTPRequestEntityTooLarge (413) once it is known to exceed `limit` bytes, and
    HTTPRequestTimeout (408) when nothing of it arrives for `stall_s` seconds."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
    buffer = io.BytesIO()
    size = 0
    while True:
        # StreamReader.read(n) may return fewer bytes than are coming, so read to the end or past the limit.
        try:
            chunk = await next_chunk(request, stall_s)
        except BodyStalled:
            raise web.HTTPRequestTimeout(text=f"nothing of the body arrived for {stall_s:g} s; send it again") from None
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        buffer.write(chunk)
    return buffer.getvalue()  # shares the buffer's bytes: no second copy
