"""Procurements and their contracts as Open Contracting Data Standard 1.1 releases (docs/ocds.md).

One contracting process is one e-GP project: its `ocid` is the publisher's prefix and the e-GP project
number. A release is the hub's current picture of that process, built from the procurement, the
contracts linked to it (decision 0012) and, when the procurement is linked to a plan project, the plan
and its budget in `planning`. It does no I/O: core/store/contracting.py reads the records, and
admin_api/public_exports.py serves the packages.

Amounts are written as JSON numbers straight from their Decimal (`dumps`): OCDS wants a number, and a
number that went through a binary float could lose a satang.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import simplejson

from canonical_model.thai_text import normalize_code, normalize_text
from core import ledger
from core.ledger import Member

OCDS_VERSION = "1.1"
CURRENCY = "THB"
LANGUAGE = "th"
# A registered prefix is `ocds-` and six characters the OCDS Helpdesk assigns; this one has the shape of
# a registered prefix but is not one: an operator who publishes sets the prefix the Helpdesk gave them.
DEFAULT_OCID_PREFIX = "ocds-prasan-"
# Thai dates carry no time of day: a date is the day in Thailand, from its midnight.
THAI_TIME = timezone(timedelta(hours=7))
# The organisation identifier list of the Revenue Department's 13-digit tax id of legal entities
# (org-id.guide). The same 13 digits of a natural person are a citizen id, which is never exported.
TAX_ID_SCHEME = "TH-TIN"
INDIVIDUAL_SUPPLIER = "ผู้ประกอบการบุคคลธรรมดา"

# e-GP's project status (สถานะโครงการ) -> OCDS tenderStatus; a status not listed is left out.
TENDER_STATUS = {
    "ระหว่างดำเนินการ": "active",
    "จัดทำสัญญา/บริหารสัญญา": "complete",
    "ดำเนินการแล้วเสร็จ": "complete",
    "ยกเลิกโครงการ": "cancelled",
    "ยกเลิก": "cancelled",
}
# e-GP's contract status (สถานะสัญญา) -> OCDS contractStatus.
CONTRACT_STATUS = {
    "อยู่ระหว่างดำเนินการ": "active",
    "สิ้นสุดสัญญา": "terminated",
    "ยกเลิกสัญญา": "cancelled",
    "ยกเลิก": "cancelled",
}
# e-GP's procurement method (วิธีการจัดหา) -> OCDS method, by the words the method's name holds; a
# method named otherwise keeps only its Thai name in procurementMethodDetails.
METHODS = (
    ("e-bidding", "open"),
    ("ประกวดราคา", "open"),
    ("e-market", "open"),
    ("ตลาดอิเล็กทรอนิกส์", "open"),
    ("คัดเลือก", "selective"),
    ("เฉพาะเจาะจง", "direct"),
)
CONSTRUCTION = "ก่อสร้าง"


@dataclass(frozen=True)
class Publication:
    """Who publishes and under which prefix (settings `ocds`)."""

    ocid_prefix: str = DEFAULT_OCID_PREFIX
    publisher_name: str = "Prasan"
    publisher_uri: str | None = None
    license: str | None = None


@dataclass(frozen=True)
class Buyer:
    """The local organisation that buys, from the master data."""

    org_code: str
    name: str
    district: str | None = None
    province: str | None = None


@dataclass(frozen=True)
class Process:
    """One contracting process as the hub holds it."""

    procurement: Member
    contracts: Sequence[Member]
    buyer: Buyer | None
    changed_at: datetime  # the latest change of any record below
    plan: Member | None = None  # the plan project the procurement is linked to
    plan_members: Sequence[Member] = ()  # the plan's chain: budget lines, grant requests, ...


def ocid(prefix: str, egp_project_number: str) -> str:
    return f"{prefix}{egp_project_number}"


def egp_number(process: Process) -> str | None:
    p = process.procurement
    return p.systems.get("egp") or p.payload.get("egp_project_number")


def _money(value: Any) -> Decimal | None:
    return None if value is None else ledger.money(value).quantize(ledger.ZERO)


def _value(amount: Any) -> dict[str, Any] | None:
    money = _money(amount)
    return None if money is None else {"amount": money, "currency": CURRENCY}


def _moment(value: Any) -> str | None:
    """A canonical date (ISO, Gregorian) as an OCDS date-time: midnight of that day in Thailand."""
    if isinstance(value, datetime):
        on = value
    elif isinstance(value, date):
        on = datetime.combine(value, time(), THAI_TIME)
    elif isinstance(value, str) and len(value) >= 10:
        try:
            on = datetime.combine(date.fromisoformat(value[:10]), time(), THAI_TIME)
        except ValueError:
            return None
    else:
        return None
    return _timestamp(on)


def _timestamp(at: datetime) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    if at.utcoffset() == timedelta(0):
        return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return at.isoformat(timespec="seconds")


def _text(value: Any) -> str:
    return normalize_text(str(value)) if value is not None else ""


def _coded(value: Any, table: Mapping[str, str]) -> str | None:
    text = _text(value).replace(" ", "")
    return next((code for name, code in table.items() if text == name.replace(" ", "")), None)


def procurement_method(method: Any) -> str | None:
    text = _text(method).casefold()
    return next((code for words, code in METHODS if words.casefold() in text), None) if text else None


def procurement_category(procurement: Mapping[str, Any]) -> str | None:
    kind = procurement.get("procurement_type")
    if kind == "purchase":
        return "goods"
    if kind == "hire":
        return "works" if CONSTRUCTION in _text(procurement.get("title")) else "services"
    return None  # a rent is goods or services depending on what is rented, which the record does not say


def is_juristic(tax_id: str | None) -> bool:
    """A juristic person's 13-digit number starts with 0; a natural person's (a citizen id) never does."""
    return bool(tax_id) and len(tax_id) == 13 and tax_id.isdigit() and tax_id[0] == "0"  # type: ignore[index]


def _supplier_party(tax_id: str | None, name: str | None, number: str, index: int) -> dict[str, Any]:
    if tax_id and is_juristic(tax_id):
        party: dict[str, Any] = {"id": f"{TAX_ID_SCHEME}-{tax_id}", "identifier": {"scheme": TAX_ID_SCHEME, "id": tax_id}}
        if name:  # a contract names its supplier by tax id only; the name comes with e-GP's winner
            party["name"] = party["identifier"]["legalName"] = name
    elif tax_id or name:
        # A person: e-GP publishes the name, but the hub exports nothing about individual people.
        party = {"id": f"{number}-supplier-{index}", "name": INDIVIDUAL_SUPPLIER}
    else:
        party = {"id": f"{number}-supplier-{index}"}
    party["roles"] = ["supplier"]
    return party


def _buyer_party(buyer: Buyer) -> dict[str, Any]:
    # No organisation identifier list holds DLA codes, so the code is the party's id, not an identifier.
    party: dict[str, Any] = {"id": f"DLA-{buyer.org_code}", "name": buyer.name, "roles": ["buyer", "procuringEntity"]}
    address = {k: v for k, v in (("locality", buyer.district), ("region", buyer.province)) if v}
    if address:
        party["address"] = {**address, "countryName": "ประเทศไทย"}
    return party


def _reference(party: Mapping[str, Any]) -> dict[str, Any]:
    return {key: party[key] for key in ("id", "name") if key in party}


def contract_id(number: str, contract: Member) -> str:
    """e-GP's id of the contract (`<project number>/<contract number>`), else the contract number with
    Arabic digits, so that a contract written in Thai digits keeps one id."""
    at_egp = contract.systems.get("egp")
    if at_egp:
        return normalize_code(at_egp)
    written = contract.payload.get("contract_number_normalized") or normalize_code(str(contract.payload.get("contract_number") or ""))
    return f"{number}/{written}" if written else f"{number}/{contract.entity_id}"


def _award_and_contract(
    number: str, contract: Member, supplier: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    p = contract.payload
    cid = contract_id(number, contract)
    award: dict[str, Any] = {"id": cid, "status": "active"}
    if (value := _value(p.get("amount"))) is not None:
        award["value"] = value
    if supplier is not None:
        award["suppliers"] = [_reference(supplier)]
    out: dict[str, Any] = {"id": cid, "awardID": cid, "title": _text(p.get("contract_number")) or None}
    if (status := _coded(p.get("status"), CONTRACT_STATUS)) is not None:
        out["status"] = status
    if value is not None:
        out["value"] = value
    if (signed := _moment(p.get("signed_on"))) is not None:
        out["dateSigned"] = signed
    period = {k: v for k, v in (("startDate", _moment(p.get("signed_on"))), ("endDate", _moment(p.get("ends_on")))) if v}
    if period:
        out["period"] = period
    return award, {k: v for k, v in out.items() if v is not None}


def budget(plan: Member, members: Iterable[Member], fiscal_year: int | None) -> dict[str, Any]:
    """The plan project's budget for the procurement's fiscal year: the amount the local budget holds for
    it, else the grant approved for it, else what the plan planned."""
    members = list(members)
    years = {row.fiscal_year: row for row in ledger.project_years(plan, members)}
    row = years.get(fiscal_year) if fiscal_year is not None else None
    if row is None and years:
        row = years[min(years)]
    amount = None
    if row is not None:
        amount = next((row.amounts[name] for name in ("budgeted", "approved", "planned") if row.amounts[name] > 0), None)
    year = row.fiscal_year if row is not None else fiscal_year
    lines = [m for m in members if m.entity_type == "budget_line" and m.payload.get("fiscal_year") in (year, None)]
    grants = [m for m in members if m.entity_type == "budget_request" and m.payload.get("budget_code")
              and m.payload.get("fiscal_year") in (year, None)]  # fmt: skip
    out: dict[str, Any] = {"project": _text(plan.payload.get("title")) or None, "projectID": plan.systems.get("eplan")}
    # The GF-MIS budget code the money is paid from, else the e-LAAS budget line's number.
    if grants:
        out["id"] = str(grants[0].payload["budget_code"])
    elif lines and lines[0].systems.get("elaas"):
        out["id"] = lines[0].systems["elaas"]
    elif plan.systems.get("elaas"):
        out["id"] = plan.systems["elaas"]
    description = (lines[0].payload.get("description") if lines else None) or plan.payload.get("funding_source")
    out["description"] = _text(description) or None
    if amount is not None:
        out["amount"] = {"amount": amount, "currency": CURRENCY}
    return {k: v for k, v in out.items() if v is not None}


def release(process: Process, publication: Publication) -> dict[str, Any]:
    """The process's release: tender, awards, contracts, parties and, with a linked plan, planning."""
    number = egp_number(process)
    if not number:
        raise ValueError(f"procurement {process.procurement.entity_id} has no e-GP project number: it has no ocid")
    p = process.procurement.payload
    parties: list[dict[str, Any]] = []
    buyer = _buyer_party(process.buyer) if process.buyer else None
    if buyer:
        parties.append(buyer)
    tender: dict[str, Any] = {"id": number, "title": _text(p.get("title")) or None,
                              "status": _coded(p.get("status"), TENDER_STATUS), "value": _value(p.get("budget_amount")),
                              "procurementMethod": procurement_method(p.get("method")),
                              "procurementMethodDetails": _text(p.get("method")) or None,
                              "mainProcurementCategory": procurement_category(p)}  # fmt: skip
    if buyer:
        tender["procuringEntity"] = _reference(buyer)
    if (announced := _moment(p.get("announced_on"))) is not None:
        tender["tenderPeriod"] = {"startDate": announced}
    winner = p.get("winner") if isinstance(p.get("winner"), Mapping) else None
    suppliers: dict[str, dict[str, Any]] = {}

    def supplier(tax_id: str | None, name: str | None) -> dict[str, Any] | None:
        if not tax_id and not name:
            return None
        key = tax_id or f"name:{name}"
        if key not in suppliers:
            suppliers[key] = _supplier_party(tax_id, name, number, len(suppliers) + 1)
        return suppliers[key]

    awards, contracts = [], []
    for contract in sorted(process.contracts, key=lambda c: contract_id(number, c)):
        tax_id = contract.payload.get("supplier_tax_id")
        # The contract names its supplier by tax id only; e-GP's winner gives the name when it is the same.
        is_winner = winner is not None and (tax_id is None or winner.get("tax_id") in (None, tax_id))
        name = winner.get("name") if is_winner else None  # type: ignore[union-attr]
        party = supplier(tax_id or (winner.get("tax_id") if is_winner else None), name)  # type: ignore[union-attr]
        award, out = _award_and_contract(number, contract, party)
        awards.append(award)
        contracts.append(out)
    if winner and not contracts:
        # e-GP named the winner; no contract has arrived yet.
        party = supplier(winner.get("tax_id"), winner.get("name"))
        award = {"id": f"{number}-award", "status": "active", "value": _value(p.get("agreed_price"))}
        if party:
            award["suppliers"] = [_reference(party)]
        awards.append({k: v for k, v in award.items() if v is not None})
    parties += suppliers.values()
    tags = ["tender"]
    out: dict[str, Any] = {
        "ocid": ocid(publication.ocid_prefix, number),
        "date": _timestamp(process.changed_at),
        "initiationType": "tender",
        "language": LANGUAGE,
        "parties": parties or None,
        "buyer": _reference(buyer) if buyer else None,
        "tender": {k: v for k, v in tender.items() if v is not None},
    }
    if process.plan is not None:
        tags.insert(0, "planning")
        planning: dict[str, Any] = {"budget": budget(process.plan, process.plan_members, p.get("fiscal_year"))}
        if objective := _text(process.plan.payload.get("objective")):
            planning["rationale"] = objective
        out["planning"] = planning
    if awards:
        tags.append("award")
        out["awards"] = awards
    if contracts:
        tags.append("contract")
        out["contracts"] = contracts
    out["tag"] = tags
    out = {k: v for k, v in out.items() if v is not None}
    # The id names this content: the same process unchanged is the same release, any change a new one.
    out["id"] = f"{number}-{hashlib.sha256(dumps(out)).hexdigest()[:16]}"
    return out


def package(releases: Sequence[Mapping[str, Any]], uri: str, publication: Publication) -> dict[str, Any]:
    """A release package; published at the latest change of what it holds (it is made on demand)."""
    if not releases:
        raise ValueError("an OCDS release package holds at least one release")
    publisher: dict[str, Any] = {"name": publication.publisher_name}
    if publication.publisher_uri:
        publisher["uri"] = publication.publisher_uri
    out: dict[str, Any] = {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": max(r["date"] for r in releases),
        "publisher": publisher,
        "releases": list(releases),
    }
    if publication.license:
        out["license"] = publication.license
    return out


def dumps(value: Any) -> bytes:
    """JSON with every Decimal written as the number it is (2198000.50 stays 2198000.50)."""
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")

