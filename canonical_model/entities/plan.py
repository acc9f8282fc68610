"""Local development plans (แผนพัฒนาท้องถิ่น) and their projects (ผ.02 rows)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from canonical_model.codes import DopaSubdistrict, EgpProjectNumber
from canonical_model.entities.common import CanonicalId, Latitude, Longitude, YearAmount
from canonical_model.envelope import CanonicalModel, Entity
from canonical_model.fiscal_year import FiscalYear
from canonical_model.rejection import Rejection
from canonical_model.thai_dates import ThaiDate
from canonical_model.thai_text import IdentifierText, LabelText, Title, TitleText, ThaiText


class Revision(CanonicalModel):
    kind: Literal["original", "addition", "change", "correction"] = "original"
    number: int = Field(default=0, ge=0)
    reason: ThaiText | None = None
    approved_on: ThaiDate | None = None


class DevelopmentPlan(Entity):
    entity_type: Literal["development_plan"] = "development_plan"
    title: TitleText | None = None
    plan_kind: Literal["five_year", "action_plan"]
    period_start: FiscalYear
    period_end: FiscalYear
    revision: Revision = Field(default_factory=Revision)
    grouping: Literal["strategy", "issue"] = "strategy"

    @model_validator(mode="after")
    def _period_in_order(self) -> DevelopmentPlan:
        if self.period_end < self.period_start:
            raise Rejection(
                "plan.period_reversed",
                "period_end must not be before period_start",
                f"{self.period_start}-{self.period_end}",
                "period_end",
            ).as_pydantic_error()
        return self


class ProjectLocation(CanonicalModel):
    subdistrict_code: DopaSubdistrict | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None


class ProjectLinks(CanonicalModel):
    """The linkage chain a project must cite, from the national strategy down to the local programme."""

    national_strategy: int | None = Field(default=None, ge=1, le=6)
    nesdp_milestone: int | None = Field(default=None, ge=1, le=13)
    province_issue: LabelText | None = None
    lao_strategy: LabelText | None = None
    local_programme: LabelText | None = None


class PlanProject(Entity):
    entity_type: Literal["plan_project"] = "plan_project"
    plan_id: CanonicalId | None = None
    project_code: IdentifierText | None = None
    title: Title
    objective: ThaiText | None = None
    target: ThaiText | None = None
    kpi: ThaiText | None = None
    expected_result: ThaiText | None = None
    responsible_unit: LabelText | None = None
    budget_by_year: list[YearAmount] = Field(default_factory=list)
    funding_source: LabelText | None = None
    location: ProjectLocation | None = None
    links: ProjectLinks = Field(default_factory=ProjectLinks)
    # The edition of the local development plan the project was last written in (ฉบับแรก, เพิ่มเติม,
    # เปลี่ยนแปลง, แก้ไข ครั้งที่ N): a later edition's row is a new version of the same project.
    revision: Revision | None = None
    # The e-GP project number of the procurement that carries the project out, once there is one (e-Plan's
    # follow-up records it): the key by which the procurement, and through it its contracts, find the plan.
    egp_project_number: EgpProjectNumber | None = None

    @model_validator(mode="after")
    def _one_amount_per_year(self) -> PlanProject:
        years = [item.fiscal_year for item in self.budget_by_year]
        duplicates = sorted({year for year in years if years.count(year) > 1})
        if duplicates:
            raise Rejection(
                "plan_project.duplicate_year",
                "budget_by_year has more than one amount for the same fiscal year",
                duplicates,
                "budget_by_year",
            ).as_pydantic_error()
        return self
