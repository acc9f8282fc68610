"""Map-in of GF-MIS records: a disbursement line, or a budget status row of NFMA46, through its
declarative mapping and then the canonical model, every problem named by its native field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from plugins.gfmis import headers as h
from plugins.gfmis import nfma46
from prasan import MappedRecord, Mapping, MappingError, MappingProblem, NativeRecord, Rejection
from prasan.canonical import (
    BudgetLine,
    Disbursement,
    fiscal_year_of,
    parse_money,
    rejections_from_validation_error,
    to_arabic_digits,
)

SYSTEM = "gfmis"
HERE = Path(__file__).parent
MAPPING_FILES = {
    "disbursement": HERE / "mapping_disbursement.yaml",
    "budget_line": HERE / "mapping_budget_status.yaml",
}
Mappings = dict[str, Mapping]


def _problem(rejection: Rejection, field: str | None) -> MappingProblem:
    return MappingProblem(0, field or "", field, rejection.value, rejection.rule, rejection.reason)


def _native_field(mapping: Mapping, canonical: str | None) -> str | None:
    """The native field a canonical field came from, so the sender sees their own name."""
    if not canonical:
        return None
    for rule in mapping.spec.fields:
        if rule.source and (rule.target == canonical or canonical.startswith(rule.target.split("[")[0] + ".")):
            return rule.source
    return canonical


def _validated(mapping: Mapping, model: type[BaseModel], body: dict[str, Any], entity_type: str) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = [_problem(rej, _native_field(mapping, rej.field)) for rej in rejections_from_validation_error(exc)]
        raise MappingError(problems, mapping=mapping.name, system=SYSTEM, entity_type=entity_type) from None


def _mapped(mapping: Mapping, data: dict[str, Any], extra: list[MappingProblem], entity_type: str) -> dict[str, Any]:
    body, problems = mapping.try_map_in(data)
    if problems or extra:
        raise MappingError([*problems, *extra], mapping=mapping.name, system=SYSTEM, entity_type=entity_type)
    return body


def _line_number(data: dict[str, Any]) -> tuple[str | None, list[MappingProblem]]:
    """SAP writes the line as 001, JSON as 1: the same line, so compared as a number."""
    raw = data.get(h.LINE)
    if raw in (None, "", "-"):
        return None, []
    text = to_arabic_digits(str(raw)).strip()
    if not text.isdigit():
        rej = Rejection("gfmis.line_number", "the line of a document is a whole number such as 001", raw)
        return None, [_problem(rej, h.LINE)]
    return str(int(text)), []


def map_disbursement(mapping: Mapping, record: NativeRecord) -> MappedRecord:
    line, problems = _line_number(record.data)
    body = _mapped(mapping, record.data, problems, "disbursement")
    line_item = _validated(mapping, Disbursement, body, "disbursement")
    # SAP numbers documents per agency and posting year; a carried-over fund pays under a later year.
    key = f"{line_item.org_code}:{fiscal_year_of(line_item.paid_on)}:{line_item.document_number}"
    return MappedRecord(
        entity_type="disbursement",
        external_id=f"{key}:{line}" if line else key,
        payload=line_item,
        mapping_version=str(mapping.version),
    )


def _balance_problems(data: dict[str, Any]) -> list[MappingProblem]:
    """PO, เบิกจ่าย and คงเหลือ have no canonical field, but they must add up with งบสุทธิ: a row that
    does not was read from the wrong columns, or typed wrong, and its net budget cannot be trusted."""
    amounts, problems = {}, []
    for name, signed in ((nfma46.NET, False), (nfma46.PO, False), (nfma46.PAID, False), (nfma46.LEFT, True)):
        try:
            amounts[name] = parse_money(data.get(name), allow_negative=signed)
        except Rejection as rej:
            if name != nfma46.NET:  # the mapping reports งบสุทธิ itself
                problems.append(_problem(rej, name))
    if not problems and len(amounts) == 4:
        expected = amounts[nfma46.NET] - amounts[nfma46.PO] - amounts[nfma46.PAID]
        if amounts[nfma46.LEFT] != expected:
            rej = Rejection(
                "gfmis.nfma46_balance",
                f"คงเหลือ must be งบสุทธิ - PO - เบิกจ่าย = {expected}",
                data.get(nfma46.LEFT),
            )
            problems.append(_problem(rej, nfma46.LEFT))
    return problems


def map_budget_status(mapping: Mapping, record: NativeRecord) -> MappedRecord:
    body = _mapped(mapping, record.data, _balance_problems(record.data), "budget_line")
    line = _validated(mapping, BudgetLine, body, "budget_line")
    code = line.classification[0].code
    return MappedRecord(
        entity_type="budget_line",
        external_id=f"{line.org_code}:{line.fiscal_year}:{code}",
        payload=line,
        mapping_version=str(mapping.version),
    )


def map_in(record: NativeRecord, mappings: Mappings) -> list[MappedRecord]:
    if record.problems:
        raise MappingError(
            [MappingProblem(0, "", p.field, p.value, p.rule, p.reason) for p in record.problems],
            system=SYSTEM,
            record_key=str(record.row),
        )
    if nfma46.is_budget_status(record.data):
        return [map_budget_status(mappings["budget_line"], record)]
    return [map_disbursement(mappings["disbursement"], record)]
