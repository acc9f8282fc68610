"""Map-in of a ผ.02 row: the declarative mapping, then the PlanProject model, both reported per native field."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from plugins.eplan import headers as h
from prasan import MappedRecord, Mapping, MappingError, MappingProblem, NativeRecord
from prasan.canonical import PlanProject, normalize_text, rejections_from_validation_error, to_arabic_digits

MAPPING_FILE = Path(__file__).parent / "mapping.yaml"
SYSTEM = "eplan"
ENTITY = "plan_project"


def stable_key(org_code: str, title: str) -> str:
    """Without รหัสโครงการ, the same project re-posted must find the same entity: hash what names it."""
    text = to_arabic_digits(normalize_text(title)).casefold()
    return "h:" + hashlib.sha256(f"{org_code}\x1f{text}".encode("utf-8")).hexdigest()[:32]


def _native_field(mapping: Mapping, canonical: str | None, body: dict[str, Any]) -> str | None:
    """The Thai header a canonical field came from, so the sender sees their own column name."""
    if not canonical:
        return None
    parts = canonical.split(".")
    if parts[0] == "budget_by_year" and len(parts) > 1 and parts[1].isdigit():
        items = body.get("budget_by_year") or []
        index = int(parts[1])
        if index < len(items):
            return f"{h.BUDGET_PREFIX}{items[index].get('fiscal_year')}"
    for rule in mapping.spec.fields:
        if rule.source and (rule.target == canonical or canonical.startswith(rule.target + ".")):
            return rule.source
    return canonical


def _with_budget_columns(mapping: Mapping, exc: MappingError) -> MappingError:
    """A refused year in a budget header is reported by the engine against the unpivot pattern; name
    the header itself (the engine passes it as the value), since that is what the sender typed."""
    patterns = {rule.unpivot.pattern for rule in mapping.spec.fields if rule.unpivot and rule.unpivot.pattern}
    problems = [
        MappingProblem(p.line, p.target, p.value, p.value, p.rule, p.reason)
        if p.source_field in patterns and isinstance(p.value, str)
        else p
        for p in exc.problems
    ]
    return MappingError(problems, mapping=exc.mapping, system=SYSTEM, entity_type=ENTITY)


def validate(mapping: Mapping, body: dict[str, Any]) -> PlanProject:
    try:
        return PlanProject.model_validate(body)
    except ValidationError as exc:
        problems = []
        for rej in rejections_from_validation_error(exc):
            native = _native_field(mapping, rej.field, body)
            problems.append(MappingProblem(0, rej.field or "", native, rej.value, rej.rule, rej.reason))
        raise MappingError(problems, mapping=mapping.name, system=SYSTEM, entity_type=ENTITY) from None


def map_in(record: NativeRecord, mapping: Mapping) -> list[MappedRecord]:
    if record.problems:
        raise MappingError(
            [MappingProblem(0, "", p.field, p.value, p.rule, p.reason) for p in record.problems],
            system=SYSTEM,
            entity_type=ENTITY,
            record_key=str(record.row),
        )
    try:
        body = mapping.map_in(record.data)
    except MappingError as exc:
        raise _with_budget_columns(mapping, exc) from None
    project = validate(mapping, body)
    # e-Plan numbers projects within one organisation, so two organisations may use the same code.
    external_id = (
        f"{project.org_code}:{project.project_code}" if project.project_code else stable_key(project.org_code, project.title)
    )
    return [
        MappedRecord(
            entity_type=ENTITY, external_id=external_id, payload=project, mapping_version=str(mapping.version)
        )
    ]
