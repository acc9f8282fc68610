"""The one way a value is refused: which field, which value, which rule, and why in words.

Parsers raise `Rejection` without knowing the field they were called for; whoever knows the field
(the pydantic model, the mapping engine) fills it in with `Rejection.at(field)`. The `rule` is a short
stable identifier (``money.exponent``, ``date.impossible``) that tests, metrics and operators can
group by; `reason` is the sentence a person reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic_core import PydanticCustomError


@dataclass(frozen=True)
class Rejection(ValueError):
    rule: str
    reason: str
    value: Any = None
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{where}{self.reason} (rule {self.rule}, value {self.value!r})"

    def at(self, field: str) -> Rejection:
        """The same rejection, placed on a field (the innermost name is kept when already set)."""
        if self.field and self.field != field and not self.field.startswith(field + "."):
            return Rejection(self.rule, self.reason, self.value, f"{field}.{self.field}")
        return Rejection(self.rule, self.reason, self.value, field)

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "value": _jsonable(self.value), "rule": self.rule, "reason": self.reason}

    def as_pydantic_error(self) -> PydanticCustomError:
        """For use inside pydantic validators, so that the rule survives as the error `type`."""
        return PydanticCustomError(self.rule, self.reason, {"value": _jsonable(self.value)})


T = TypeVar("T")


def pydantic_check(check: Callable[[Any], T]) -> Callable[[Any], T]:
    """`check` as a pydantic validator: the Rejection it raises is the validation error, its rule kept."""

    def validate(value: Any) -> T:
        try:
            return check(value)
        except Rejection as rejection:
            raise rejection.as_pydantic_error() from None

    return validate


# A rejected value is echoed in answers, the inbox and logs; a 10-million-character value must not be.
PREVIEW_CHARS = 200
# Invisible, bidirectional and control characters are shown as escapes, so that a rejected value cannot
# reorder or hide the text of a message or a screen it is shown on (tab, line feed, CR are kept).
_UNSHOWABLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
                         "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # fmt: skip


def preview(value: Any, limit: int = PREVIEW_CHARS) -> Any:
    """The value as shown in a rejection: long text cut to `limit` characters, saying how long it was,
    and hidden characters written as escapes (`\\u202e`)."""
    if not isinstance(value, str):
        return value
    if len(value) > limit:
        value = f"{value[:limit]}… ({len(value):,} characters)"
    return _UNSHOWABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, bool)):
        return preview(value)
    return preview(str(value))


def rejections_from_validation_error(error: Any) -> list[Rejection]:
    """Turn a pydantic ValidationError into Rejections whose field is the dotted location."""
    found: list[Rejection] = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item.get("loc", ())) or None
        found.append(Rejection(str(item.get("type")), str(item.get("msg")), preview(item.get("input")), field))
    return found
