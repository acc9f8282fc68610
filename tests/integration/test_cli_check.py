"""`prasan check`: what `prasan serve` would refuse, said before anything starts, by system and setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import main


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
