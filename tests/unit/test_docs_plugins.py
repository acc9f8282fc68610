"""docs/plugins.md documents the whole plugin contract: every public method of AgencySystem, every helper of
RestSystem, every method of the Registrar, with its name and parameters, every declaration, and the hook.

A method counts as documented when the guide shows it called with all its parameters by name, e.g.
`add_converter(name, args, build, *, primary=None, needs_reference=False)` (defaults and annotations may
be left out). Adding a method or a parameter to the contract without documenting it fails here.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from core import hookspecs
from core.contract import AgencySystem, Registrar
from core.http_system import RestSystem

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
TEXT = DOC.read_text(encoding="utf-8")


def _public_methods(cls: type, *, own: bool) -> dict[str, inspect.Signature]:
    """Public functions (methods, classmethods) of `cls`: defined by it (`own`) or by it and its bases."""
    found = {}
    for name in (vars(cls) if own else dir(cls)):
        if name.startswith("_") or (not own and name not in vars(cls)):
            continue
        member = inspect.getattr_static(cls, name)
        function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if inspect.isfunction(function):
            found[name] = inspect.signature(getattr(cls, name))
    return found


def _parameters(signature: inspect.Signature) -> list[str]:
    return [p.name for p in signature.parameters.values() if p.name not in ("self", "cls")]


CONTRACT = {
    **{f"AgencySystem.{name}": sig for name, sig in _public_methods(AgencySystem, own=True).items()},
    "AgencySystem.__init__": inspect.signature(AgencySystem.__init__),
    **{f"RestSystem.{name}": sig for name, sig in _public_methods(RestSystem, own=True).items()},
    **{f"Registrar.{name}": sig for name, sig in _public_methods(Registrar, own=True).items()},
}


def test_the_walk_finds_the_contract() -> None:
    # Guards the walk itself: if it found nothing, every other test here would pass vacuously.
    assert {"AgencySystem.write", "AgencySystem.simulator_settings", "RestSystem.send", "RestSystem.pages",
            "Registrar.add_converter", "AgencySystem.__init__"} <= set(CONTRACT)


@pytest.mark.parametrize("qualified", sorted(CONTRACT))
def test_every_method_is_documented_with_its_parameters(qualified: str) -> None:
    name = qualified.split(".", 1)[1]
    wanted = _parameters(CONTRACT[qualified])
    shown = [match.group(1) for match in re.finditer(rf"\b{re.escape(name)}\(([^()]*)\)", TEXT)]
    assert shown, f"{qualified} is not documented in docs/plugins.md (as `{name}({', '.join(wanted)})`)"
    named = [set(re.findall(r"[A-Za-z_]\w*", args)) for args in shown]
    assert any(set(wanted) <= words for words in named), (
        f"docs/plugins.md shows {qualified} as {[f'{name}({a})' for a in shown]}, "
        f"but its parameters are {wanted}"
    )


DECLARATIONS = [name for name in AgencySystem.__annotations__ if not name.startswith("_")] + [
    name for name in RestSystem.__annotations__ if name not in ("settings", "Settings")
]


@pytest.mark.parametrize("declaration", DECLARATIONS)
def test_every_declaration_is_documented(declaration: str) -> None:
    assert f"`{declaration}`" in TEXT, f"the declaration {declaration} is not in docs/plugins.md"


def _hooks() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(function)
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, "prasan_spec")
    }


def test_the_hook_has_its_section() -> None:
    hooks = _hooks()
    assert "prasan_register" in hooks
    for name, signature in hooks.items():
        heading = f"### `{name}({', '.join(signature.parameters)})`"
        assert heading in TEXT.splitlines(), f"docs/plugins.md needs a section headed {heading}"


def test_every_http_setting_is_documented() -> None:
    for field in RestSystem.Settings.model_fields:
        assert f"| `{field}` |" in TEXT, f"HttpSettings.{field} is not in the settings table of docs/plugins.md"


def test_every_conformance_check_is_listed() -> None:
    from prasan.testing import PluginConformance

    checks = [name for name in dir(PluginConformance) if name.startswith("test_")]
    assert checks
    missing = [name for name in checks if f"`{name}" not in TEXT]
    assert not missing, f"conformance checks not listed in docs/plugins.md: {missing}"
