import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from canonical_model.rejection import Rejection
from canonical_model.thai_digits import THAI_DIGITS
from canonical_model.thai_text import NonEmptyThaiText, ThaiText, normalize_code, normalize_text

PROPERTY = settings(max_examples=200, deadline=None)
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"]
NAME_WITH_NOISE = st.text(
    alphabet=st.sampled_from(list('กขคงจอาเรียนกิ่ ้๑๒3 "') + ZERO_WIDTH + ["\t", "\n", "\u00a0", "\r"]),
    max_size=40,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # govspending names hide tabs and stray quotes (reference §6, D3)
        ('"ก่อสร้างอาคารเรียน 4 ชั้น\t', "ก่อสร้างอาคารเรียน 4 ชั้น"),
        ('\t"ส่งเสริมการกระจายอำนาจให้แก่ อปท."\t', "ส่งเสริมการกระจายอำนาจให้แก่ อปท."),
        ("เทศบาล\u00a0\u00a0ตำบล\u200bหัวดง", "เทศบาล ตำบลหัวดง"),
        ("\ufeffอบต.\r\nคลองท่อมใต้  ", "อบต. คลองท่อมใต้"),
        ('โครงการ "ถนนสวย" หมู่ 1', 'โครงการ "ถนนสวย" หมู่ 1'),
        ('"ก" และ "ข"', '"ก" และ "ข"'),
        ('""งานบริหารทั่วไป""', "งานบริหารทั่วไป"),
        ("สัญญาเลขที่ ๑๑๕/๒๕๖๘", "สัญญาเลขที่ ๑๑๕/๒๕๖๘"),
        ("   ", ""),
    ],
)
def test_normalize_text_examples(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    "decomposed",
    ["น\u0e49\u0e4d\u0e32", "น\u0e4d\u0e49\u0e32"],  # tone before and after NIKHAHIT
)
def test_decomposed_sara_am_is_composed(decomposed: str) -> None:
    assert normalize_text(decomposed) == "\u0e19\u0e49\u0e33"  # น้ำ
    assert normalize_text("ท\u0e4d\u0e32งาน") == "ทำงาน"


def test_normalize_code_converts_digits_and_removes_spaces() -> None:
    assert normalize_code(" ๖๘๐๖ ๙๑๖\u00a0๐๓๗๗ ") == "68069160377"
    assert normalize_code('"1500883002600IT3"\t') == "1500883002600IT3"


def test_non_string_is_rejected() -> None:
    with pytest.raises(Rejection) as caught:
        normalize_text(12)  # type: ignore[arg-type]
    assert caught.value.rule == "text.not_a_string"


@PROPERTY
@given(NAME_WITH_NOISE)
def test_normalized_text_is_clean_and_idempotent(raw: str) -> None:
    clean = normalize_text(raw)
    assert normalize_text(clean) == clean
    assert clean == clean.strip()
    assert "  " not in clean
    assert not any(ch in clean for ch in ZERO_WIDTH + ["\t", "\n", "\r", "\u00a0"])
    # Thai digits written in free text are kept
    assert [ch for ch in clean if ch in THAI_DIGITS] == [ch for ch in raw if ch in THAI_DIGITS]


@PROPERTY
@given(
    st.text(alphabet="กขคง ๑๒3", min_size=1, max_size=20),
    st.lists(st.sampled_from(ZERO_WIDTH), max_size=4),
    st.integers(min_value=0),
)
def test_zero_width_characters_never_change_the_result(text: str, invisible: list[str], seed: int) -> None:
    position = seed % (len(text) + 1)
    noisy = text[:position] + "".join(invisible) + text[position:]
    assert normalize_text(noisy) == normalize_text(text)


@PROPERTY
@given(NAME_WITH_NOISE)
def test_normalized_code_has_no_blank_and_no_thai_digit(raw: str) -> None:
    code = normalize_code(raw)
    assert not any(ch.isspace() or ch in THAI_DIGITS for ch in code)
    assert normalize_code(code) == code


class Named(BaseModel):
    name: ThaiText
    title: NonEmptyThaiText


def test_annotated_types_normalise_and_reject_empty_with_the_rule() -> None:
    assert Named(name=' "อบต.\tหัวดง" ', title="x").name == "อบต. หัวดง"
    assert Named(name="", title="x").name == ""
    with pytest.raises(ValidationError) as caught:
        Named(name="x", title=' "\u200b\t" ')
    assert caught.value.errors()[0]["type"] == "text.empty"
