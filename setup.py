"""The package list for setuptools; everything else about the build is in pyproject.toml.

The repository keeps the configuration shipped with the hub (code lists, crosswalks, master data, default
routes, Prometheus rules, Grafana dashboard) in its top-level folder `config/`, which holds data, not Python.
The wheel installs that folder as the data-only package `core._shipped_config`, where core/paths.py finds
it. pyproject.toml cannot add a package with a folder of its own to those `packages.find` discovers, hence
this file: the packages found as before, plus that one and its sub-folders, mapped onto `config/` by
`package_dir`. Which files of them are installed is said in pyproject.toml (package-data).
"""

from setuptools import find_namespace_packages, setup

SHIPPED_CONFIG = "core._shipped_config"  # core/paths.py: SHIPPED_CONFIG_PACKAGE

setup(
    packages=[
        *find_namespace_packages(
            include=["core*", "plugins*", "canonical_model*", "admin_api*", "prasan*"],
            exclude=["*.__pycache__", "*.__pycache__.*"],
        ),
        SHIPPED_CONFIG,
        *(f"{SHIPPED_CONFIG}.{folder}" for folder in find_namespace_packages(where="config")),
    ],
    package_dir={SHIPPED_CONFIG: "config"},
)
