"""Thai digits (๐-๙, U+0E50-U+0E59) and their Arabic equivalents."""

from __future__ import annotations

THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙"
ARABIC_DIGITS = "0123456789"

_TO_ARABIC = str.maketrans(THAI_DIGITS, ARABIC_DIGITS)
_TO_THAI = str.maketrans(ARABIC_DIGITS, THAI_DIGITS)


def to_arabic_digits(text: str) -> str:
    """Every Thai digit replaced by its Arabic digit; everything else untouched."""
    return text.translate(_TO_ARABIC)


def to_thai_digits(text: str) -> str:
    """Every Arabic digit replaced by its Thai digit; everything else untouched."""
    return text.translate(_TO_THAI)
