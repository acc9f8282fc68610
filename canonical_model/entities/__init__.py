"""The nine canonical entity types, one module per family."""

from canonical_model.entities.budget import BudgetLine, BudgetRequest
from canonical_model.entities.common import ClassificationRef, YearAmount
from canonical_model.entities.execution import Disbursement, ProgressReport
from canonical_model.entities.organization import Organization
from canonical_model.entities.plan import DevelopmentPlan, PlanProject, ProjectLinks, ProjectLocation, Revision
from canonical_model.entities.procurement import Contract, Procurement, Winner

__all__ = [
    "BudgetLine",
    "BudgetRequest",
    "ClassificationRef",
    "Contract",
    "DevelopmentPlan",
    "Disbursement",
    "Organization",
    "PlanProject",
    "ProgressReport",
    "Procurement",
    "ProjectLinks",
    "ProjectLocation",
    "Revision",
    "Winner",
    "YearAmount",
]
