"""Amounts that disagree across systems: the reconciliation rules, declared in `config/reconciliation.yaml`.

Each project-year of the area ledger (core/ledger.py) is judged when it is projected, and the rules it
breaks are kept with it as bits of `ledger_projects.flags` (a partial index covers the flagged rows, so
lists and the metric never read the others). A rule that depends on the date (a project still without a
budget once its fiscal year has started) is kept as its condition and judged against the date when read.
Records that belong to no project are judged from the unlinked list (decision 0012).

A change of thresholds applies to rows projected from then on; `prasan projections rebuild` re-judges all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from canonical_model.fiscal_year import fiscal_year_of
from core.errors import ConfigError
from core.ledger import YearRow


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    tolerance_pct: Decimal = Field(Decimal("0"), ge=0, le=100, description="how far above is still accepted, in percent")


class Grace(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    grace_days: int = Field(0, ge=0, le=366, description="days after the fiscal year starts before it is flagged")


class Toggle(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True


class ReconciliationRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_above_budget: Threshold = Field(default_factory=Threshold)
    disbursed_above_contract: Threshold = Field(default_factory=Threshold)
    procurement_without_budget: Toggle = Field(default_factory=Toggle)
    project_without_budget: Grace = Field(default_factory=Grace)
    budget_line_without_project: Toggle = Field(default_factory=Toggle)

    @classmethod
    def from_file(cls, path: Path) -> ReconciliationRules:
        if not path.is_file():
            return cls()
        try:
            return cls.model_validate((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("rules") or {})
        except (ValidationError, yaml.YAMLError, AttributeError) as exc:
            raise ConfigError(f"{path.name}: {exc}") from exc

    def flags_of(self, row: YearRow) -> int:
        """The bits of the rules this project-year breaks (the date rule: its condition only)."""
        a = row.amounts
        bits = 0
        if self.contract_above_budget.enabled and a["budgeted"] > 0 and a["contracted"] > _above(a["budgeted"], self.contract_above_budget):
            bits |= CONTRACT_ABOVE_BUDGET.bit
        if self.disbursed_above_contract.enabled and a["contracted"] > 0 and a["disbursed"] > _above(a["contracted"], self.disbursed_above_contract):
            bits |= DISBURSED_ABOVE_CONTRACT.bit
        if self.procurement_without_budget.enabled and a["procured"] > 0 and a["budgeted"] == 0:
            bits |= PROCUREMENT_WITHOUT_BUDGET.bit
        if self.project_without_budget.enabled and a["planned"] > 0 and a["budgeted"] == 0:
            bits |= PROJECT_WITHOUT_BUDGET.bit
        return bits

    def started_years(self, today: date) -> int:
        """The latest fiscal year that has started `grace_days` before `today`: rows of this year or earlier
        that plan money and have no budget are flagged."""
        return fiscal_year_of(today - timedelta(days=self.project_without_budget.grace_days))


def _above(amount: Decimal, rule: Threshold) -> Decimal:
    return amount * (1 + rule.tolerance_pct / 100)


@dataclass(frozen=True)
class Rule:
    name: str
    bit: int
    description: str


CONTRACT_ABOVE_BUDGET = Rule("contract_above_budget", 1, "สัญญาสูงกว่างบประมาณ: the contracts exceed the project's budget")
DISBURSED_ABOVE_CONTRACT = Rule("disbursed_above_contract", 2, "เบิกจ่ายเกินวงเงินสัญญา: more was paid than contracted")
PROCUREMENT_WITHOUT_BUDGET = Rule("procurement_without_budget", 4, "จัดซื้อจัดจ้างโดยไม่มีงบประมาณ: procured with no budget line")
PROJECT_WITHOUT_BUDGET = Rule("project_without_budget", 8, "ยังไม่ได้ตั้งงบประมาณ: the fiscal year started and the project has no budget")
BUDGET_LINE_WITHOUT_PROJECT = Rule("budget_line_without_project", 0, "งบประมาณที่ไม่มีโครงการในแผน: a local budget line no plan project owns")
PROJECT_RULES = (CONTRACT_ABOVE_BUDGET, DISBURSED_ABOVE_CONTRACT, PROCUREMENT_WITHOUT_BUDGET, PROJECT_WITHOUT_BUDGET)
RULES = {rule.name: rule for rule in (*PROJECT_RULES, BUDGET_LINE_WITHOUT_PROJECT)}


def names(bits: int, fiscal_year: int, started_through: int) -> list[str]:
    """The rules a stored flag value stands for, the date rule judged against the years started."""
    return [
        rule.name for rule in PROJECT_RULES
        if bits & rule.bit and (rule is not PROJECT_WITHOUT_BUDGET or fiscal_year <= started_through)
    ]  # fmt: skip
