"""The `gfmis.gl_account` converter: a GL account as GF-MIS exports write it, checked against the
account classes a disbursement may be posted to."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from prasan import Converter, ConverterArgs, Rejection, identity
from prasan.canonical import normalize_code, validate_code

GL_CLASSES = "gfmis.gl-class"
# Agencies keep sub-accounts under a government account by appending ".101"; the 10-digit account is
# the government's, the suffix is the agency's own and means nothing to any other system.
_SUB_ACCOUNT = re.compile(r"^(\d{10})\.\d{1,4}$", re.ASCII)


class GlAccountArgs(ConverterArgs):
    classes: list[str] = Field(
        default=["1", "2", "5"],
        description="account classes (leading digit) a record may be posted to",
    )


def gl_account(args: GlAccountArgs, reference: Any) -> Converter:
    names = reference.code_lists[GL_CLASSES]
    allowed = set(args.classes)
    unknown = allowed - {node.code for node in names}
    if unknown:
        raise ValueError(f"gfmis.gl_account: {sorted(unknown)} are not account classes of {GL_CLASSES}")

    def forward(value: Any) -> str:
        text = normalize_code(value) if isinstance(value, str) else value
        if isinstance(text, str) and (sub := _SUB_ACCOUNT.match(text)):
            text = sub.group(1)
        account = validate_code("gfmis-gl", text)
        if account[0] not in allowed:
            kind = names.get(account[0])
            raise Rejection(
                "gfmis.gl_class",
                f"a disbursement is not posted to a {kind.name_th if kind else account[0]} account "
                f"(class {account[0]}); expected class {', '.join(sorted(allowed))}",
                value,
            )
        return account

    return Converter(forward, identity)
