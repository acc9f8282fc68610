"""`make run` runs `prasan demo`: it must print a working curl command and write var/demo.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _wait_for(path: Path, process: subprocess.Popen, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"prasan demo exited early: {process.stderr.read() if process.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError("prasan demo did not write demo.json")
        time.sleep(0.1)


def test_demo_prints_a_curl_that_works(tmp_path: Path) -> None:
    env = {**os.environ, "PRASAN_VAR_DIR": str(tmp_path), "PRASAN_LOG_FORMAT": "json"}
    env.pop("PRASAN_DATABASE_URL", None)
    prasan = Path(sys.executable).with_name("prasan")
    process = subprocess.Popen(
        [str(prasan), "demo", "--port", "0"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for(tmp_path / "demo.json", process)
        demo = json.loads((tmp_path / "demo.json").read_text(encoding="utf-8"))
        assert set(demo) >= {"hub_url", "admin_token", "clients", "simulators"}
        assert set(demo["simulators"]) == {"eplan", "elaas", "egp", "gfmis", "ebudget", "sola"} and "eplan" in demo["clients"]
        request = urllib.request.Request(
            f"{demo['hub_url']}/api/v1/plugins", headers={"Authorization": f"Bearer {demo['admin_token']}"}
        )
        with urllib.request.urlopen(request) as response:
            assert {p["name"] for p in json.load(response)} == {"eplan", "elaas", "egp", "gfmis", "ebudget", "sola"}
        printed = []
        while not any("--data-binary" in line for line in printed):
            line = process.stdout.readline()
            if not line:
                raise AssertionError(f"the demo's output ended before its curl command: {printed}")
            printed.append(line)
        start = next(i for i, line in enumerate(printed) if line.strip().startswith("curl -sS -X POST"))
        command = " ".join(line.strip().rstrip("\\") for line in printed[start:])
        assert demo["clients"]["eplan"] in command and demo["hub_url"] in command
        result = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=60)
        answer = json.loads(result.stdout)
        assert answer["accepted"] > 0 and answer["rejected"] == []
        deadline = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(f"{demo['simulators']['elaas']}/_sim/records") as response:
                written = json.load(response)["documents"]
            if len(written) == answer["accepted"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(written) == answer["accepted"]
    finally:
        process.terminate()
        process.wait(timeout=10)
