"""Converters the e-GP mappings need beyond the core set, contributed as `egp.<name>`."""

from __future__ import annotations

from datetime import date, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from prasan import Converter, ConverterArgs, Rejection
from prasan.canonical import normalize_text, parse_thai_date

# e-GP titles say what is bought in their verb: "ประกวดราคาจ้างก่อสร้าง...", "ซื้อวัสดุ...", "เช่ารถ...".
_VERBS = {"ซื้อ": "purchase", "จ้าง": "hire", "เช่า": "rent"}
BANGKOK = timezone(timedelta(hours=7))


class NoArgs(ConverterArgs):
    pass


def type_from_title(args: NoArgs, reference: Any) -> Converter:
    """The procurement type from the first of ซื้อ / จ้าง / เช่า in an announcement title; none: refused."""

    def forward(value: Any) -> str:
        text = normalize_text(value) if isinstance(value, str) else ""
        found = [(text.find(verb), kind) for verb, kind in _VERBS.items() if verb in text]
        if not found:
            raise Rejection(
                "egp.type_unknown", "the title names none of ซื้อ, จ้าง, เช่า, so the procurement type is unknown", value
            )
        return min(found)[1]

    return Converter(forward, None)


def pub_date(args: NoArgs, reference: Any) -> Converter:
    """An RSS pubDate (RFC 822) as the calendar day in Thailand; a Thai-written date is read too."""

    def forward(value: Any) -> date:
        if not isinstance(value, str) or not value.strip():
            raise Rejection("date.empty", "a publication date is required", value)
        try:
            moment = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return parse_thai_date(value)
        if moment.tzinfo is None:  # RFC 822 without a zone: e-GP runs on Thai time
            moment = moment.replace(tzinfo=BANGKOK)
        return moment.astimezone(BANGKOK).date()

    return Converter(forward, None)
