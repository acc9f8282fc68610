"""`make run` runs `prasan demo`: it must print working curl commands and write var/demo.json; run again
on the same var folder, the hub and the simulators it delivers to keep what they had."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = {"eplan", "elaas", "egp", "gfmis", "ebudget", "sola"}


def _wait_for(path: Path, process: subprocess.Popen, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"prasan demo exited early: {process.stderr.read() if process.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError("prasan demo did not write demo.json")
        time.sleep(0.1)


def _printed_until(process: subprocess.Popen, marker: str) -> list[str]:
    printed: list[str] = []
    while not any(marker in line for line in printed):
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"the demo's output ended before {marker!r}: {printed}")
        printed.append(line)
    return printed


def _command(printed: list[str], start: str) -> str:
    """The (possibly continued) shell command starting with `start`."""
    first = next(i for i, line in enumerate(printed) if line.strip().startswith(start))
    parts = []
    for line in printed[first:]:
        parts.append(line.strip().rstrip("\\"))
        if not line.rstrip().endswith("\\"):
            break
    return " ".join(parts)


def _sh(command: str) -> Any:
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=60)
    return json.loads(result.stdout)


def _elaas_documents(url: str, expected: int) -> list[dict]:
    deadline = time.monotonic() + 30  # delivery is asynchronous: wait for it, not for a time
    while True:
        with urllib.request.urlopen(f"{url}/_sim/records") as response:
            written = json.load(response)["documents"]
        if len(written) >= expected or time.monotonic() > deadline:
            return written
        time.sleep(0.1)


def _run_demo(var: Path) -> tuple[subprocess.Popen, dict, list[str]]:
    (var / "demo.json").unlink(missing_ok=True)
    env = {**os.environ, "PRASAN_VAR_DIR": str(var), "PRASAN_LOG_FORMAT": "json"}
    env.pop("PRASAN_DATABASE_URL", None)
    prasan = Path(sys.executable).with_name("prasan")
    process = subprocess.Popen(
        [str(prasan), "demo", "--port", "0"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _wait_for(var / "demo.json", process)
    demo = json.loads((var / "demo.json").read_text(encoding="utf-8"))
    return process, demo, _printed_until(process, "ENTITY_ID")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    assert process.wait(timeout=30) == 0  # SIGTERM drains and exits cleanly (prasan/cli/shutdown.py)


def test_demo_prints_a_curl_that_works(tmp_path: Path) -> None:
    process, demo, printed = _run_demo(tmp_path)
    try:
        assert set(demo) >= {"hub_url", "admin_token", "clients", "simulators"}
        assert set(demo["simulators"]) == SYSTEMS and "eplan" in demo["clients"]
        request = urllib.request.Request(
            f"{demo['hub_url']}/api/v1/plugins", headers={"Authorization": f"Bearer {demo['admin_token']}"}
        )
        with urllib.request.urlopen(request) as response:
            assert {p["name"] for p in json.load(response)} == SYSTEMS
        post = _command(printed, "curl -sS -X POST")
        assert demo["clients"]["eplan"] in post and demo["hub_url"] in post
        answer = _sh(post)
        assert answer["accepted"] > 0 and answer["rejected"] == []
        assert len(_elaas_documents(demo["simulators"]["elaas"], answer["accepted"])) == answer["accepted"]

        # The printed curls show the entities and one entity with its deliveries.
        listed = _sh(_command(printed, "curl -sS -H"))
        ids = {e["id"] for e in answer["entities"]}
        assert ids & {e["id"] for e in listed}
        entity_id = sorted(ids)[0]
        detail_line = next(line for line in printed if "ENTITY_ID" in line)
        detail = _sh(detail_line.strip().replace("ENTITY_ID", entity_id))
        assert detail["id"] == entity_id and any(d["destination"] == "elaas" for d in detail["deliveries"])
    finally:
        _stop(process)


def test_a_restarted_demo_keeps_the_hub_and_its_simulators_in_step(tmp_path: Path) -> None:
    process, demo, printed = _run_demo(tmp_path)
    try:
        first = _sh(_command(printed, "curl -sS -X POST"))
        assert first["accepted"] > 0 and all(e["changed"] for e in first["entities"])
        assert len(_elaas_documents(demo["simulators"]["elaas"], first["accepted"])) == first["accepted"]
    finally:
        _stop(process)

    process, demo, printed = _run_demo(tmp_path)  # `make run` again, on the same var folder
    try:
        assert not any(line.startswith("Started afresh") for line in printed)
        again = _sh(_command(printed, "curl -sS -X POST"))
        # The hub remembers the sample, so nothing changed ...
        assert again["accepted"] == first["accepted"] and not any(e["changed"] for e in again["entities"])
        assert {e["id"] for e in again["entities"]} == {e["id"] for e in first["entities"]}
        # ... and the simulator it delivered to still shows the records.
        with urllib.request.urlopen(f"{demo['simulators']['elaas']}/_sim/records") as response:
            assert len(json.load(response)["documents"]) == first["accepted"]
        assert (tmp_path / "simulators" / "elaas").is_dir() and (tmp_path / "simulators" / "eplan").is_dir()
    finally:
        _stop(process)


def _admin(demo: dict, method: str, path: str, body: dict | None = None) -> Any:
    request = urllib.request.Request(
        f"{demo['hub_url']}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {demo['admin_token']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def test_a_demo_delivering_to_a_simulator_without_state_starts_afresh_and_says_so(tmp_path: Path) -> None:
    # SOLA's simulator keeps its records in memory: once a route delivers to it, a kept database would
    # remember deliveries the restarted simulator no longer has.
    route = {"name": "eplan-projects-to-sola", "source": "eplan", "entity_types": ["plan_project"], "destinations": ["sola"]}
    process, demo, _ = _run_demo(tmp_path)
    try:
        _admin(demo, "PUT", f"/api/v1/routes/{route['name']}", route)
    finally:
        _stop(process)

    process, demo, printed = _run_demo(tmp_path)
    try:
        [note] = [line for line in printed if line.startswith("Started afresh")]
        assert "sola" in note and str(tmp_path / "prasan.db") in note
        assert route["name"] not in {r["name"] for r in _admin(demo, "GET", "/api/v1/routes")}
        answer = _sh(_command(printed, "curl -sS -X POST"))
        assert answer["accepted"] > 0 and all(e["changed"] for e in answer["entities"])
    finally:
        _stop(process)


def test_the_pilot_scenario_plays_against_the_demo_as_it_prints(tmp_path: Path) -> None:
    process, demo, printed = _run_demo(tmp_path)
    try:
        printed += _printed_until(process, "prasan pilot")
        command = _command(printed, "prasan pilot")
        prasan = Path(sys.executable).with_name("prasan")
        played = subprocess.run(
            ["bash", "-c", command.replace("prasan", str(prasan), 1)], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert played.returncode == 0, played.stdout + played.stderr
        told = played.stdout.splitlines()
        chain = _sh(_command(told, "curl -sS"))
        assert {x["system"] for x in chain["root"]["xrefs"]} == {"eplan", "elaas", "ebudget"}
        kinds = {group: len(chain[group]) for group in ("budget_requests", "procurements", "contracts", "disbursements")}
        assert kinds == {"budget_requests": 1, "procurements": 1, "contracts": 1, "disbursements": 1}
        assert any(line.startswith("  disbursement: gfmis 15008:2570:3100012345:1; amount 1099000.00") for line in told)
    finally:
        _stop(process)
