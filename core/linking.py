"""Which records belong to which plan project: the link rules, declared as data.

A budget line, grant request, procurement, contract or disbursement usually arrives without the hub's id
of what it belongs to; it carries codes instead (an e-GP project number, a GF-MIS budget code, the
plan's project code, its organisation and fiscal year). Each rule below says which fields of the record
must equal which fields of a candidate. The store (core/store/links.py) runs the rules when a version is
stored and again, for records still unlinked, when a record they were looking for arrives.

Nothing is guessed: a rule links only when exactly one candidate matches. Two or more candidates leave
the record unlinked with the reason `link.ambiguous` and the candidates named; an operator can then link
it by hand (`POST /api/v1/links`). Titles are never compared: the same road is named differently in a
plan (โครงการก่อสร้างถนน...) and in its procurement (ประกวดราคาจ้างก่อสร้างถนน...), and a near match is a
guess.

Field paths read the canonical body of the current version:

    project_id                                       a top-level field
    classification[scheme=gfmis-budget].code         the `code` of the first list item whose scheme matches
    @xref:egp                                        the record's own id at e-GP (the cross-reference)
    @xref:egp|before:/                               ... up to the first "/" (a contract's e-GP project)

This module does no I/O; core/store/links.py asks the database for candidates.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# Reasons a record stays unlinked (the `reason` of GET /api/v1/links/unlinked and of the metric's
# records): it carries nothing a rule can use, what it cites is not (yet) in the hub, or it is not one.
NO_REFERENCE = "link.no_reference"
NO_MATCH = "link.no_match"
AMBIGUOUS = "link.ambiguous"
REMOVED = "link.removed_by_operator"

# Candidates named in an ambiguous reason; more would say nothing more to an operator.
CANDIDATES_SHOWN = 5
# Longest value a key may hold: codes are short (an 11-digit e-GP number, a 20-digit budget code), so a
# longer value is not a code and is not looked up.
MAX_VALUE_LENGTH = 100
KEY_SEPARATOR = "\x1f"  # the ASCII unit separator: appears in no code, so joined keys cannot collide


@dataclass(frozen=True)
class TargetKey:
    """A code by which records of `entity_type` can be found: the values of `fields`, in this order."""

    name: str
    entity_type: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class LinkRule:
    """`source` fields of a `from_type` record equal the `target` key of one `to_type` record.

    `target` is `id` (the record cites the hub's canonical id) or the name of a TargetKey.
    """

    name: str
    from_type: str
    to_type: str
    source: tuple[str, ...]
    target: str
    description: str


ID = "id"

KEYS: tuple[TargetKey, ...] = (
    # The plan's own project code within its organisation (e-Plan's รหัสโครงการ, SOLA's project number).
    TargetKey("plan_project.code", "plan_project", ("org_code", "project_code")),
    # The e-GP number of the procurement that carries a plan project out, once e-Plan records it.
    TargetKey("plan_project.egp_number", "plan_project", ("org_code", "egp_project_number")),
    # The GF-MIS budget code an approved grant request is paid from; the payer is the granting agency, not
    # the organisation that asked, so the organisation is not part of the key.
    TargetKey("budget_request.gfmis_budget_code", "budget_request", ("fiscal_year", "budget_code")),
    # e-GP numbers are the procurement's identity; within the organisation, since a number reused by
    # another organisation's record would otherwise link across owners.
    TargetKey("procurement.egp_number", "procurement", ("org_code", "egp_project_number")),
    # A GF-MIS budget code is issued per agency and fiscal year (the NFMA46 report's budget lines).
    TargetKey(
        "budget_line.gfmis_budget_code",
        "budget_line",
        ("org_code", "fiscal_year", "classification[scheme=gfmis-budget].code"),
    ),
)

# Per (from_type, to_type) the first rule that finds exactly one candidate links; an ambiguous rule
# stops the ones after it, so a weaker rule never overrides a stronger one that found two.
RULES: tuple[LinkRule, ...] = (
    LinkRule(
        "budget_line.project_id", "budget_line", "plan_project", ("project_id",), ID,
        "the budget line cites the hub's id of its plan project",
    ),
    LinkRule(
        "budget_line.project_code", "budget_line", "plan_project", ("org_code", "project_id"), "plan_project.code",
        "the budget line cites the plan's project code of its organisation",
    ),
    LinkRule(
        "budget_request.project_ref", "budget_request", "plan_project", ("project_id",), ID,
        "the grant request's project_ref is the hub's id of the plan project it funds",
    ),
    LinkRule(
        "budget_request.project_code", "budget_request", "plan_project", ("org_code", "project_id"),
        "plan_project.code",
        "the grant request's project_ref is the plan's project code of its organisation",
    ),
    LinkRule(
        "procurement.project_id", "procurement", "plan_project", ("project_id",), ID,
        "the procurement cites the hub's id of its plan project",
    ),
    LinkRule(
        "procurement.project_code", "procurement", "plan_project", ("org_code", "project_id"), "plan_project.code",
        "the procurement cites the plan's project code of its organisation",
    ),
    LinkRule(
        "procurement.egp_project_number", "procurement", "plan_project", ("org_code", "egp_project_number"),
        "plan_project.code",
        "the plan project of the same organisation is coded with the e-GP project number",
    ),
    LinkRule(
        "procurement.plan_egp_number", "procurement", "plan_project", ("org_code", "egp_project_number"),
        "plan_project.egp_number",
        "the plan project of the same organisation records this e-GP project number",
    ),
    LinkRule(
        "contract.procurement_id", "contract", "procurement", ("procurement_id",), ID,
        "the contract cites the hub's id of its procurement",
    ),
    LinkRule(
        "contract.egp_project_number", "contract", "procurement", ("org_code", "@xref:egp|before:/"),
        "procurement.egp_number",
        "e-GP names a contract <project number>/<contract number>: the procurement with that number",
    ),
    LinkRule(
        "disbursement.contract_id", "disbursement", "contract", ("contract_id",), ID,
        "the disbursement cites the hub's id of the contract it pays",
    ),
    LinkRule(
        "disbursement.budget_code", "disbursement", "budget_line", ("org_code", "fiscal_year", "budget_code"),
        "budget_line.gfmis_budget_code",
        "the GF-MIS budget code, agency and fiscal year of the line the money came from",
    ),
    LinkRule(
        "disbursement.grant_budget_code", "disbursement", "budget_request", ("fiscal_year", "budget_code"),
        "budget_request.gfmis_budget_code",
        "the approved grant request paid from this GF-MIS budget code in this fiscal year",
    ),
    LinkRule(
        "disbursement.project_id", "disbursement", "plan_project", ("project_id",), ID,
        "the disbursement cites the hub's id of its plan project",
    ),
    LinkRule(
        "disbursement.project_code", "disbursement", "plan_project", ("org_code", "project_id"), "plan_project.code",
        "the disbursement cites the plan's project code of its organisation",
    ),
    LinkRule(
        "progress_report.project_id", "progress_report", "plan_project", ("project_id",), ID,
        "the progress report cites the hub's id of its plan project",
    ),
)

KEYS_BY_NAME = {key.name: key for key in KEYS}
RULES_BY_NAME = {rule.name: rule for rule in RULES}
LINKED_TYPES = frozenset(rule.from_type for rule in RULES)  # types that can be unlinked
TARGET_TYPES = frozenset(key.entity_type for key in KEYS)


# Looked up per record on the ingest path: grouped once here rather than filtered from RULES each time.
_RULES_BY_TYPE: dict[str, tuple[LinkRule, ...]] = {
    t: tuple(rule for rule in RULES if rule.from_type == t) for t in {rule.from_type for rule in RULES}
}
_KEYS_BY_TYPE: dict[str, tuple[TargetKey, ...]] = {
    t: tuple(key for key in KEYS if key.entity_type == t) for t in {key.entity_type for key in KEYS}
}


def rules_for(from_type: str) -> list[LinkRule]:
    return list(_RULES_BY_TYPE.get(from_type, ()))


def keys_for(entity_type: str) -> list[TargetKey]:
    return list(_KEYS_BY_TYPE.get(entity_type, ()))


def rules_by_key(key_name: str) -> list[LinkRule]:
    return [rule for rule in RULES if rule.target == key_name]


@dataclass(frozen=True)
class Subject:
    """What the rules read of one record: its canonical body and its ids at each system."""

    entity_id: str
    entity_type: str
    payload: Mapping[str, Any]
    xrefs: Mapping[str, str] = field(default_factory=dict)


_LIST_ITEM = re.compile(r"^(?P<list>[a-z_]+)\[(?P<key>[a-z_]+)=(?P<value>[^\]]+)\]$")


def _is_mapping(value: Any) -> bool:
    # Bodies are plain dicts: the exact type check spares the ABC's slower isinstance on the hot path.
    return type(value) is dict or isinstance(value, Mapping)


def _payload_step(part: str) -> Callable[[Any], Any]:
    """One dotted part of a body path, as a function of the value reached so far."""
    item = _LIST_ITEM.match(part)
    if item is None:
        return lambda value: value.get(part) if _is_mapping(value) else None
    list_name, key, wanted = item["list"], item["key"], item["value"]

    def first_item(value: Any) -> Any:
        if not _is_mapping(value):
            return None
        items = value.get(list_name) or []
        return next((x for x in items if _is_mapping(x) and str(x.get(key)) == wanted), None)

    return first_item


@functools.cache
def _reader(path: str) -> Callable[[Subject], Any]:
    """The raw value at `path` of a record, compiled once per path: the rules read the same few paths for
    every record of every batch, and parsing them each time cost more than the reading."""
    if path.startswith("@xref:"):
        system, _, transform = path[len("@xref:"):].partition("|")
        if not transform.startswith("before:"):
            return lambda subject: subject.xrefs.get(system)
        separator = transform[len("before:"):]

        def before(subject: Subject) -> Any:
            value = subject.xrefs.get(system)
            if value is None:
                return None
            head, sep, _ = value.partition(separator)
            return head if sep else None

        return before
    steps = tuple(_payload_step(part) for part in path.split("."))
    if len(steps) == 1:
        return lambda subject: steps[0](subject.payload)

    def walk(subject: Subject) -> Any:
        value: Any = subject.payload
        for step in steps:
            value = step(value)
        return value

    return walk


def read_field(subject: Subject, path: str, max_length: int = MAX_VALUE_LENGTH) -> str | None:
    """The value at `path` as text, or None when the record has none (or it is too long to be a code)."""
    value = _reader(path)(subject)
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text if text and len(text) <= max_length else None


def values_of(subject: Subject, paths: tuple[str, ...], max_length: int = MAX_VALUE_LENGTH) -> tuple[str, ...] | None:
    """Every field's value, or None when one is missing: a partial key matches nothing."""
    values = []
    for path in paths:
        value = read_field(subject, path, max_length)
        if value is None:
            return None
        values.append(value)
    return tuple(values)


def key_text(values: tuple[str, ...]) -> str:
    return KEY_SEPARATOR.join(values)


def target_keys(subject: Subject) -> dict[str, str]:
    """The keys by which `subject` can be found by other records: key name -> key text."""
    out = {}
    for key in keys_for(subject.entity_type):
        values = values_of(subject, key.fields)
        if values is not None:
            out[key.name] = key_text(values)
    return out


def evidence(rule: LinkRule, values: tuple[str, ...]) -> dict[str, str]:
    """The field values a rule matched, under the record's field names: what an operator checks."""
    return dict(zip(rule.source, values, strict=True))


@dataclass(frozen=True)
class RuleResult:
    rule: str
    outcome: Literal["linked", "ambiguous", "no_match", "no_reference", "skipped"]
    to_id: str | None = None
    values: tuple[str, ...] | None = None
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """What the rules decided for one record: links to make, and why it is unlinked when it is."""

    links: list[tuple[LinkRule, str, dict[str, str]]]
    results: list[RuleResult]

    @property
    def reason(self) -> str:
        outcomes = {r.outcome for r in self.results}
        if "ambiguous" in outcomes:
            return AMBIGUOUS
        if "no_match" in outcomes:
            return NO_MATCH
        return NO_REFERENCE

    def detail(self) -> str:
        """One sentence per rule tried, for the operator."""
        parts = []
        for r in self.results:
            rule = RULES_BY_NAME[r.rule]
            shown = ", ".join(f"{k}={v}" for k, v in evidence(rule, r.values).items()) if r.values else ""
            if r.outcome == "no_reference":
                parts.append(f"{r.rule}: the record has no {' + '.join(rule.source)}")
            elif r.outcome == "no_match":
                parts.append(f"{r.rule}: no {rule.to_type} matches {shown}")
            elif r.outcome == "ambiguous":
                names = ", ".join(r.candidates[:CANDIDATES_SHOWN])
                parts.append(f"{r.rule}: {len(r.candidates)} {rule.to_type} records match {shown} ({names})")
        return "; ".join(parts) or "no rule applies"


def decide(subject: Subject, candidates: Any) -> Decision:
    """Run the rules of `subject`'s type. `candidates(rule, values)` returns the ids of the `rule.to_type`
    records whose target equals `values` (the store's lookup, excluding `subject` itself)."""
    links: list[tuple[LinkRule, str, dict[str, str]]] = []
    results: list[RuleResult] = []
    settled: set[str] = set()  # target types decided (linked, or stopped by an ambiguous rule)
    for rule in rules_for(subject.entity_type):
        if rule.to_type in settled:
            results.append(RuleResult(rule.name, "skipped"))
            continue
        values = values_of(subject, rule.source)
        if values is None:
            results.append(RuleResult(rule.name, "no_reference"))
            continue
        found = sorted(set(candidates(rule, values)) - {subject.entity_id})
        if len(found) == 1:
            links.append((rule, found[0], evidence(rule, values)))
            results.append(RuleResult(rule.name, "linked", found[0], values))
            settled.add(rule.to_type)
        elif found:
            results.append(RuleResult(rule.name, "ambiguous", None, values, tuple(found)))
            settled.add(rule.to_type)
        else:
            results.append(RuleResult(rule.name, "no_match", None, values))
    return Decision(links, results)


def wanted_keys(decision: Decision) -> list[tuple[str, str]]:
    """(key name, key text) of every keyed rule that found no single candidate: a record arriving with one
    of these keys is a reason to run the rules of this record again."""
    out = []
    for r in decision.results:
        rule = RULES_BY_NAME[r.rule]
        if r.outcome in ("no_match", "ambiguous") and rule.target != ID and r.values is not None:
            out.append((rule.target, key_text(r.values)))
    return out
