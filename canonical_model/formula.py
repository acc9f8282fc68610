"""Text that a spreadsheet would run as a formula (CSV / formula injection).

A cell starting with `=`, `+`, `-` or `@` (also after a leading tab or carriage return) is read by Excel,
LibreOffice and Google Sheets as a formula: `=HYPERLINK(...)` or `=cmd|...` in a project title would run
on the computer of whoever opens an export. The hub treats such text two ways:

- where the hub WRITES a spreadsheet (CSV or XLSX exports, reports), `neutralise_formula` prefixes the
  text with an apostrophe, OWASP's advice: the sheet shows the text, and runs nothing;
- where the hub FORWARDS data to another system, the value is not altered (it is the producer's data and
  the destination's own rules apply); `formula_like` flags it, and `formula_warnings` lists the fields of
  an accepted record that look like formulas, as warnings with the rule `text.formula_like`.

A number is not a formula: `-1,000`, `+5`, `-12.50` (amounts, with or without thousands separators,
Thai digits included) are neither flagged nor changed, and neither is a lone `-` (a blank in Thai tables).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from canonical_model.rejection import preview

FORMULA_LIKE_RULE = "text.formula_like"
# The characters a spreadsheet starts a formula with; tab and carriage return before them are skipped
# by some spreadsheet programs when a CSV is opened, so they do not make the text safe.
_FORMULA_START = re.compile(r"[\t\r]*[=+\-@]")
# A signed number as people write amounts: optional sign, digits (Arabic or Thai) with optional
# thousands separators, an optional fraction; a spreadsheet reads these as numbers, not formulas.
_NUMBER = re.compile(r"[+\-]?(?:[0-9๐-๙]{1,3}(?:,[0-9๐-๙]{3})+|[0-9๐-๙]+)(?:\.[0-9๐-๙]+)?%?")


def formula_like(text: Any) -> bool:
    """True when a spreadsheet opening `text` as a cell would run it as a formula."""
    if not isinstance(text, str) or not _FORMULA_START.match(text):
        return False
    body = text.strip()
    if body in ("-", "+", "--"):
        return False
    return not _NUMBER.fullmatch(body)


def neutralise_formula(text: str) -> str:
    """The text as a spreadsheet cell may safely hold it: formula-like text gets a leading apostrophe
    (shown as text, not run); anything else, numbers included, is returned unchanged."""
    return "'" + text if formula_like(text) else text


@dataclass(frozen=True)
class TextWarning:
    """Something worth telling about an accepted value without refusing it."""

    rule: str
    reason: str
    field: str
    value: Any

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value, "rule": self.rule, "reason": self.reason}


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}")


def formula_warnings(content: Mapping[str, Any]) -> list[TextWarning]:
    """Warnings `text.formula_like` for every text in a record (a canonical entity's `content()` or a
    native record) that a spreadsheet would run as a formula, with its dotted field path. Amounts are
    numbers (a canonical amount is a decimal string such as "-1000.00") and are never flagged."""
    return [
        TextWarning(
            FORMULA_LIKE_RULE,
            "starts like a spreadsheet formula (=, +, -, @); forwarded unchanged, but a spreadsheet "
            "opening it would run it",
            field,
            preview(text, 100),
        )
        for field, text in _strings(content, "")
        if formula_like(text)
    ]
