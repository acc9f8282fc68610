"""Map-in of an e-GP record, whichever of its three shapes it came in, into a procurement and its contracts.

A CSV row and a CGDCONTRACT project describe the same project and contracts in different shapes; both
are keyed the same way (the 11-digit project number; a contract by project number and its normalised
number, since contract numbers are only unique within one buying unit), so the hub sees one entity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from plugins.egp import headers as h
from plugins.egp import orgs
from prasan import MappedRecord, Mapping, MappingError, MappingProblem, NativeRecord, Rejection
from prasan.canonical import Contract, Procurement, rejections_from_validation_error

SYSTEM = "egp"
HERE = Path(__file__).parent
MAPPING_FILES = {
    "procurement_csv": HERE / "mapping_procurement_csv.yaml",
    "contract_csv": HERE / "mapping_contract_csv.yaml",
    "procurement_json": HERE / "mapping_procurement_json.yaml",
    "contract_json": HERE / "mapping_contract_json.yaml",
    "announcement": HERE / "mapping_announcement.yaml",
}
Mappings = dict[str, Mapping]
# A model-level check reports no field (pydantic gives the whole record as its location); name the one it is about.
_MODEL_RULE_FIELDS = {"contract.ends_before_signed": "ends_on"}


def kind_of(data: dict[str, Any]) -> str:
    if "project_id" in data or "contract" in data:
        return "json"
    if "link" in data or "pubDate" in data or "anounceType" in data:
        return "announcement"
    return "csv"


class Collector:
    """Every problem of one record, so the sender sees all of them at once, each under its own field."""

    def __init__(self) -> None:
        self.problems: list[MappingProblem] = []

    def mapped(self, mapping: Mapping, data: dict[str, Any], prefix: str = "") -> dict[str, Any] | None:
        body, problems = mapping.try_map_in(data)
        self.problems += [_prefixed(p, prefix) for p in problems]
        return None if problems else body

    def validated(
        self, model: type[BaseModel], body: dict[str, Any], mapping: Mapping, prefix: str = "", native: dict[str, str] | None = None
    ) -> Any:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            for rej in rejections_from_validation_error(exc):
                target, value = rej.field or "", rej.value
                if not target and rej.rule in _MODEL_RULE_FIELDS:
                    target = _MODEL_RULE_FIELDS[rej.rule]
                    value = str(body.get(target))
                field = (native or {}).get(target) or _source_of(mapping, target)
                self.problems.append(MappingProblem(0, target, prefix + field, value, rej.rule, rej.reason))
            return None

    def rejected(self, rej: Rejection, target: str = "org_code") -> None:
        self.problems.append(MappingProblem(0, target, rej.field, rej.value, rej.rule, rej.reason))


def _prefixed(problem: MappingProblem, prefix: str) -> MappingProblem:
    if not prefix:
        return problem
    field = prefix + (problem.source_field or problem.target)
    return MappingProblem(problem.line, problem.target, field, problem.value, problem.rule, problem.reason)


def _source_of(mapping: Mapping, canonical: str | None) -> str:
    """The native field a canonical one came from, so the sender sees their own column name."""
    for rule in mapping.spec.fields:
        if rule.source and canonical and (rule.target == canonical or canonical.startswith(rule.target + ".")):
            return rule.source
    return canonical or ""


def _org(c: Collector, reference: Any, code: Any, code_field: str, name: Any = None, name_field: str | None = None) -> str | None:
    try:
        return orgs.resolve(reference, code, code_field, name, name_field)
    except Rejection as rej:
        c.rejected(rej)
        return None


def _records(procurement: Procurement | None, contracts: list[Contract], version: str) -> list[MappedRecord]:
    out = []
    if procurement is not None:
        out.append(MappedRecord("procurement", str(procurement.egp_project_number), procurement, version))
    for contract in contracts:
        key = f"{procurement.egp_project_number}/{contract.contract_number_normalized}" if procurement else None
        out.append(MappedRecord("contract", str(key), contract, version))
    return out


def _raise_if_any(c: Collector, record: NativeRecord, entity_type: str) -> None:
    if c.problems:
        raise MappingError(c.problems, system=SYSTEM, entity_type=entity_type, record_key=str(record.row))


def map_csv(record: NativeRecord, m: Mappings, reference: Any) -> list[MappedRecord]:
    c, data = Collector(), record.data
    org = _org(c, reference, data.get(h.UNIT_CODE), h.UNIT_CODE, data.get(h.UNIT), h.UNIT)
    body = c.mapped(m["procurement_csv"], data)
    procurement = c.validated(Procurement, {**body, "org_code": org}, m["procurement_csv"]) if body and org else None
    contracts = []
    if str(data.get(h.CONTRACT_NO) or "").strip() not in ("", "-"):
        contract_body = c.mapped(m["contract_csv"], data)
        if contract_body and org:
            contracts = [c.validated(Contract, {**contract_body, "org_code": org}, m["contract_csv"])]
    _raise_if_any(c, record, "procurement")
    return _records(procurement, contracts, str(m["procurement_csv"].version))


def _winner(project: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The winner when the project has exactly one contract; with several, the project has no one winner."""
    items = [item for item in project.get("contract") or [] if isinstance(item, dict)]
    if len(items) != 1 or not items[0].get("winner"):
        return None, {}
    winner = {"name": items[0]["winner"], "tax_id": items[0].get("winner_tin") or None}
    return winner, {"winner.name": "contract[0].winner", "winner.tax_id": "contract[0].winner_tin"}


def map_json(record: NativeRecord, m: Mappings, reference: Any) -> list[MappedRecord]:
    c, data = Collector(), record.data
    org = _org(c, reference, data.get("dept_code"), "dept_code", data.get("dept_sub_name"), "dept_sub_name")
    body = c.mapped(m["procurement_json"], data)
    procurement = None
    if body and org:
        winner, native = _winner(data)
        body = {**body, "org_code": org, **({"winner": winner} if winner else {})}
        procurement = c.validated(Procurement, body, m["procurement_json"], native=native)
    items = data.get("contract") or []
    if not isinstance(items, list):
        c.problems.append(MappingProblem(0, "contract", "contract", items, "mapping.not_a_list", "`contract` must be a list"))
        items = []
    contracts = []
    for index, item in enumerate(items):
        prefix = f"contract[{index}]."
        contract_body = c.mapped(m["contract_json"], item if isinstance(item, dict) else {}, prefix)
        if contract_body and org:
            contracts.append(c.validated(Contract, {**contract_body, "org_code": org}, m["contract_json"], prefix))
    _raise_if_any(c, record, "procurement")
    return _records(procurement, contracts, str(m["procurement_json"].version))


def map_announcement(record: NativeRecord, m: Mappings, reference: Any) -> list[MappedRecord]:
    c, data = Collector(), record.data
    org = _org(c, reference, data.get("deptsubId"), "deptsubId")
    body = c.mapped(m["announcement"], data)
    procurement = c.validated(Procurement, {**body, "org_code": org}, m["announcement"]) if body and org else None
    _raise_if_any(c, record, "procurement")
    return _records(procurement, [], str(m["announcement"].version))


def map_in(record: NativeRecord, mappings: Mappings, reference: Any) -> list[MappedRecord]:
    if record.problems:
        problems = [MappingProblem(0, "", p.field, p.value, p.rule, p.reason) for p in record.problems]
        raise MappingError(problems, system=SYSTEM, record_key=str(record.row))
    mapper = {"json": map_json, "announcement": map_announcement, "csv": map_csv}[kind_of(record.data)]
    return mapper(record, mappings, reference)
