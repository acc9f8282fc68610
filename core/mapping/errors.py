"""What goes wrong while mapping: problems in one record, and problems in the mapping file itself.

A record is checked to the end before it is refused, so that the person who typed it sees every bad
field at once. Each problem points two ways: to the line of the YAML rule (for whoever maintains the
mapping) and to the native field (for whoever sent the record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from canonical_model.rejection import Rejection
from core.errors import ConfigError, PrasanError


@dataclass(frozen=True)
class MappingProblem:
    line: int
    target: str
    source_field: str | None
    value: Any
    rule: str
    reason: str

    def __str__(self) -> str:
        where = self.source_field or "-"
        return f"line {self.line}: {where} -> {self.target}: {self.reason} (rule {self.rule}, value {self.value!r})"

    def as_rejection(self) -> Rejection:
        # The native name is what the sender typed; the canonical target is the fallback for rules
        # that have no source (constants, unpivot with no matching column).
        return Rejection(self.rule, self.reason, self.value, self.source_field or self.target)


class MappingError(PrasanError):
    """A record could not be mapped; `problems` lists every reason, not only the first."""

    def __init__(self, problems: list[MappingProblem], *, mapping: str | None = None, **context: Any) -> None:
        self.problems = list(problems)
        self.mapping = mapping
        head = f"mapping {mapping}: " if mapping else ""
        summary = "; ".join(str(p) for p in self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{head}{len(self.problems)} problem(s): {summary}{more}", **context)

    def as_rejections(self) -> list[Rejection]:
        return [problem.as_rejection() for problem in self.problems]

    @property
    def rules(self) -> list[str]:
        return [problem.rule for problem in self.problems]


class MappingSpecError(ConfigError):
    """The mapping file itself is wrong; raised at load, never while mapping records."""

    def __init__(self, problems: list[MappingProblem], *, source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(f"line {p.line}: {p.reason}" for p in self.problems))

    @property
    def line(self) -> int:
        return self.problems[0].line if self.problems else 0
