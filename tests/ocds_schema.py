"""The official OCDS 1.1.5 release-package schema (tests/data/ocds/), as a validator that fetches nothing.

`strict=True` also refuses any field the schema does not define (additionalProperties false on every
object it describes): the allow-list of the public OCDS answers is the standard itself.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMAS = Path(__file__).parent / "data" / "ocds"


def _closed(schema: Any) -> Any:
    if isinstance(schema, dict):
        schema = {key: _closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [_closed(value) for value in schema]
    return schema


@cache
def validator(strict: bool = False) -> Draft4Validator:
    loaded = {name: json.loads((SCHEMAS / name).read_text(encoding="utf-8")) for name in ("release-package-schema.json", "release-schema.json")}
    if strict:
        loaded = {name: _closed(copy.deepcopy(schema)) for name, schema in loaded.items()}
    registry = Registry().with_resources(
        (schema["id"], Resource.from_contents(schema, default_specification=DRAFT4)) for schema in loaded.values()
    )
    package = loaded["release-package-schema.json"]
    return Draft4Validator(package, registry=registry, format_checker=Draft4Validator.FORMAT_CHECKER)


def problems(package: Any, *, strict: bool = False) -> list[str]:
    """Every way the package breaks the schema, as `path: message`."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(strict).iter_errors(package)]
