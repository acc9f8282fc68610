"""Converters the e-Plan mapping needs beyond the core set, contributed as `eplan.<name>`."""

from __future__ import annotations

import re
from typing import Any

from prasan import Converter, ConverterArgs, Rejection, identity
from prasan.canonical import normalize_text, to_arabic_digits


class KnownOrgArgs(ConverterArgs):
    pass


def known_org(args: KnownOrgArgs, reference: Any) -> Converter:
    """A DLA code (Thai digits allowed) that the organisation registry knows; else rule `org.unknown`."""

    def forward(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            value = "" if value is None else value
        return str(reference.require_org(str(value))["org_code"])

    return Converter(forward, identity)


class RevisionArgs(ConverterArgs):
    pass


# The editions a local development plan goes through (ระเบียบกระทรวงมหาดไทยว่าด้วยการจัดทำแผนพัฒนา):
# the first edition, then additions, changes and corrections, each counted (ครั้งที่ N).
_REVISION_KINDS = {"เพิ่มเติม": "addition", "เปลี่ยนแปลง": "change", "แก้ไข": "correction"}
_REVISION = re.compile(r"^(?:ฉบับ)?\s*(เพิ่มเติม|เปลี่ยนแปลง|แก้ไข)\s*(?:ครั้งที่|ฉบับที่)?\s*(\d{1,3})?$")


def revision(args: RevisionArgs, reference: Any) -> Converter:
    """"ฉบับแรก" (or "ฉบับหลัก") → the original edition; "เพิ่มเติม ครั้งที่ ๑" → addition 1; likewise
    เปลี่ยนแปลง (change) and แก้ไข (correction); else rule `eplan.revision_unknown`."""

    def forward(value: Any) -> dict[str, Any]:
        text = normalize_text(to_arabic_digits(str(value))).replace("  ", " ")
        if text in ("ฉบับแรก", "ฉบับหลัก", "แรก"):
            return {"kind": "original", "number": 0}
        match = _REVISION.match(text)
        if match is None:
            raise Rejection(
                "eplan.revision_unknown",
                "an edition is ฉบับแรก, or เพิ่มเติม / เปลี่ยนแปลง / แก้ไข with ครั้งที่ N",
                value,
            )
        return {"kind": _REVISION_KINDS[match.group(1)], "number": int(match.group(2) or 1)}

    return Converter(forward, None)
