"""The alert rules, checked and unit-tested by promtool itself."""

from __future__ import annotations

import subprocess

from core.paths import SHIPPED_CONFIG_DIR
from tests.observability.conftest import prometheus_binary

RULES_DIR = SHIPPED_CONFIG_DIR / "prometheus"


def test_alert_rules_are_valid() -> None:
    result = subprocess.run(
        [prometheus_binary("promtool"), "check", "rules", str(RULES_DIR / "alerts.yml")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 12 rules found" in result.stdout


def test_alert_rules_pass_their_unit_tests() -> None:
    result = subprocess.run(
        [prometheus_binary("promtool"), "test", "rules", "alerts_test.yml"],
        cwd=RULES_DIR, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
