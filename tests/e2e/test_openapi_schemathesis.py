"""schemathesis against the live hub and its own OpenAPI document: no server error, no answer that
breaks the schema (status codes, content types, headers, bodies), on every operation."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningHub

pytestmark = pytest.mark.e2e

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


@pytest.mark.hub_settings(
    security={
        "rate_limit_per_s": 10_000, "rate_limit_burst": 10_000,
        "address_rate_limit_per_s": 10_000, "address_rate_limit_burst": 10_000,
    }
)
async def test_schemathesis_finds_no_server_error_and_no_schema_violation(running_hub: RunningHub, tmp_path: Path) -> None:
    hub = running_hub
    # Something to find: one message with entities, so reads of real ids are exercised too.
    from tests.e2e.test_hub_end_to_end import p02_rows, to_csv

    status, _ = await hub.post(to_csv(p02_rows(2)), "text/csv; charset=utf-8")
    assert status == 202
    schemathesis = Path(sys.executable).with_name("schemathesis")
    command = [
        str(schemathesis), "run", f"{hub.url}/api/v1/openapi.json",
        "--header", f"Authorization: Bearer {hub.admin_token}",
        "--checks", CHECKS,
        "--max-examples", os.environ.get("PRASAN_SCHEMATHESIS_EXAMPLES", "15"),
        "--phases", "examples,coverage,fuzzing",
        "--workers", "1",
        "--seed", "4",
        "--request-timeout", "20",
        "--suppress-health-check", "all",
        "--no-color",
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    text = output.decode("utf-8", "replace")
    assert process.returncode == 0, text[-15000:]
    assert "No issues found" in text or "passed" in text.lower(), text[-3000:]
    # The fuzzer changed routes, clients and tokens at will; the hub must still answer its token.
    async with hub.http.get(f"{hub.url}/api/v1/plugins", headers={"Authorization": f"Bearer {hub.admin_token}"}) as response:
        assert response.status == 200
