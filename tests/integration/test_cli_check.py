"""`prasan check`: what `prasan serve` would refuse, said before anything starts, by system and setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from prasan.cli import main
from tests.unimportable_plugin import install_unimportable_plugin


@pytest.fixture(autouse=True)
def _quiet_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRASAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PRASAN_CONFIG_DIR", raising=False)
    monkeypatch.delenv("PRASAN_CONFIG", raising=False)


def test_a_destination_without_its_secret_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "ok\teplan" in out
    assert "problem\tsystem 'elaas', setting api_key (Field required) (a destination of an enabled route)" in out
    assert "prasan serve would refuse to start" in out


def test_a_configured_hub_passes(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRASAN_SYSTEMS__ELAAS__API_KEY", "k")
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "ok\telaas" in out and "problem" not in out


def test_an_unknown_setting_is_named(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRASAN_SYSTEMS__ELAAS__API_KEY", "k")
    monkeypatch.setenv("PRASAN_SYSTEMS__EPLAN__PAGESIZE", "10")  # a typo of page_size
    assert main(["check"]) == 1
    assert "system 'eplan', setting pagesize (Extra inputs are not permitted)" in capsys.readouterr().out


def test_an_unused_unconfigured_system_is_only_noted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "routes.yaml").write_text("routes: []\n", encoding="utf-8")
    monkeypatch.setenv("PRASAN_CONFIG_DIR", str(config))
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "unused\telaas: not configured, and no route or pull uses it" in out and "problem" not in out


def test_a_route_to_a_system_whose_plugin_failed_is_a_problem_naming_the_plugin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The installed e-LAAS plugin is replaced by one that cannot be imported; the default route needs it.
    install_unimportable_plugin(monkeypatch, "elaas", "prasan_elaas_v9")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "unknown destination 'elaas'" in out and "prasan_elaas_v9" in out
