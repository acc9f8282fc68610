"""Map-out to e-LAAS budget expense documents, for plan projects and for budget lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plugins.elaas.guids import default_guids
from prasan import Mapping, MappingError, MappingProblem, Rejection

SYSTEM = "elaas"
HERE = Path(__file__).parent
PROGRAMME_SCHEME = "local-classification"
MAPPING_FILES = {"plan_project": HERE / "mapping.yaml", "budget_line": HERE / "mapping_budget_line.yaml"}
Mappings = dict[str, Mapping]


def mapping_for(mappings: Mappings, entity_type: str) -> Mapping:
    if entity_type not in mappings:
        raise MappingError(
            [MappingProblem(0, "entity_type", None, entity_type, "elaas.entity_type",
                            f"e-LAAS takes plan_project or budget_line, not {entity_type!r}")],
            system=SYSTEM, entity_type=entity_type,
        )
    return mappings[entity_type]


def _problem(target: str, value: Any, rule: str, reason: str) -> MappingProblem:
    return MappingProblem(0, target, target, value, rule, reason)


def programme_guid(entity: dict[str, Any], reference: Any) -> str:
    """The แผนงาน a plan project cites, by name, as its e-LAAS GUID; never a default when it is unknown."""
    field = "links.local_programme"
    name = (entity.get("links") or {}).get("local_programme")
    if not name:
        raise MappingError(
            [_problem(field, name, "elaas.programme_missing",
                      "e-LAAS files every budget line under a แผนงาน; the project cites none")],
            system=SYSTEM, entity_type="plan_project",
        )
    code_list = reference.code_lists[PROGRAMME_SCHEME]
    try:
        node = code_list.by_name(name, level="programme")
        if node is None:
            raise Rejection("codelist.unknown_name", f"no แผนงาน of {PROGRAMME_SCHEME} is named {name!r}", name)
        return default_guids().guid_of(PROGRAMME_SCHEME, node.code)
    except Rejection as rej:
        raise MappingError([_problem(field, name, rej.rule, rej.reason)], system=SYSTEM,
                           entity_type="plan_project") from None


def map_out_plan_project(mappings: Mappings, entity: dict[str, Any], reference: Any) -> dict[str, Any]:
    native = mapping_for(mappings, "plan_project").map_out(entity)
    plan_guid = programme_guid(entity, reference)
    if not native.get("Lines"):
        raise MappingError(
            [_problem("budget_by_year", [], "elaas.no_amounts", "the project plans no amount for any year")],
            system=SYSTEM, entity_type="plan_project",
        )
    # A plan project knows its แผนงาน only; งาน and งบ are chosen when the ข้อบัญญัติ is drafted.
    native["Lines"] = [
        {**line, "PlanGUID": plan_guid, "Description": native.get("ProjectName", "")} for line in native["Lines"]
    ]
    native["DocumentType"] = "PlanProject"
    return native


def map_out_budget_line(mappings: Mappings, entity: dict[str, Any]) -> dict[str, Any]:
    native = mapping_for(mappings, "budget_line").map_out(entity)
    native["DocumentType"] = "BudgetLine"
    return native


def map_out(mappings: Mappings, entity_type: str, entity: dict[str, Any], reference: Any) -> dict[str, Any]:
    if entity_type == "plan_project":
        return map_out_plan_project(mappings, entity, reference)
    mapping_for(mappings, entity_type)  # refuses an entity type e-LAAS does not take
    return map_out_budget_line(mappings, entity)
