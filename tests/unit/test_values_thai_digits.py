from hypothesis import given, settings
from hypothesis import strategies as st

from canonical_model.thai_digits import ARABIC_DIGITS, THAI_DIGITS, to_arabic_digits, to_thai_digits

PROPERTY = settings(max_examples=200, deadline=None)


def test_each_thai_digit_maps_to_its_arabic_value() -> None:
    assert to_arabic_digits("๐๑๒๓๔๕๖๗๘๙") == "0123456789"
    assert to_thai_digits("0123456789") == "๐๑๒๓๔๕๖๗๘๙"
    assert [ord(ch) for ch in THAI_DIGITS] == list(range(0x0E50, 0x0E5A))


def test_contract_number_keeps_letters_and_punctuation() -> None:
    assert to_arabic_digits("กจด.ป.๑๑๕/๒๕๖๘") == "กจด.ป.115/2568"


@PROPERTY
@given(st.text())
def test_arabic_then_thai_then_arabic_is_stable(text: str) -> None:
    arabic = to_arabic_digits(text)
    assert not any(ch in THAI_DIGITS for ch in arabic)
    assert to_arabic_digits(to_thai_digits(arabic)) == arabic
    assert len(arabic) == len(text)


@PROPERTY
@given(st.integers(min_value=0))
def test_thai_digits_of_a_number_read_back_as_the_number(number: int) -> None:
    thai = to_thai_digits(str(number))
    assert not any(ch in ARABIC_DIGITS for ch in thai)
    assert int(to_arabic_digits(thai)) == number
