"""Built-in plugins are written as an outsider would write one: they import the hub only through `prasan`,
so the inside of the hub can move without breaking any plugin."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
HUB_PACKAGES = {"core", "admin_api", "canonical_model"}


def hub_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [name for name in names if name.split(".")[0] in HUB_PACKAGES]
    return found


@pytest.mark.parametrize("path", sorted(PLUGINS.rglob("*.py")), ids=lambda p: str(p.relative_to(PLUGINS)))
def test_a_plugin_module_imports_the_hub_only_through_prasan(path: Path) -> None:
    assert hub_imports(path) == [], f"{path.name} reaches into the hub; import from prasan instead"


def test_the_check_sees_a_reach_into_the_hub(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import json\nfrom core.errors import ConfigError\nfrom prasan import Delivered\n")
    assert hub_imports(module) == ["core.errors"]
