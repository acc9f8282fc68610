"""Reading a request body within a byte limit, holding it in memory once.

aiohttp's `Request.read()` gathers the body in a bytearray and then copies it into bytes, after asking
the stream for chunks as large as the limit: a 30 MB upload briefly held about three copies. Here the
chunks go into one growing buffer as they come, and the bytes returned share that buffer. A body over
the limit is refused as soon as its declared length or its running size says so, never read to the end.

A body must also keep coming (`BodyPace`): nothing for the stall limit is refused, and so is one that
trickles, a byte just before each stall limit, which would otherwise hold its connection and memory for
days. After a first stall limit of grace, each byte received buys 1/min_bytes_per_s seconds more (the
MinRate rule of Apache's mod_reqtimeout): a slow but real link is never cut, a trickle is.
"""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass, field

from aiohttp import web

from core.settings import SecuritySettings

READ_CHUNK_BYTES = 64 * 1024


class BodyStalled(Exception):
    """The body stopped arriving, or arrives slower than the pace allows; the message says which."""


@dataclass
class BodyPace:
    """How slowly one request's body may arrive: never nothing for `stall_s`, and on the whole at least
    `min_bytes_per_s` after the first `stall_s`."""

    stall_s: float
    min_bytes_per_s: float
    what: str = "body"  # as the refusal names it
    received: int = 0
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def of_request(cls, security: SecuritySettings) -> BodyPace:
        """The pace of a pushed payload or an admin API request body."""
        return cls(security.body_stall_s, security.body_min_bytes_per_s)

    def left_s(self) -> float:
        """Seconds before the body falls behind the least rate (negative: it has)."""
        return self.started + self.stall_s + self.received / self.min_bytes_per_s - time.monotonic()

    def stalled(self, waited_s: float) -> BodyStalled:
        if waited_s >= self.stall_s:
            return BodyStalled(f"nothing of the {self.what} arrived for {self.stall_s:g} s")
        return BodyStalled(
            f"the {self.what} arrived slower than {self.min_bytes_per_s:g} bytes/s ({self.received:,} bytes in "
            f"{time.monotonic() - self.started:.0f} s)"
        )


async def next_chunk(request: web.Request, pace: BodyPace) -> bytes:
    """The next piece of the body (b"" at its end), or BodyStalled when it does not come in time."""
    wait_s = min(pace.stall_s, pace.left_s())
    if wait_s <= 0:
        raise pace.stalled(0)
    try:
        async with asyncio.timeout(wait_s):
            chunk = await request.content.read(READ_CHUNK_BYTES)
    except TimeoutError:
        raise pace.stalled(wait_s) from None
    pace.received += len(chunk)
    return chunk


async def read_body(request: web.Request, limit: int, pace: BodyPace) -> bytes:
    """The whole body; HTTPRequestEntityTooLarge (413) once it is known to exceed `limit` bytes, and
    HTTPRequestTimeout (408) when it does not keep `pace`."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
    buffer = io.BytesIO()
    size = 0
    while True:
        # StreamReader.read(n) may return fewer bytes than are coming, so read to the end or past the limit.
        try:
            chunk = await next_chunk(request, pace)
        except BodyStalled as exc:
            raise web.HTTPRequestTimeout(text=f"{exc}; send it again") from None
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        buffer.write(chunk)
    return buffer.getvalue()  # shares the buffer's bytes: no second copy
