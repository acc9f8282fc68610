"""Normalisation of Thai free text and of codes typed as text."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator

from canonical_model.rejection import Rejection
from canonical_model.thai_digits import to_arabic_digits

# Invisible characters that survive copy-paste from PDFs and web pages and break equality and lookups.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Python's \s covers NBSP and the other Unicode spaces, which budget books and Excel exports are full of.
_WHITESPACE_RUN = re.compile(r"\s+")
# Other control characters (NUL, escape, ...) only ever leak in from broken legacy exports.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
# Old Thai typewriting habits store SARA AM as NIKHAHIT + SARA AA (sometimes with the tone mark
# between them); NFC does not compose this pair, so "น้ำ" typed two ways would compare unequal.
_SARA_AM_WITH_TONE_AFTER_NIKHAHIT = re.compile("\u0e4d([\u0e48-\u0e4b])\u0e32")
_SARA_AM_DECOMPOSED = re.compile("\u0e4d\u0e32")


def _compose_sara_am(text: str) -> str:
    text = _SARA_AM_WITH_TONE_AFTER_NIKHAHIT.sub("\\1\u0e33", text)
    return _SARA_AM_DECOMPOSED.sub("\u0e33", text)


def _strip_stray_quotes(text: str) -> str:
    """Remove quotes left over from broken CSV quoting, keeping quotes that belong to the text."""
    while True:
        stripped = text.strip()
        if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
            inner = stripped[1:-1]
            # `"ก" และ "ข"` also starts and ends with a quote, but there the quotes pair up inside.
            if '"' not in inner or (inner.startswith('"') and inner.endswith('"')):
                text = inner
                continue
        if stripped.count('"') % 2 == 1:
            if stripped.startswith('"'):
                text = stripped[1:]
                continue
            if stripped.endswith('"'):
                text = stripped[:-1]
                continue
        return stripped


def _already_normal(text: str) -> bool:
    """Most values are clean; recognising them cheaply keeps ingest fast. `isprintable` is False for
    every invisible, control and non-ASCII space character, so only the remaining cases need a look."""
    return (
        text.isprintable()
        and text == text.strip()
        and "  " not in text
        and '"' not in text
        and "\u0e4d" not in text
        and unicodedata.is_normalized("NFC", text)
    )


def normalize_text(text: str) -> str:
    """NFC, invisible characters removed, whitespace folded to single spaces, stray quotes removed, trimmed.

    Thai digits are kept: in free text they are what the author wrote.
    """
    if not isinstance(text, str):
        raise Rejection("text.not_a_string", f"expected text (a string), got {type(text).__name__}", text)
    if _already_normal(text):
        return text
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    text = _compose_sara_am(text)
    text = _CONTROL.sub("", text)
    text = _WHITESPACE_RUN.sub(" ", text)
    return _strip_stray_quotes(text)


def normalize_code(text: str) -> str:
    """As `normalize_text`, then Thai digits to Arabic and every space removed (`"๖๘ ๐๖"` -> `"6806"`)."""
    return _WHITESPACE_RUN.sub("", to_arabic_digits(normalize_text(text)))


def _require_non_empty(text: str) -> str:
    if not text:
        raise Rejection(
            "text.empty", "expected non-empty text (after removing blanks and stray quotes)", text
        )
    return text


def _pydantic(check: Any) -> Any:
    def validate(value: str) -> str:
        try:
            return check(value)
        except Rejection as rejection:
            raise rejection.as_pydantic_error() from None

    return validate


ThaiText = Annotated[str, AfterValidator(_pydantic(normalize_text))]
NonEmptyThaiText = Annotated[
    str, AfterValidator(_pydantic(normalize_text)), AfterValidator(_pydantic(_require_non_empty))
]
