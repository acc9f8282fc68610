"""Value types for admin API inputs: text that every database can store, timestamps that stay in range.

Checked here rather than trusted to the store: a NUL character or a lone surrogate in a query string
is something PostgreSQL refuses with an error, and a far-off time zone can overflow on conversion.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints


def _storable(text: str) -> str:
    if "\x00" in text:
        raise ValueError("text may not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text may not contain unpaired surrogates") from None
    return text


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("timestamp out of range") from None


Text = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_storable)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"\S"), AfterValidator(_storable)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_storable)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_storable)]
UtcTime = Annotated[datetime, AfterValidator(_utc)]
Id32 = Annotated[int, Field(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Field(ge=1, le=1000)]
MAX_OFFSET = 1_000_000
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
# A Buddhist-Era fiscal year as a query asks for it; wide enough for any year the data holds.
FiscalYear = Annotated[int, Field(ge=2400, le=2700, description="Buddhist-Era fiscal year")]
