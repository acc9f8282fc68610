"""structlog set-up: JSON lines for machines, readable console output on a terminal.

Context is bound where the work happens, so each line says what it concerns: ingest binds
`message_id` and `system`, delivery binds `delivery_key`, `system` (the destination) and `route`,
pulls bind `system`, `entity_type` and `run_id`, HTTP requests bind `http_route` and `http_method`
(structlog contextvars, merged into every line). Every string value goes through `scrub_secrets`,
so an API key or bearer token that slips into a message is masked before it is written.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from core.errors import scrub_secrets

# Keys whose values are secrets whatever they look like (compared lower-case, "-" read as "_").
_SECRET_KEYS = {
    "api_key", "apikey", "x_api_key", "token", "access_token", "password", "secret", "authorization",
    "hmac_secret",
}


def _secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in _SECRET_KEYS


def _masked(value: Any, depth: int = 0) -> Any:
    """The value with strings scrubbed and anything under a secret-looking key masked, at any depth."""
    if isinstance(value, str):
        return scrub_secrets(value)
    if depth > 20:  # a pathological nesting is not worth walking; its text form is still scrubbed
        return scrub_secrets(repr(value))
    if isinstance(value, dict):
        return {
            k: "***" if _secret_key(k) and v is not None else _masked(v, depth + 1) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_masked(v, depth + 1) for v in value]
    if isinstance(value, tuple):  # a named tuple becomes a plain one: the renderer only needs the values
        return tuple(_masked(v, depth + 1) for v in value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    # Anything else is rendered from its repr after this processor: scrub that text now (a settings
    # object, an HTTP answer with its body, a pydantic model holding a credential).
    return scrub_secrets(repr(value))


def _scrub(logger: object, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if _secret_key(key) and value is not None:
            event[key] = "***"
        else:
            event[key] = _masked(value)
    return event


def configure_logging(
    level: str = "info", fmt: str = "auto", *, stream: TextIO | None = None, cache: bool = True
) -> None:
    """Configure structlog for the process.

    Args:
        level: debug, info, warning or error.
        fmt: json, console, or auto (console when `stream` is a terminal).
        stream: where lines go (standard error by default).
        cache: cache loggers on first use (faster); tests that reconfigure turn it off.
    """
    out = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _scrub,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=cache,
    )
