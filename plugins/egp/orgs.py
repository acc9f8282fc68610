"""Which organisation a record belongs to: a DLA code the registry knows, never a guess from a name.

e-GP numbers its buying units with its own codes (9-digit dept_code, 10-digit deptsubId); only for local
administrative organisations do they look like DLA codes, and those are known to drift across systems.
So a code is accepted only when it is a DLA code the registry has, and, when the record also names the
unit, the registry's name for that code must appear in it.
"""

from __future__ import annotations

import re
from typing import Any

from prasan import Rejection
from prasan.canonical import normalize_code, normalize_text


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", normalize_text(text)).casefold()


def resolve(reference: Any, code: Any, field: str, unit_name: Any = None, name_field: str | None = None) -> str:
    """The owning organisation's DLA code; else a Rejection naming the field, value and rule."""
    raw = "" if code is None else str(code)
    if not raw.strip() or raw.strip() == "-":
        raise Rejection(
            "egp.org_code_missing",
            "the record has no code of its buying unit; a name alone could match several organisations, "
            "so the hub does not guess",
            code,
            field,
        )
    clean = normalize_code(raw)
    if clean.isdigit() and len(clean) != 7:
        raise Rejection(
            "egp.org_not_dla",
            f"{clean!r} is an e-GP department code ({len(clean)} digits), not a 7-digit DLA code; "
            "the hub cannot tell which organisation it is",
            code,
            field,
        )
    org = reference.require_org(clean, field)
    if isinstance(unit_name, str) and unit_name.strip() and name_field:
        if _squeezed(org["name_th"]) not in _squeezed(unit_name):
            raise Rejection(
                "egp.org_name_mismatch",
                f"code {clean} is {org['name_th']!r} in the DLA registry, which the unit's name does not mention; "
                "e-GP codes drift, so the code is not trusted",
                unit_name,
                name_field,
            )
    return str(org["org_code"])
