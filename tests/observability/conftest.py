"""Observability tests reuse the end-to-end hub (tests/e2e/conftest.py): real hub, real simulators."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.e2e.conftest import database_url, running_hub  # noqa: F401  (fixtures shared with e2e)

REQUIRE_PROMETHEUS_ENV = "PRASAN_REQUIRE_PROMETHEUS"


def prometheus_binary(name: str) -> str:
    """Path of `promtool` or `prometheus` (Debian package `prometheus`); skips without it, unless
    PRASAN_REQUIRE_PROMETHEUS=1 makes that a failure so CI cannot pass without checking."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get(REQUIRE_PROMETHEUS_ENV) == "1":
        pytest.fail(f"{REQUIRE_PROMETHEUS_ENV}=1 but {name} is not installed (apt-get install prometheus)")
    pytest.skip(f"{name} not installed (apt-get install prometheus)")
