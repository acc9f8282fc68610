"""Reading the e-GP announcement RSS: Windows-874 bytes whose encoding only the XML prolog declares.

Python's XML parser does not know the name `windows-874` (nor `x-windows-874`), and e-GP sends no
charset in its Content-Type, so the prolog is read here, the bytes decoded with the codec it names, and
the text parsed without its declaration. A feed with a DTD is refused: RSS needs none, and entities in
a document from the network are how XML parsers are attacked.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prasan import PermanentError

_PROLOG = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"'][^>]*\?>")
_CODECS = {"windows-874": "cp874", "x-windows-874": "cp874", "tis-620": "cp874", "tis620": "cp874", "cp874": "cp874"}
ITEM_FIELDS = ("title", "link", "pubDate", "description", "guid")


def decode(payload: bytes) -> str:
    """The feed as text, decoded with the encoding its prolog declares (UTF-8 when it declares none)."""
    found = _PROLOG.match(payload)
    declared = found.group(1).decode("ascii").lower() if found else "utf-8"
    # CP874 is TIS-620 plus a few punctuation marks in 0x80-0x9F, so it reads both.
    codec = _CODECS.get(declared, declared)
    try:
        text = payload.decode(codec)
    except (LookupError, UnicodeDecodeError) as exc:
        raise PermanentError(f"e-GP feed is not readable as its declared {declared!r}: {exc}", system="egp") from None
    return text[found.end() :] if found else text  # the prolog is ASCII: bytes and characters agree


def items(payload: bytes) -> list[dict[str, Any]]:
    """The `<item>`s of one feed page, each as its text fields plus the projectId of its link."""
    text = decode(payload).lstrip()
    if "<!DOCTYPE" in text[:2000] or "<!ENTITY" in text:
        raise PermanentError("e-GP feed declares a DTD or entities, which an RSS feed never needs", system="egp")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise PermanentError(f"e-GP feed is not well-formed XML: {exc}", system="egp") from None
    found = []
    for node in root.iter("item"):
        item = {name: (node.findtext(name) or "").strip() for name in ITEM_FIELDS}
        item = {name: value for name, value in item.items() if value}
        project = parse_qs(urlsplit(item.get("link", "")).query).get("projectId", [""])[0]
        if project:
            item["projectId"] = project
        found.append(item)
    return found
