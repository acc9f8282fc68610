"""The admin API's answers are read from the store's records: a record's field is declared once (in
core/store/records.py) and the answer follows it, renamed or described where the API says so."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime

import pytest
from pydantic import Field, ValidationError

from admin_api import models as m
from core.store.records import ApiClient, DeadLetter, EntityView

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass(frozen=True)
class _Record:
    record_id: str
    amount: int
    note: str | None = None


def test_an_answer_carries_every_field_of_its_record_in_order_and_each_is_required() -> None:
    answer = m.record_answer(_Record, "RecordOut")
    assert list(answer.model_fields) == ["record_id", "amount", "note"]
    assert all(f.is_required() for f in answer.model_fields.values())
    out = answer.model_validate(_Record("r1", 5))
    assert out.model_dump() == {"record_id": "r1", "amount": 5, "note": None}
    with pytest.raises(ValidationError):
        answer.model_validate(_Record("r1", "not a number"))  # type: ignore[arg-type]


def test_a_renamed_field_is_read_under_the_records_name_and_shown_under_the_answers() -> None:
    answer = m.record_answer(
        _Record,
        "RecordOut",
        rename={"record_id": "id"},
        leave_out=("note",),
        amount=Field(description="baht"),
        extra=(list[str], ...),
    )
    assert list(answer.model_fields) == ["id", "amount", "extra"]
    assert answer.model_json_schema(mode="serialization")["properties"]["amount"]["description"] == "baht"
    out = answer.model_validate(m.Beside(_Record("r1", 5), extra=["a"]))
    assert out.model_dump() == {"id": "r1", "amount": 5, "extra": ["a"]}


def test_beside_replaces_and_adds_attributes_and_falls_back_to_the_record() -> None:
    seen = m.Beside(_Record("r1", 5, "kept"), amount=7, more=True)
    assert (seen.record_id, seen.amount, seen.note, seen.more) == ("r1", 7, "kept", True)
    with pytest.raises(AttributeError):
        _ = seen.missing


def test_the_dead_letter_answer_is_the_records_fields() -> None:
    assert list(m.DeadLetterOut.model_fields) == [f.name for f in fields(DeadLetter)]


def test_the_entity_answer_shows_the_record_under_the_apis_names() -> None:
    view = EntityView(
        entity_id="e1", entity_type="plan_project", version=2, content_hash="h", org_code="01001",
        fiscal_year=2569, created_at=AT, updated_at=AT, payload={"title": "x"},
        xrefs=[{"system": "eplan", "external_id": "P-1"}], deliveries=[],
    )
    out = m.EntityOut.model_validate(m.Beside(view, versions=[], conflicts=[]))
    assert (out.id, out.entity, out.xrefs[0].external_id) == ("e1", {"title": "x"}, "P-1")


@pytest.mark.parametrize(
    ("orgs", "secret", "all_orgs", "signed"), [(None, None, True, False), (["01001"], "s", False, True)]
)
def test_a_client_answer_says_what_its_record_implies(
    orgs: list[str] | None, secret: str | None, all_orgs: bool, signed: bool
) -> None:
    client = ApiClient(
        client_id="c", name="bb", system="ebudget", key_prefix="pk_", created_at=AT, disabled=False,
        allowed_orgs=orgs, allowed_provinces=None, hmac_secret=secret,
    )
    out = m.ClientOut.model_validate(client)
    assert (out.all_orgs, out.signed_requests) == (all_orgs, signed)
    assert "hmac_secret" not in out.model_dump() and "client_id" not in out.model_dump()
    created = m.ClientCreated.model_validate(m.Beside(client, key="pk_full"))
    assert (created.key, created.hmac_secret) == ("pk_full", secret)
