"""A base for agency systems reached over HTTP: auth, timeouts, status classification, Retry-After,
Idempotency-Key, paging and secrets kept out of messages, written once for every REST plugin.

The status table is the hub's (`core.errors.classify_http_status`):

    2xx                       Delivered (with the id `external_id_of` finds in the answer)
    401, 403, 1xx, 3xx        ConfigError: the destination is held for an operator (a redirect is never
                              followed: it would carry the credentials to another host)
    408, 425, 429, 5xx        Retryable, honouring Retry-After (seconds or an HTTP date)
    other 4xx                 Rejected, with the system's own message
    timeout, refused, reset   Retryable
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import aiohttp
from pydantic import Field, SecretStr

from canonical_model.envelope import body_text
from core.contract import AgencySystem, SystemSettings
from core.errors import ConfigError, PermanentError, TransientError, classify_http_status, scrub_secrets
from core.payloads import PayloadError, loads_strict_json
from core.plugin_types import Delivered, Health, NativeRecord, ReadBatch, Rejected, Retryable, WriteItem, WriteResult

# Enough of an error body to say what was wrong, never a whole page.
MESSAGE_CHARS = 500


class HttpSettings(SystemSettings):
    base_url: str = Field(description="Root URL of the system (or its simulator), without a trailing slash.")
    api_key: SecretStr | None = Field(default=None, description="Credential sent on every request, when the system needs one.")
    timeout_s: float = Field(default=15.0, gt=0, le=300, description="Seconds to wait for one request before giving up on it.")


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        """The body as strict JSON (fractions as Decimal: an amount never passes through a float)."""
        try:
            return loads_strict_json(self.text)
        except PayloadError as exc:
            raise PermanentError(f"answered unreadable JSON: {exc.reason}") from None

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class RestSystem(AgencySystem):
    """An agency system behind a REST API. Subclasses set `Settings` (a subclass of `HttpSettings`) and
    the auth declarations, and write their methods with `request`, `result_for` and `write_each`."""

    Settings: ClassVar[type[HttpSettings]] = HttpSettings  # type: ignore[assignment]
    #: header that carries the credential, and the scheme before it ("Bearer") if any
    auth_header: ClassVar[str] = "X-Api-Key"
    auth_scheme: ClassVar[str | None] = None
    #: header that carries a delivery's key, so that the system ignores a repeat
    idempotency_header: ClassVar[str] = "Idempotency-Key"
    #: the system's name in messages ("e-LAAS answered 503 ...")
    label: ClassVar[str] = ""

    settings: HttpSettings

    @property
    def display_name(self) -> str:
        return self.label or self.title

    def url(self, path: str) -> str:
        return f"{self.settings.base_url.rstrip('/')}/{path.lstrip('/')}"

    def headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.settings.api_key is not None:
            secret = self.settings.api_key.get_secret_value()
            headers[self.auth_header] = f"{self.auth_scheme} {secret}" if self.auth_scheme else secret
        if idempotency_key:
            headers[self.idempotency_header] = idempotency_key
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        idempotency_key: str | None = None,
    ) -> HttpAnswer:
        """One request within the system's timeout. A system that cannot be reached raises
        `TransientError`; any answer, whatever its status, is returned for the caller to judge."""
        headers = self.headers(idempotency_key)
        body = None
        if json_body is not None:
            # By orjson (body_text), not aiohttp's json.dumps: a batch of a thousand records cost the event
            # loop about 9 ms a call that way. Thai goes as UTF-8, as application/json is.
            body = body_text(json_body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            async with self.http.request(
                method,
                self.url(path),
                params=params,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s),
                allow_redirects=False,
            ) as response:
                text = await response.text()
                return HttpAnswer(response.status, dict(response.headers), text)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise TransientError(
                f"{self.display_name} could not be reached: {type(exc).__name__}: {scrub_secrets(str(exc))}",
                system=self.name,
            ) from exc

    def message_of(self, answer: HttpAnswer) -> str:
        """The system's own words about a refusal; override when it wraps them (e.g. {"Message": ...})."""
        return scrub_secrets(answer.text[:MESSAGE_CHARS])

    def raise_for_status(self, answer: HttpAnswer) -> HttpAnswer:
        """`answer` when it is a success; else the error its status stands for."""
        kind = classify_http_status(answer.status)
        if kind is None:
            return answer
        text = f"{self.display_name} answered {answer.status}: {self.message_of(answer)}"
        if kind is TransientError:
            raise TransientError(text, retry_after=answer.retry_after, system=self.name)
        raise kind(text, system=self.name)

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        answer = self.raise_for_status(await self.request("GET", path, params=params))
        try:
            return answer.json()
        except PermanentError as exc:
            raise PermanentError(f"{self.display_name} {exc.message}", system=self.name) from None

    def external_id_of(self, answer: HttpAnswer) -> str | None:
        """The system's own id of the record a successful write made; override for the system's shape."""
        return None

    def result_for(self, answer: HttpAnswer) -> WriteResult:
        """One write's answer as its result; 401/403 raise `ConfigError`, since no other item of the batch
        can succeed either."""
        kind = classify_http_status(answer.status)
        if kind is None:
            try:
                return Delivered(external_id=self.external_id_of(answer))
            except Exception as exc:  # written, but we cannot tell its id: the same key replays the answer
                return Retryable(f"{self.display_name} answered {answer.status} with a body the plugin cannot read: "
                                 f"{type(exc).__name__}")
        message = f"{self.display_name} answered {answer.status}: {self.message_of(answer)}"
        if kind is ConfigError:
            what = "refused the credentials" if answer.status in (401, 403) else "answered outside the API (check base_url)"
            raise ConfigError(f"{self.display_name} {what} ({answer.status})", system=self.name)
        if kind is TransientError:
            return Retryable(message, retry_after=answer.retry_after)
        return Rejected(message)

    async def send(self, method: str, path: str, item: WriteItem, json_body: Any = None) -> WriteResult:
        """Write one record under its delivery key; unreachable is Retryable like a 503."""
        try:
            answer = await self.request(
                method, path, json_body=item.native if json_body is None else json_body, idempotency_key=item.delivery_key
            )
        except TransientError as exc:
            return Retryable(exc.message, exc.retry_after)
        return self.result_for(answer)

    async def write_each(
        self, batch: list[WriteItem], write_one: Callable[[WriteItem], Awaitable[WriteResult]], concurrency: int = 8
    ) -> list[WriteResult]:
        """`write_one` for every item, a few at a time, results in batch order."""
        gate = asyncio.Semaphore(concurrency)

        async def one(item: WriteItem) -> WriteResult:
            async with gate:
                return await write_one(item)

        return list(await asyncio.gather(*(one(item) for item in batch)))

    async def pages(
        self,
        path: str,
        *,
        cursor: str | None,
        cursor_param: str,
        params: dict[str, str] | None = None,
        records_of: Callable[[Any], list[dict[str, Any]]],
        next_cursor_of: Callable[[Any], str | None],
        more_of: Callable[[Any], bool],
        max_pages: int = 100,
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str | None, bool]]:
        """Follow a cursor-paged GET: yields (records, next cursor, more) per page, at most `max_pages`
        per call so that one pull cannot run for ever (the scheduler resumes from the saved cursor)."""
        for _ in range(max_pages):
            body = await self.get_json(path, {**(params or {}), cursor_param: cursor or "0"})
            if not isinstance(body, dict):
                raise PermanentError(f"{self.display_name} answered a page that is not an object", system=self.name)
            records, next_cursor, more = records_of(body), next_cursor_of(body) or cursor, more_of(body)
            yield records, next_cursor, more
            if not more or next_cursor == cursor:
                return
            cursor = next_cursor

    async def read_pages(
        self,
        path: str,
        *,
        cursor: str | None,
        cursor_param: str,
        next_key: str,
        to_record: Callable[[int, Any], NativeRecord],
        params: dict[str, str] | None = None,
        records_key: str = "records",
        more_key: str = "more",
        max_pages: int = 100,
    ) -> AsyncIterator[ReadBatch]:
        """`pages` over the common answer `{records_key: [...], next_key: cursor, more_key: bool}`, each
        page one `ReadBatch` of `to_record(position on the page, item)`: a `read` in one call."""
        pages = self.pages(
            path,
            cursor=cursor,
            cursor_param=cursor_param,
            params=params,
            records_of=lambda body: body.get(records_key) or [],  # an item that is no object is to_record's to refuse
            next_cursor_of=lambda body: str(body[next_key]) if body.get(next_key) else None,
            more_of=lambda body: bool(body.get(more_key)),
            max_pages=max_pages,
        )
        async for rows, next_cursor, more in pages:
            records = [to_record(position, row) for position, row in enumerate(rows, start=1)]
            yield ReadBatch(records=records, next_cursor=next_cursor or "0", more=more)

    async def probe(self, path: str, params: dict[str, str] | None = None) -> Health:
        """A health check by one light GET: refused credentials and unreachable systems are reported,
        never raised."""
        try:
            answer = await self.request("GET", path, params=params)
        except TransientError as exc:
            return Health(ok=False, detail=exc.message)
        if answer.status in (401, 403):
            return Health(ok=False, detail=f"{self.display_name} refused the credentials ({answer.status})")
        return Health(ok=200 <= answer.status < 300, detail=f"GET {path} answered {answer.status}")
