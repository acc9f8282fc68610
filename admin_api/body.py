"""Reading a request body within a byte limit, holding it in memory once.

aiohttp's `Request.read()` gathers the body in a bytearray and then copies it into bytes, after asking
the stream for chunks as large as the limit: a 30 MB upload briefly held about three copies. Here the
chunks go into one growing buffer as they come, and the bytes returned share that buffer. A body over
the limit is refused as soon as its declared length or its running size says so, never read to the end.

A body must also keep coming (`BodyPace`): nothing for the stall limit is refused, and so is one that
trickles, a byte just before each stall limit, which would otherwise hold its connection and memory for
days. Each byte received buys 1/min_bytes_per_s seconds (the MinRate rule of Apache's mod_reqtimeout),
from a first stall limit of grace, but the credit never reaches more than one stall limit ahead: a fast
start does not pay for a trickle after it, and a slow but steady link is never cut. What is already
buffered is read before any deadline is looked at, so the hub's own delays are not held against a client.
"""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass, field

from aiohttp import web

from core.settings import SecuritySettings

READ_CHUNK_BYTES = 64 * 1024
LAST_CHANCE_S = 0.05


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
    deadline: float = 0.0  # when the body is behind, unless more of it arrives
    deadline_is_stall: bool = True  # the deadline is a stall limit after the last byte, not the rate's

    def __post_init__(self) -> None:
        self.deadline = self.started + self.stall_s

    @classmethod
    def of_request(cls, security: SecuritySettings) -> BodyPace:
        """The pace of a pushed payload or an admin API request body."""
        return cls(security.body_stall_s, security.body_min_bytes_per_s)

    def arrived(self, size: int) -> None:
        now = time.monotonic()
        self.received += size
        earned = self.deadline + size / self.min_bytes_per_s
        self.deadline_is_stall = earned >= now + self.stall_s
        self.deadline = now + self.stall_s if self.deadline_is_stall else earned

    def stalled(self) -> BodyStalled:
        if self.deadline_is_stall:
            return BodyStalled(f"nothing of the {self.what} arrived for {self.stall_s:g} s")
        return BodyStalled(
            f"the {self.what} arrived slower than {self.min_bytes_per_s:g} bytes/s ({self.received:,} bytes in "
            f"{time.monotonic() - self.started:.1f} s)"
        )


async def next_chunk(request: web.Request, pace: BodyPace) -> bytes:
    """The next piece of the body (b"" at its end), or BodyStalled when it does not come in time."""
    chunk = request.content.read_nowait(READ_CHUNK_BYTES)
    if not chunk and not request.content.at_eof():
        # Past the deadline, still one short turn of the event loop: bytes may wait in the socket because
        # the loop was busy, and the hub's delays are not the client's.
        wait_s = max(pace.deadline - time.monotonic(), LAST_CHANCE_S)
        try:
            async with asyncio.timeout(wait_s):
                chunk = await request.content.read(READ_CHUNK_BYTES)
        except TimeoutError:
            raise pace.stalled() from None
    pace.arrived(len(chunk))
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
