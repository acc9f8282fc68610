"""Normalisation of Thai free text and of codes typed as text, and the length limits of canonical text.

Free text keeps Thai intact (NFC, sara am composed, combining marks kept) and REMOVES invisible,
bidirectional and control characters. Identifiers (codes, numbers, ids) REJECT them instead (rule
`identifier.hidden_character`): silently dropping a character from a code would make two different
codes equal, and keeping a right-to-left override would make a code display as another one.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

from canonical_model.rejection import Rejection, preview, pydantic_check
from canonical_model.thai_digits import to_arabic_digits

# Characters that change what text looks like or how it compares without being seen: soft hyphen,
# Arabic letter mark, Mongolian vowel separator, zero-width space/non-joiner/joiner, LRM/RLM, the
# bidirectional embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069), word joiner and
# invisible operators (U+2060-U+2064), BOM. They survive copy-paste from PDFs and web pages.
_HIDDEN = "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_INVISIBLE = re.compile(f"[{_HIDDEN}]")
# Python's \s covers NBSP and the other Unicode spaces, which budget books and Excel exports are full of.
_WHITESPACE_RUN = re.compile(r"\s+")
# Other control characters (NUL, escape, DEL, the C1 controls ...) only ever leak in from broken legacy
# exports (tab, line feed and carriage return are whitespace, folded above).
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# What an identifier may not hold: the hidden characters and every C0/C1 control except the tab, line
# feed and carriage return that exports leave around values (removed as whitespace).
_NOT_IN_IDENTIFIER = re.compile(f"[{_HIDDEN}\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
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



# --- identifiers ------------------------------------------------------------------------------------


def reject_hidden_characters(text: Any) -> Any:
    """An identifier unchanged, or `Rejection` `identifier.hidden_character` naming the first invisible,
    bidirectional or control character in it. Non-strings pass (their own validator refuses them)."""
    if not isinstance(text, str):
        return text
    found = _NOT_IN_IDENTIFIER.search(text)
    if found is None:
        return text
    char = found.group()
    name = unicodedata.name(char, "a control character")
    raise Rejection(
        "identifier.hidden_character",
        f"U+{ord(char):04X} ({name}) at position {found.start() + 1} is not allowed in an identifier: "
        "an invisible or direction-changing character makes a code look like, or differ from, another; "
        "remove it",
        preview(text),  # hidden characters shown as escapes
    )


# --- length limits ----------------------------------------------------------------------------------


class TextLimit:
    """The maximum length of a canonical text field, checked after normalisation, in characters (code
    points: a Thai tone mark counts as one). A longer value is its record's rejection `text.too_long`,
    never cut short. Shown as `maxLength` in the JSON schema and as "max length" in the model docs."""

    def __init__(self, max_length: int, what: str, *, non_empty: bool = False) -> None:
        self.max_length = max_length
        self.what = what
        self.min_length = 1 if non_empty else None  # declared for schemas and docs; checked by text.empty

    def check(self, value: Any) -> Any:
        if isinstance(value, str) and len(value) > self.max_length:
            raise Rejection(
                "text.too_long",
                f"{self.what} may be at most {self.max_length:,} characters; this one has {len(value):,}",
                preview(value, 100),
            )
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(pydantic_check(self.check), handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        json_schema = handler(schema)
        json_schema["maxLength"] = self.max_length
        if self.min_length:
            json_schema["minLength"] = self.min_length
        return json_schema

    def __repr__(self) -> str:
        return f"TextLimit({self.max_length}, {self.what!r})"


def free_text(max_length: int, what: str, *, non_empty: bool = False) -> Any:
    """A free-text type: normalised (hidden characters removed), at most `max_length` characters."""
    steps: list[Any] = [AfterValidator(pydantic_check(normalize_text))]
    if non_empty:
        steps.append(AfterValidator(pydantic_check(_require_non_empty)))
    return Annotated[str, *steps, TextLimit(max_length, what, non_empty=non_empty)]


def identifier_text(max_length: int, what: str, *, non_empty: bool = True, normalise: bool = True) -> Any:
    """An identifier type: hidden characters rejected, then (when `normalise`) blanks folded and stray
    quotes removed as in free text; at most `max_length` characters."""
    steps: list[Any] = [AfterValidator(pydantic_check(reject_hidden_characters))]
    if normalise:
        steps.append(AfterValidator(pydantic_check(normalize_text)))
    if non_empty:
        steps.append(AfterValidator(pydantic_check(_require_non_empty)))
    return Annotated[str, *steps, TextLimit(max_length, what, non_empty=non_empty)]


# The limits of canonical text, the same whatever format a record arrived in. They are generous for
# real plan-and-budget data, and small enough that one record cannot flood a destination's form, the
# store or an operator's screen (payloads have their own, larger cell limit: core/settings.py).

# Long free text (objectives, targets, KPIs, expected results, notes, reasons, budget line descriptions):
# a few paragraphs; 4,000 characters is about two printed pages of Thai.
DESCRIPTION_MAX = 4_000
# Titles of projects, procurements and plans are one sentence; 1,000 leaves room for a road project
# that lists every village it passes.
TITLE_MAX = 1_000
# Short phrases (method, status, budget type, funding source, responsible unit, strategy and programme
# names, classification node names): a line of text.
LABEL_MAX = 500
# Names of organisations, companies and people: one line; the longest official names are far shorter.
NAME_MAX = 300
# Codes and numbers people type (project codes, contract and document numbers): one short token.
CODE_MAX = 100
# Ids the hub assigns (UUIDs, hashes) and ids other systems assign to an entity.
CANONICAL_ID_MAX = 64
EXTERNAL_ID_MAX = 200

ThaiText = free_text(DESCRIPTION_MAX, "a description")
NonEmptyThaiText = free_text(DESCRIPTION_MAX, "a description", non_empty=True)
TitleText = free_text(TITLE_MAX, "a title")
Title = free_text(TITLE_MAX, "a title", non_empty=True)
LabelText = free_text(LABEL_MAX, "a label")
Name = free_text(NAME_MAX, "a name", non_empty=True)
IdentifierText = identifier_text(CODE_MAX, "a code or number", non_empty=False)
Identifier = identifier_text(CODE_MAX, "a code or number")
