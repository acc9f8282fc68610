"""The typed keys under which the application keeps what its handlers use."""

from __future__ import annotations

from aiohttp import web

from admin_api.ratelimit import RateLimiter
from core.hub import Hub

HUB = web.AppKey("hub", Hub)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
ADDRESS_LIMITER = web.AppKey("address_rate_limiter", RateLimiter)
ACTOR = web.RequestKey("actor", str)  # "token:<name>", the audit log's "who"
