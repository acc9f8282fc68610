"""The one way a value is refused: which field, which value, which rule, and why in words.

Parsers raise `Rejection` without knowing the field they were called for; whoever knows the field
(the pydantic model, the mapping engine) fills it in with `Rejection.at(field)`. The `rule` is a short
stable identifier (``money.exponent``, ``date.impossible``) that tests, metrics and operators can
group by; `reason` is the sentence a person reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def rejections_from_validation_error(error: Any) -> list[Rejection]:
    """Turn a pydantic ValidationError into Rejections whose field is the dotted location."""
    found: list[Rejection] = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item.get("loc", ())) or None
        found.append(Rejection(str(item.get("type")), str(item.get("msg")), item.get("input"), field))
    return found
