"""A plugin that is installed (its entry point is listed) but cannot be imported, as when a package it
needs is missing: for the tests of how the hub, `prasan check` and the registry report it."""

from __future__ import annotations

import importlib.metadata as md
from typing import Any

import pytest


def install_unimportable_plugin(monkeypatch: pytest.MonkeyPatch, name: str, missing_module: str) -> None:
    """List a `prasan.plugins` entry point `name` whose import fails for want of `missing_module`, in
    place of an installed plugin of that name if there is one."""
    real = md.entry_points

    class Unimportable:
        group = "prasan.plugins"

        def __init__(self) -> None:
            self.name = name

        def load(self) -> Any:
            raise ModuleNotFoundError(f"No module named '{missing_module}'")

    def entry_points(group: str | None = None) -> list[Any]:
        return [*[e for e in real(group=group) if e.name != name], Unimportable()]

    monkeypatch.setattr(md, "entry_points", entry_points)
