"""Where settings, routes, reference data and the database are looked for (core/paths.py, core/settings.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.paths import SHIPPED_CONFIG_DIR, SHIPPED_ROUTES_FILE, package_folder
from core.reference_data import load_reference_data
from core.settings import HubSettings


@pytest.fixture(autouse=True)
def no_prasan_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("PRASAN_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)


def test_the_shipped_configuration_holds_reference_data_routes_and_monitoring_files() -> None:
    for part in ("codelists", "crosswalks", "masterdata", "prometheus", "grafana"):
        assert (SHIPPED_CONFIG_DIR / part).is_dir(), part
    assert (SHIPPED_CONFIG_DIR / "masterdata" / "ATTRIBUTION.md").is_file()
    assert SHIPPED_ROUTES_FILE == SHIPPED_CONFIG_DIR / "routes.yaml" and SHIPPED_ROUTES_FILE.is_file()


def test_without_an_operator_folder_the_shipped_routes_apply_and_var_is_under_the_working_folder() -> None:
    settings = HubSettings()
    assert settings.config_dir is None
    assert settings.routes_file == SHIPPED_ROUTES_FILE
    assert settings.var_dir == Path.cwd() / "var"
    assert settings.resolved_database_url == f"sqlite:///{Path.cwd() / 'var' / 'prasan.db'}"


def test_the_operator_folder_gives_hub_yaml_and_routes_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    operator = tmp_path / "etc"
    operator.mkdir()
    (operator / "hub.yaml").write_text("http_port: 9191\nlog_level: warning\n", encoding="utf-8")
    (operator / "routes.yaml").write_text("routes: []\n", encoding="utf-8")
    monkeypatch.setenv("PRASAN_CONFIG_DIR", str(operator))
    monkeypatch.setenv("PRASAN_LOG_LEVEL", "debug")  # the environment wins over hub.yaml
    settings = HubSettings()
    assert settings.config_dir == operator
    assert settings.routes_file == operator / "routes.yaml"
    assert (settings.http_port, settings.log_level) == (9191, "debug")


def test_an_operator_folder_without_routes_yaml_keeps_the_shipped_routes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PRASAN_CONFIG_DIR", str(tmp_path))
    assert HubSettings().routes_file == SHIPPED_ROUTES_FILE
    assert HubSettings(config_dir=tmp_path).routes_file == SHIPPED_ROUTES_FILE


def test_a_missing_operator_folder_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PRASAN_CONFIG_DIR", str(tmp_path / "typo"))
    with pytest.raises(ValidationError, match="configuration folder .*typo does not exist"):
        HubSettings()


def test_prasan_config_names_the_hub_yaml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hub_yaml = tmp_path / "elsewhere.yaml"
    hub_yaml.write_text("http_port: 9292\n", encoding="utf-8")
    monkeypatch.setenv("PRASAN_CONFIG", str(hub_yaml))
    assert HubSettings().http_port == 9292


def test_prasan_var_dir_moves_the_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PRASAN_VAR_DIR", str(tmp_path / "state"))
    assert HubSettings().resolved_database_url == f"sqlite:///{tmp_path / 'state' / 'prasan.db'}"


def test_reference_data_is_the_shipped_copy_for_an_operator_folder(tmp_path: Path) -> None:
    (tmp_path / "routes.yaml").write_text("routes: []\n", encoding="utf-8")
    shipped = load_reference_data()
    assert load_reference_data(tmp_path) is shipped
    assert shipped.config_dir == SHIPPED_CONFIG_DIR.resolve() and len(shipped.organizations) == 7849


def test_plugin_samples_are_found_where_the_plugin_is_installed() -> None:
    import plugins.eplan

    assert package_folder("plugins.eplan") == Path(plugins.eplan.__file__).resolve().parent
    assert (package_folder("plugins.eplan") / "samples" / "p02_utf8_bom.csv").is_file()
