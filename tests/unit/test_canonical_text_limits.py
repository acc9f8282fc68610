"""Canonical text: every text field has a maximum length (rule text.too_long, the same for every format),
identifiers refuse hidden characters (identifier.hidden_character), free text removes them and keeps
Thai intact, and formula-looking text is flagged or neutralised, never silently changed on its way."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from canonical_model import (
    ENTITY_TYPES,
    Contract,
    Disbursement,
    Organization,
    PlanProject,
    Procurement,
    Rejection,
    TextLimit,
    formula_like,
    formula_warnings,
    neutralise_formula,
    normalize_text,
    rejections_from_validation_error,
    validate_code,
)
from canonical_model.codes import _CodeAnnotation
from canonical_model.thai_text import CODE_MAX, DESCRIPTION_MAX, LABEL_MAX, NAME_MAX, TITLE_MAX

HIDDEN = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
          "\u2066", "\u2067", "\u2068", "\u2069", "\ufeff", "\x01", "\x1b", "\x7f", "\x85", "\x9b"]  # fmt: skip


def _rejections(model: type[BaseModel], **fields: Any) -> list[Rejection]:
    with pytest.raises(ValidationError) as caught:
        model(**fields)
    return rejections_from_validation_error(caught.value)


def _models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    pending = list(ENTITY_TYPES.values())
    while pending:
        model = pending.pop()
        if model in found:
            continue
        found.append(model)
        for field in model.model_fields.values():
            stack = [field.annotation]
            while stack:
                tp = stack.pop()
                if isinstance(tp, type) and issubclass(tp, BaseModel):
                    pending.append(tp)
                stack.extend(typing.get_args(tp))
    return found


def _max_length(field: Any) -> int | None:
    items = list(field.metadata)
    stack = [field.annotation]
    while stack:
        tp = stack.pop()
        if typing.get_origin(tp) is typing.Annotated:
            base, *metadata = typing.get_args(tp)
            items.extend(metadata)
            stack.append(base)
        else:
            stack.extend(typing.get_args(tp))
    if any(isinstance(item, _CodeAnnotation) for item in items):
        return 40  # a code scheme: a fixed-length pattern (the longest, gfmis-budget, is 20 digits)
    lengths = [getattr(item, "max_length", None) for item in items]
    lengths += [getattr(meta, "max_length", None) for item in items for meta in getattr(item, "metadata", [])]
    return min((n for n in lengths if n), default=None)


def _is_text(field: Any) -> bool:
    stack, seen = [field.annotation], False
    while stack:
        tp = stack.pop()
        if tp is str:
            seen = True
        elif typing.get_origin(tp) is typing.Literal:
            continue
        else:
            stack.extend(typing.get_args(tp))
    return seen


def test_every_canonical_text_field_declares_a_maximum_length() -> None:
    unbounded = [
        f"{model.__name__}.{name}"
        for model in _models()
        for name, field in model.model_fields.items()
        if _is_text(field) and _max_length(field) is None and "pattern" not in repr(field.metadata)
    ]
    assert unbounded == []


@pytest.mark.parametrize(
    ("model", "fields", "name", "limit"),
    [
        (PlanProject, {"title": "x"}, "title", TITLE_MAX),
        (PlanProject, {"title": "x"}, "objective", DESCRIPTION_MAX),
        (PlanProject, {"title": "x"}, "responsible_unit", LABEL_MAX),
        (PlanProject, {"title": "x"}, "project_code", CODE_MAX),
        (Organization, {"org_type": "central_agency"}, "name_th", NAME_MAX),
        (Procurement, {"title": "x", "procurement_type": "hire"}, "method", LABEL_MAX),
        (Contract, {"contract_number": "1/2568", "amount": "1"}, "contract_number", CODE_MAX),
        (Disbursement, {"document_number": "1", "paid_on": "2025-06-19", "amount": "1"}, "document_number", CODE_MAX),
    ],
)
def test_a_value_over_its_limit_is_rejected_naming_field_rule_and_limit(
    model: type[BaseModel], fields: dict[str, Any], name: str, limit: int
) -> None:
    base = {"org_code": "5400103", **fields}
    model(**{**base, name: "ก" * limit})  # exactly the limit is fine
    [rejection] = _rejections(model, **{**base, name: "ก" * (limit + 1)})
    assert rejection.rule == "text.too_long" and rejection.field == name
    assert f"at most {limit:,} characters" in rejection.reason and f"{limit + 1:,}" in rejection.reason


def test_the_limit_counts_characters_after_normalisation() -> None:
    project = PlanProject(org_code="5400103", title="  " + "ก" * TITLE_MAX + "\u200b  ")
    assert project.title == "ก" * TITLE_MAX


def test_limits_show_in_the_json_schema() -> None:
    schema = PlanProject.model_json_schema()
    assert schema["properties"]["title"]["maxLength"] == TITLE_MAX
    assert schema["properties"]["title"]["minLength"] == 1
    assert isinstance(TextLimit(10, "x").check("short"), str)


# --- hidden characters ------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", HIDDEN)
def test_identifiers_reject_hidden_characters(hidden: str) -> None:
    [rejection] = _rejections(PlanProject, org_code="5400103", title="ถนน", project_code=f"67{hidden}0001")
    assert rejection.rule == "identifier.hidden_character" and rejection.field == "project_code"
    assert f"U+{ord(hidden):04X}" in rejection.reason
    assert hidden not in str(rejection.value)  # shown escaped, so the message itself is not garbled
    with pytest.raises(Rejection) as caught:
        validate_code("th-tin", f"0105549{hidden}007974")
    assert caught.value.rule == "identifier.hidden_character"


def test_bidirectional_override_in_a_contract_number_is_rejected() -> None:
    [rejection] = _rejections(Contract, org_code="5400103", contract_number="กจด.\u202e8652/511", amount="1")
    assert rejection.rule == "identifier.hidden_character" and rejection.field == "contract_number"
    assert "RIGHT-TO-LEFT OVERRIDE" in rejection.reason


def test_identifiers_still_lose_surrounding_blanks() -> None:
    project = PlanProject(org_code="5400103", title="ถนน", project_code="\t 67-0001 \r\n")
    assert project.project_code == "67-0001"
    assert validate_code("dla-lao", " 5400103\t") == "5400103"


@pytest.mark.parametrize("hidden", HIDDEN)
def test_free_text_removes_hidden_characters_and_keeps_thai(hidden: str) -> None:
    thai = "โครงการก่อสร้างถนน น้ำไหล ที่กิ่งอำเภอ ๒๕๖๘"
    assert normalize_text(thai[:7] + hidden + thai[7:]) == thai
    project = PlanProject(org_code="5400103", title=f"\u202e{thai}\u202c")
    assert project.title == thai


def test_thai_combining_marks_and_sara_am_are_kept_or_composed() -> None:
    assert normalize_text("น\u0e49\u0e4d\u0e32") == "น\u0e49\u0e33"  # decomposed sara am composed
    text = "กิ่ง ปี่ ฟื้น ญี่ปุ่น ๆ ฯ"
    assert normalize_text(text) == text


# --- formula-looking text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r@x", "=", "- ถนนสาย ก"],
)
def test_formula_like_text_is_flagged_and_neutralised(text: str) -> None:
    assert formula_like(text)
    assert neutralise_formula(text) == "'" + text


@pytest.mark.parametrize(
    "text", ["-1,000", "-1000.00", "+5", "-๑,๐๐๐.๕๐", "-", "ถนน = ทาง", "1+1", "", "a-b", "-12.5%"]
)
def test_numbers_and_ordinary_text_are_not_flagged(text: str) -> None:
    assert not formula_like(text)
    assert neutralise_formula(text) == text


def test_formula_warnings_name_the_fields_and_leave_amounts_alone() -> None:
    project = PlanProject(
        org_code="5400103",
        title="=HYPERLINK(\"http://evil\",\"ถนน\")",
        objective="-เพื่อการสัญจร",
        budget_by_year=[{"fiscal_year": 2568, "amount": "1000"}],
    )
    content = project.content()
    content["budget_by_year"][0]["amount"] = "-1000.00"  # a negative amount as serialised
    warnings = formula_warnings(content)
    assert [(w.field, w.rule) for w in warnings] == [("title", "text.formula_like"), ("objective", "text.formula_like")]
    assert warnings[0].as_dict()["value"].startswith("=HYPERLINK")
    assert project.title.startswith("=")  # forwarded unchanged
