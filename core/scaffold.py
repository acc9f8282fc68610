"""`prasan plugin new NAME`: a separate, installable plugin package that passes its own tests as generated.

The templates are package data (`core/scaffold_template/*.tmpl`, installed with the wheel); `{{key}}` in
them is replaced by the values below, and nothing else is touched. What is generated is described in
docs/plugins.md; its README says how to develop, test, install and route to it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from core.contract import SYSTEM_NAME_PATTERN
from core.paths import package_folder

TEMPLATES = "core.scaffold_template"
# template file -> where it goes in the generated folder ({package} is prasan_NAME)
LAYOUT = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "gitignore.tmpl": ".gitignore",
    "init.py.tmpl": "{package}/__init__.py",
    "mapping.yaml.tmpl": "{package}/mapping.yaml",
    "simulator.py.tmpl": "{package}/simulator.py",
    "sample.json.tmpl": "samples/plan_project.json",
    "test_conformance.py.tmpl": "tests/test_conformance.py",
}
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


class ScaffoldError(Exception):
    """The plugin cannot be generated as asked (a bad name, an existing folder)."""


def class_name(name: str) -> str:
    """`my_agency` -> `MyAgency`."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def values_for(name: str, title: str | None = None, owner_agency: str | None = None) -> dict[str, str]:
    title = title or name
    owner_agency = owner_agency or "TODO: the agency that runs this system"
    return {
        "name": name,
        "NAME": name.upper(),
        "Class": class_name(name),
        "title_text": title,
        "title": json.dumps(title, ensure_ascii=False),  # a Python string literal
        "title_toml": json.dumps(f"Prasan plugin: {title}", ensure_ascii=False),  # a TOML basic string
        "owner_agency": json.dumps(owner_agency, ensure_ascii=False),
    }


def render(template: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"template placeholder {{{{{key}}}}} has no value")
        return values[key]

    return _PLACEHOLDER.sub(replace, template)


def new_plugin(
    name: str, dest: str | Path = ".", *, title: str | None = None, owner_agency: str | None = None
) -> Path:
    """Write `prasan-NAME/` under `dest` and answer its path; refuses a bad name or an existing folder."""
    if not re.match(SYSTEM_NAME_PATTERN, name):
        raise ScaffoldError(
            f"{name!r} is not a system name: lower-case letters, digits and _, starting with a letter, "
            f"2 to 32 characters ({SYSTEM_NAME_PATTERN})"
        )
    target = Path(dest) / f"prasan-{name}"
    if target.exists():
        raise ScaffoldError(f"{target} already exists; nothing was written")
    values = values_for(name, title, owner_agency)
    templates = package_folder(TEMPLATES)
    files = {
        relative.format(package=f"prasan_{name}"): render((templates / template).read_text(encoding="utf-8"), values)
        for template, relative in LAYOUT.items()
    }
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
