"""bbgfproject rows in as budget lines, budget requests out; every refusal names the native field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from prasan import MappedRecord, Mapping, MappingError, MappingProblem, NativeRecord, Rejection
from prasan.canonical import BudgetLine, rejections_from_validation_error

SYSTEM = "ebudget"
HERE = Path(__file__).parent
LINE_MAPPING = HERE / "mapping_budget_line.yaml"
REQUEST_MAPPING = HERE / "mapping_budget_request.yaml"
# Where a classification item's fields came from, by the item's level, for rejections the model makes.
_CLASSIFICATION_SOURCES = {
    ("ministry", "code"): "min_code", ("ministry", "name"): "min",
    ("budgetary_unit", "code"): "agc_code", ("budgetary_unit", "name"): "agc",
    ("budget_plan", "code"): "bb_code", ("budget_plan", "name"): "plan_name",
    ("category_lv1", "code"): "objc_level1_name", ("category_lv1", "name"): "objc_level1_name",
}  # fmt: skip
_SOURCES = {"fiscal_year": "bb_year", "amount": "amount", "description": "name", "org_code": "agc_code"}


def _native_field(canonical: str | None, body: dict[str, Any]) -> str | None:
    """The bbgfproject field a canonical field came from, so the sender sees their own field name."""
    parts = (canonical or "").split(".")
    if parts[0] == "classification" and len(parts) == 3 and parts[1].isdigit():
        items = body.get("classification") or []
        level = items[int(parts[1])].get("level") if int(parts[1]) < len(items) else None
        return _CLASSIFICATION_SOURCES.get((str(level), parts[2]), canonical)
    return _SOURCES.get(parts[0], canonical)


def _problem(rej: Rejection, body: dict[str, Any], native: dict[str, Any]) -> MappingProblem:
    field = _native_field(rej.field, body)
    # The sender should see what they sent, not what normalising made of it (a name of only quotes and tabs).
    value = native[field] if field in native else rej.value
    return MappingProblem(0, rej.field or "", field, value, rej.rule, rej.reason)


def _validated(mapping: Mapping, body: dict[str, Any], native: dict[str, Any]) -> BudgetLine:
    try:
        return BudgetLine.model_validate(body)
    except ValidationError as exc:
        problems = [_problem(rej, body, native) for rej in rejections_from_validation_error(exc)]
        raise MappingError(problems, mapping=mapping.name, system=SYSTEM, entity_type="budget_line") from None


def map_in(record: NativeRecord, mapping: Mapping) -> list[MappedRecord]:
    if record.problems:
        raise MappingError(
            [MappingProblem(0, "", p.field, p.value, p.rule, p.reason) for p in record.problems],
            system=SYSTEM, entity_type="budget_line", record_key=str(record.row),
        )  # fmt: skip
    body = mapping.map_in(record.data)
    # The mapping builds the id where the model keeps cross-references; the hub records it from
    # external_id instead, so it leaves the payload here.
    external_id = body.pop("sources")[0]["external_id"]
    line = _validated(mapping, body, record.data)
    return [MappedRecord("budget_line", external_id, line, mapping_version=str(mapping.version))]


def map_out(mapping: Mapping, entity_type: str, entity: dict[str, Any]) -> dict[str, Any]:
    if entity_type != "budget_request":
        raise MappingError(
            [MappingProblem(0, "entity_type", None, entity_type, "ebudget.entity_type",
                            f"the request channel takes budget_request, not {entity_type!r}")],
            system=SYSTEM, entity_type=entity_type,
        )  # fmt: skip
    return mapping.map_out(entity)
