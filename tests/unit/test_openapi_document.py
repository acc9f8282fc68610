"""The OpenAPI document the hub serves is the one committed in tests/data/openapi.json, so that any change
to the API (a path, a parameter, a schema, a status code, a description) is a visible diff in review.

A change that is meant: rewrite the committed document with

    .venv/bin/python -m tests.unit.test_openapi_document

and commit it with the change that caused it.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import admin_api.app  # noqa: F401  (imports every module that declares operations, in the hub's order)
from admin_api.openapi import OPENAPI_PATH, build_document, setup

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "openapi.json"
REFRESH = "python -m tests.unit.test_openapi_document"
# Enough of a diff to see what changed without burying the message.
SHOWN_DIFF_LINES = 200


def _text(document: dict[str, Any]) -> str:
    # Sorted keys: the order of paths and schemas follows the order the operation modules were first
    # imported in, which a test session does not fix, and the order of a JSON object's keys means nothing.
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _assert_same_as_committed(document: dict[str, Any]) -> None:
    committed = SNAPSHOT.read_text(encoding="utf-8")
    fresh = _text(document)
    if fresh != committed:
        diff = list(
            difflib.unified_diff(
                committed.splitlines(),
                fresh.splitlines(),
                "tests/data/openapi.json (committed)",
                "served now",
                lineterm="",
            )
        )
        cut = f"\n... {len(diff) - SHOWN_DIFF_LINES} more diff lines" if len(diff) > SHOWN_DIFF_LINES else ""
        raise AssertionError(
            "The OpenAPI document differs from tests/data/openapi.json. "
            "If the API change is meant, refresh it with\n"
            f"    {REFRESH}\nand commit it with the change.\n" + "\n".join(diff[:SHOWN_DIFF_LINES]) + cut
        )


def test_built_document_is_the_committed_one() -> None:
    _assert_same_as_committed(build_document())


async def test_served_document_is_the_committed_one() -> None:
    app = web.Application()
    setup(app)
    async with TestClient(TestServer(app)) as client:
        response = await client.get(OPENAPI_PATH)
        assert response.status == 200
        assert response.content_type == "application/json"
        served = json.loads(await response.text())
    _assert_same_as_committed(served)


def test_a_changed_document_fails_with_a_readable_diff() -> None:
    document = build_document()
    document["paths"]["/healthz"]["get"]["summary"] = "changed on purpose"
    try:
        _assert_same_as_committed(document)
    except AssertionError as failure:
        message = str(failure)
    else:
        raise AssertionError("a changed document passed the snapshot check")
    assert REFRESH in message
    lines = message.splitlines()
    assert any(line.startswith("+") and '"summary": "changed on purpose"' in line for line in lines), message
    assert any(line.startswith("-") and '"summary": "The process is up"' in line for line in lines), message


if __name__ == "__main__":
    SNAPSHOT.write_text(_text(build_document()), encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
