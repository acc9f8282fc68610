"""bbgfproject rows in as budget lines, budget requests out; every refusal names the native field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from prasan import MappedRecord, Mapping, MappingError, MappingProblem, NativeRecord, Rejection
from prasan.canonical import BudgetLine, BudgetRequest, rejections_from_validation_error

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


def is_request(data: dict[str, Any]) -> bool:
    """A request read back from the channel (an approval, say) rather than a bbgfproject row."""
    return "request_no" in data


def map_in_request(record: NativeRecord, mapping: Mapping) -> list[MappedRecord]:
    body = mapping.map_in(record.data)
    try:
        request = BudgetRequest.model_validate(body)
    except ValidationError as exc:
        problems = [
            MappingProblem(0, rej.field or "", _source_of_request(mapping, rej.field), rej.value, rej.rule, rej.reason)
            for rej in rejections_from_validation_error(exc)
        ]
        raise MappingError(problems, mapping=mapping.name, system=SYSTEM, entity_type="budget_request") from None
    request_no = str(record.data["request_no"]).strip()
    if not request_no:
        problem = MappingProblem(0, "", "request_no", record.data["request_no"], "ebudget.request_no", "request_no is empty")
        raise MappingError([problem], system=SYSTEM, entity_type="budget_request")
    return [MappedRecord("budget_request", request_no, request, mapping_version=str(mapping.version))]


def _source_of_request(mapping: Mapping, canonical: str | None) -> str | None:
    top = (canonical or "").split(".")[0]
    return next((f.source for f in mapping.spec.fields or [] if f.target == top and isinstance(f.source, str)), canonical)


def grant_request_of(project: dict[str, Any], fiscal_year: int | None) -> dict[str, Any]:
    """The local-grant request a plan project makes: the amount it plans for the year asked for (by default
    the first year it plans money in), of the grant its funding source names."""
    planned = {int(y["fiscal_year"]): y["amount"] for y in project.get("budget_by_year") or []}
    year = fiscal_year or min((y for y, amount in planned.items() if Decimal(str(amount)) > 0), default=None)
    if year is None or year not in planned:
        wanted = f"fiscal year {fiscal_year}" if fiscal_year else "any year"
        raise _refused("budget_by_year", project.get("budget_by_year"), "ebudget.no_amount",
                       f"the project plans no amount for {wanted}; a grant request needs one")  # fmt: skip
    kind = GRANT_KINDS.get(str(project.get("funding_source") or ""))
    if kind is None:
        raise _refused("funding_source", project.get("funding_source"), "ebudget.not_a_grant",
                       f"only projects funded by {' or '.join(GRANT_KINDS)} are requested from the Budget Bureau")  # fmt: skip
    return {
        "entity_type": "budget_request", "org_code": project["org_code"], "fiscal_year": year,
        "amount": planned[year], "grant_kind": kind, "budget_type": None, "status": "submitted",
        "approved_amount": None, "project_id": None, "budget_code": None,
    }  # fmt: skip


# Funding sources (as e-Plan and SOLA name them) that are asked for through the request channel.
GRANT_KINDS = {"เงินอุดหนุนเฉพาะกิจ": "specific", "เงินอุดหนุนทั่วไป": "general"}


def _refused(field: str, value: Any, rule: str, reason: str) -> MappingError:
    return MappingError([MappingProblem(0, field, None, value, rule, reason)], system=SYSTEM, entity_type="plan_project")


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


def map_out(mapping: Mapping, entity_type: str, entity: dict[str, Any], request_year: int | None = None) -> dict[str, Any]:
    if entity_type == "plan_project":
        entity = grant_request_of(entity, request_year)
    elif entity_type != "budget_request":
        raise MappingError(
            [MappingProblem(0, "entity_type", None, entity_type, "ebudget.entity_type",
                            f"the request channel takes budget_request or plan_project, not {entity_type!r}")],
            system=SYSTEM, entity_type=entity_type,
        )  # fmt: skip
    return mapping.map_out(entity)
