"""The end of a test run names what was skipped by group and why (tests/conftest.py), so a developer sees
at once that PostgreSQL or Prometheus were missing rather than a long list of SKIPPED lines."""

from __future__ import annotations

import pytest

from tests.conftest import summarise_skips


def _skipped(reason: str, *markers: str) -> pytest.TestReport:
    keywords = {"test_x": 1, **{m: 1 for m in markers}}
    return pytest.TestReport("t.py::test_x", ("t.py", 1, "test_x"), keywords, "skipped", ("t.py", 2, f"Skipped: {reason}"), "setup")


def test_skips_are_summarised_by_group_with_their_reasons() -> None:
    no_pg = "PRASAN_TEST_POSTGRES_URL not set"
    reports = [
        *[_skipped(no_pg, "postgres") for _ in range(3)],
        _skipped(no_pg),  # a fixture asking for the server, without the marker
        _skipped("promtool not installed (apt-get install prometheus)"),
        _skipped("prometheus not installed (apt-get install prometheus)"),
        _skipped("shared data not present"),
        _skipped("no browser: /usr/bin/chromium not found (apt-get install chromium)", "browser"),
    ]
    assert summarise_skips(reports) == [
        f"4 PostgreSQL tests (no server: {no_pg})",
        "2 Prometheus tests (promtool not installed (apt-get install prometheus); "
        "prometheus not installed (apt-get install prometheus))",
        "1 browser test (no browser: /usr/bin/chromium not found (apt-get install chromium))",
        "1 other test (shared data not present)",
    ]


def test_a_collection_skip_counts_too() -> None:
    report = pytest.CollectReport("t.py", "skipped", ("t.py", 1, "Skipped: needs psycopg"), [])
    assert summarise_skips([report]) == ["1 other test (needs psycopg)"]
