"""`prasan simulate SYSTEM`: a simulator in a process of its own, which prints where it is and what the hub
needs to reach it, and with --state keeps what it received across a restart."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def start(*args: str) -> tuple[subprocess.Popen[str], str, dict]:
    process = subprocess.Popen(
        [sys.executable, "-m", "prasan.cli", "simulate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    url_line = process.stdout.readline()
    settings_line = process.stdout.readline()
    if not url_line:
        process.kill()
        raise AssertionError(f"simulate exited: {process.stderr.read() if process.stderr else ''}")
    url = url_line.split(": ", 1)[1].strip()
    settings = json.loads(settings_line.split(": ", 1)[1])
    return process, url, settings


def post(url: str, body: dict, key: str, idempotency_key: str) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Api-Key": key, "Idempotency-Key": idempotency_key},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_a_simulator_runs_alone_and_keeps_its_state_across_a_restart(tmp_path: Path) -> None:
    from plugins.elaas.guids import default_guids

    plan_guid = default_guids().guid_of("local-classification", "00240")
    document = {"LaoCode": "5400103", "Lines": [{"BudgetYear": 2568, "Amount": "100.00", "Description": "ถนน", "PlanGUID": plan_guid}]}
    process, url, settings = start("elaas", "--state", str(tmp_path / "elaas"))
    try:
        assert settings["base_url"] == url and settings["api_key"]
        first = post(f"{url}/api/BudgetExpense", document, settings["api_key"], "k-1")
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
    process, url, settings = start("elaas", "--state", str(tmp_path / "elaas"))
    try:
        again = post(f"{url}/api/BudgetExpense", document, settings["api_key"], "k-1")
        assert again["d"]["RecordID"] == first["d"]["RecordID"]  # a replay after the restart, not a new record
        log = get(f"{url}/_sim/log")["entries"]
        writes = [e for e in log if e.get("idempotency_key") == "k-1"]
        assert [e["replayed"] for e in writes] == [False, True]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_simulator_without_storage_says_so() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prasan.cli", "simulate", "egp", "--state", "/nonexistent-never-used"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0 and "keeps its state in memory only" in result.stderr
