"""Where the hub finds its files: the one module that knows (nothing else computes these paths).

Three kinds of folder, kept apart so that the hub runs the same from a source checkout and from a wheel:

- **shipped configuration** (read-only, comes with the code): code lists, crosswalks, master data with
  its ``ATTRIBUTION.md``, the default ``routes.yaml``, the Prometheus rules and the Grafana dashboard. The
  repository keeps them in its top-level folder ``config/``; the wheel installs that folder as the data-only
  package ``core._shipped_config`` (``package-dir`` in setup.py). In a checkout (editable install, or the
  tree on ``sys.path``) there is no ``core/_shipped_config`` and ``config/`` next to ``core/`` is used.
- **operator configuration** (``PRASAN_CONFIG_DIR``, settings field ``config_dir``): ``hub.yaml`` and
  ``routes.yaml`` of one installation; unset means the shipped defaults only. Reference data is never read
  from there, so adding a route does not mean copying the organisation registry.
- **var** (``PRASAN_VAR_DIR``, settings field ``var_dir``): the embedded SQLite database and ``demo.json``;
  by default ``./var`` under the current working directory, never inside the installed package.
"""

from __future__ import annotations

import importlib
from pathlib import Path

_CORE = Path(__file__).resolve().parent

# The name the repository folder `config/` is installed under (setup.py maps it; keep the two in step).
SHIPPED_CONFIG_PACKAGE = "core._shipped_config"


def _shipped_config_dir() -> Path:
    installed = _CORE / "_shipped_config"  # a wheel: the package data next to this module
    if installed.is_dir():
        return installed
    return _CORE.parent / "config"  # a source checkout


SHIPPED_CONFIG_DIR: Path = _shipped_config_dir()
"""Code lists (``codelists/``), crosswalks (``crosswalks/``), master data (``masterdata/``), ``routes.yaml``,
``prometheus/`` and ``grafana/`` as shipped with this version of the hub."""

SHIPPED_ROUTES_FILE: Path = SHIPPED_CONFIG_DIR / "routes.yaml"
"""The routes in force when the operator's configuration folder has no ``routes.yaml``."""


SHIPPED_IDENTITY_FILE: Path = SHIPPED_CONFIG_DIR / "identity.yaml"
"""Which records of different systems are the same record, and which system owns which fields."""

SHIPPED_RECONCILIATION_FILE: Path = SHIPPED_CONFIG_DIR / "reconciliation.yaml"
"""The rules that flag amounts disagreeing across systems, with their thresholds."""


def default_var_dir() -> Path:
    """``./var`` under the current working directory (``PRASAN_VAR_DIR`` overrides it in the settings)."""
    return Path.cwd() / "var"


def package_folder(module_name: str) -> Path:
    """The folder of an installed package (e.g. ``plugins.eplan``), wherever it was installed."""
    module = importlib.import_module(module_name)
    if getattr(module, "__file__", None):
        return Path(module.__file__).resolve().parent
    return Path(next(iter(module.__path__))).resolve()  # a namespace package
