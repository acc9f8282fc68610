"""The hub installed from its wheel, with no source tree anywhere near it.

The wheel is built offline from a copy of the build inputs (so that `build/` and `*.egg-info` are not
written into the checkout), installed with `--no-deps` into a fresh virtual environment whose only way to
the dependencies is a `.pth` line naming this environment's site-packages. A `.pth` line adds a folder to
`sys.path` without running the `.pth` files inside it, so the editable install of this checkout stays out:
the project can only come from the wheel. Then `prasan` runs from an empty folder: shipped configuration
(code lists, crosswalks, master data, default routes) and the plugins' samples must come from the installed
package, the SQLite database and demo.json go to `./var`, and an operator's routes.yaml in
PRASAN_CONFIG_DIR replaces the shipped routes while the reference data stays the shipped copy.

It takes some 15-30 s (build, a fresh venv, one demo run); `-m "not slow"` leaves it out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging.venvs import check as _check
from tests.packaging.venvs import fresh_venv

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
# What the build reads (the same as the Dockerfile copies).
PACKAGES = ["core", "plugins", "canonical_model", "admin_api", "prasan"]
BUILD_INPUTS = ["pyproject.toml", "setup.py", "README.md", *PACKAGES, "config"]
# Folders of the checkout that nothing in this test may write into.
WATCHED = ["config", "var", "build", "dist"]
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


@dataclass
class Installed:
    wheel: Path
    venv: Path
    site_packages: Path
    env: dict[str, str]
    source: Path  # the copy the wheel was built from

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name

    def run(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args], cwd=cwd, env=env or self.env, capture_output=True, text=True, timeout=120
        )


def _snapshot() -> set[Path]:
    """Every file (not bytecode) below the watched folders of the checkout, and its top-level names."""
    files = {p for p in ROOT.iterdir()}
    for name in WATCHED:
        folder = ROOT / name
        if folder.is_dir():
            files |= {p for p in folder.rglob("*") if "__pycache__" not in p.parts}
    return files


@pytest.fixture(scope="module")
def checkout_before() -> set[Path]:
    return _snapshot()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, checkout_before: set[Path]) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    source.mkdir()
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=JUNK)
        else:
            shutil.copy2(path, source / name)
    dist = base / "dist"
    _check(
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
             "-w", str(dist), str(source)],
            capture_output=True, text=True, timeout=180,
        )
    )
    [wheel] = dist.glob("prasan-*.whl")

    python, site_packages = fresh_venv(base)  # not the editable install of the checkout: the wheel
    venv = python.parents[1]

    outside = {"PYTHONPATH", "PYTHONHOME"}  # nothing of the checkout, nor of this test's settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRASAN_") and k not in outside}
    env |= {"PRASAN_LOG_FORMAT": "json", "PYTHONNOUSERSITE": "1"}
    _check(
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
             str(wheel)],
            capture_output=True, text=True, timeout=180, env=env,
        )
    )
    yield Installed(wheel, venv, site_packages, env, source)


@pytest.fixture
def empty_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    return folder


def test_every_file_of_the_packages_and_of_config_is_in_the_wheel(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        names = set(archive.namelist())
    expected = {
        p.relative_to(installed.source).as_posix()
        for package in PACKAGES
        for p in (installed.source / package).rglob("*")
        if p.is_file()
    }
    # config/ of the repository is installed as core/_shipped_config (core/paths.py); a hub.yaml is not shipped.
    config = installed.source / "config"
    expected |= {
        "core/_shipped_config/" + p.relative_to(config).as_posix()
        for p in config.rglob("*")
        if p.is_file() and p.relative_to(config).as_posix() != "hub.yaml"
    }
    assert expected - names == set(), "files missing from the wheel (package-data in pyproject.toml?)"
    assert "core/_shipped_config/masterdata/ATTRIBUTION.md" in names
    assert "plugins/eplan/samples/p02.xlsx" in names
    assert not any(n.startswith(("config/", "tests/", "var/")) for n in names)


def test_the_project_is_imported_from_the_wheel_and_finds_its_shipped_config(
    installed: Installed, empty_folder: Path
) -> None:
    code = (
        "import core, core.paths, plugins.eplan, importlib.metadata as m;"
        "print(core.__file__); print(core.paths.SHIPPED_CONFIG_DIR); print(plugins.eplan.__file__);"
        "print(m.distribution('prasan').locate_file(''))"
    )
    lines = _check(installed.run(installed.bin("python"), "-c", code, cwd=empty_folder)).stdout.split()
    for line in lines:
        assert Path(line).resolve().is_relative_to(installed.site_packages.resolve()), line
    assert Path(lines[1]).name == "_shipped_config"

    assert "demo" in _check(installed.run(installed.bin("prasan"), "--help", cwd=empty_folder)).stdout
    plugins = _check(installed.run(installed.bin("prasan"), "plugins", cwd=empty_folder)).stdout.splitlines()
    assert sorted(line.split("\t")[0] for line in plugins) == ["ebudget", "egp", "elaas", "eplan", "gfmis", "sola"]
    routes = _check(installed.run(installed.bin("prasan"), "routes", "list", cwd=empty_folder)).stdout
    assert routes.startswith("eplan-projects-to-elaas\t"), routes  # the shipped default routes
    assert (empty_folder / "var" / "prasan.db").is_file()  # ./var under the working folder


def _wait_for(path: Path, process: subprocess.Popen[str], limit_s: float = 45) -> None:
    deadline = time.monotonic() + limit_s
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"prasan demo exited early: {process.stderr.read() if process.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"prasan demo did not write {path}")
        time.sleep(0.1)


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_demo_runs_from_an_empty_folder_with_an_operator_routes_file(
    installed: Installed, empty_folder: Path, tmp_path: Path
) -> None:
    operator = tmp_path / "etc-prasan"  # only routes.yaml: no code lists, no registry copied
    operator.mkdir()
    shipped_routes = (installed.source / "config" / "routes.yaml").read_text(encoding="utf-8")
    assert "name: eplan-projects-to-elaas" in shipped_routes
    (operator / "routes.yaml").write_text(
        shipped_routes.replace("name: eplan-projects-to-elaas", "name: operator-eplan-to-elaas"), encoding="utf-8"
    )
    env = {**installed.env, "PRASAN_CONFIG_DIR": str(operator)}
    process = subprocess.Popen(
        [str(installed.bin("prasan")), "demo", "--port", "0"],
        cwd=empty_folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        demo_json = empty_folder / "var" / "demo.json"
        _wait_for(demo_json, process)
        demo = json.loads(demo_json.read_text(encoding="utf-8"))
        hub, token = demo["hub_url"], demo["admin_token"]
        assert _get(f"{hub}/healthz")[0] == 200
        status, page = _get(f"{hub}/p/26")  # the citizens' pages, from the templates the wheel installed
        assert status == 200 and "<h1>จังหวัดนครนายก" in page.decode("utf-8")
        deadline = time.monotonic() + 20
        while (ready := _get(f"{hub}/readyz"))[0] != 200:
            assert time.monotonic() < deadline, f"/readyz stayed {ready}"
            time.sleep(0.1)
        status, body = _get(f"{hub}/api/v1/routes", token)
        assert status == 200 and [r["name"] for r in json.loads(body)] == [
            "operator-eplan-to-elaas", "eplan-grant-projects-to-ebudget"
        ]

        printed: list[str] = []
        while not any("--data-binary" in line for line in printed):
            line = process.stdout.readline() if process.stdout else ""
            if not line:
                raise AssertionError(f"the demo's output ended before its curl command: {printed}")
            printed.append(line)
        start = next(i for i, line in enumerate(printed) if line.strip().startswith("curl -sS -X POST"))
        command = " ".join(line.strip().rstrip("\\") for line in printed[start:])
        # The sample is the installed plugin's, not one of the checkout.
        assert str(installed.site_packages.resolve() / "plugins" / "eplan" / "samples") in command
        result = subprocess.run(["bash", "-c", command], cwd=empty_folder, capture_output=True, text=True, timeout=60)
        answer = json.loads(result.stdout)
        # Every row accepted: organisation codes and code lists were checked against the shipped reference data.
        assert answer["accepted"] > 0 and answer["rejected"] == []
        deadline = time.monotonic() + 30
        while True:
            status, body = _get(f"{demo['simulators']['elaas']}/_sim/records")
            written = json.loads(body)["documents"]
            if len(written) == answer["accepted"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(written) == answer["accepted"]
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert (empty_folder / "var" / "prasan.db").is_file()
    assert sorted(p.name for p in operator.iterdir()) == ["routes.yaml"]  # nothing written to the operator's folder


def test_nothing_was_written_into_the_checkout(installed: Installed, checkout_before: set[Path]) -> None:
    # Runs after the others of this module (file order): the build, the installs and the demo are done.
    assert _snapshot() - checkout_before == set()
