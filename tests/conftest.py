"""Fixtures shared by every test folder: the PostgreSQL server that CI starts (scripts/ci_postgres.sh).

PostgreSQL comes from PRASAN_TEST_POSTGRES_URL. Without it the PostgreSQL cases are skipped, unless
PRASAN_REQUIRE_POSTGRES=1, which turns the skip into a failure so that CI cannot pass while silently
testing only SQLite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import structlog
from sqlalchemy import create_engine, text

POSTGRES_URL_ENV = "PRASAN_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "PRASAN_REQUIRE_POSTGRES"


def postgres_url_or_skip() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {POSTGRES_URL_ENV} is not set; run scripts/ci_postgres.sh")
    pytest.skip(f"{POSTGRES_URL_ENV} not set (eval \"$(scripts/ci_postgres.sh)\" to start one)")


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections live in a fresh schema, dropped afterwards: tests never share tables."""
    base = postgres_url_or_skip()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()




# --- what was skipped, by group ----------------------------------------------------------------------
# `make test` runs everything the machine can run: without a PostgreSQL server or Prometheus' promtool
# those tests skip. Dozens of "SKIPPED" lines hide what is missing, so the run ends with one line per
# group and the reason, e.g. "skipped: 93 PostgreSQL tests (no server: ...), 4 Prometheus tests (...)".

SKIP_GROUPS = (
    # (group, label of its reason, test of a skipped report's keywords and reason)
    ("PostgreSQL", "no server: ", lambda keywords, reason: "postgres" in keywords or POSTGRES_URL_ENV in reason),
    ("Prometheus", "", lambda keywords, reason: "promtool" in reason or "prometheus" in reason.lower()),
    ("browser", "", lambda keywords, reason: "browser" in keywords),
)


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def summarise_skips(reports: list[pytest.TestReport | pytest.CollectReport]) -> list[str]:
    """'<n> <group> tests (<reasons>)' for each group of skipped reports, in the order of SKIP_GROUPS, then
    the rest by reason."""
    groups: dict[str, dict[str, int]] = {}
    labels: dict[str, str] = {}
    for report in reports:
        reason = _skip_reason(report)
        for name, label, belongs in SKIP_GROUPS:
            if belongs(set(getattr(report, "keywords", ())), reason):
                break
        else:
            name, label = "other", ""
        labels[name] = label
        reasons = groups.setdefault(name, {})
        reasons[reason] = reasons.get(reason, 0) + 1
    order = [name for name, _, _ in SKIP_GROUPS if name in groups] + (["other"] if "other" in groups else [])
    lines = []
    for name in order:
        count = sum(groups[name].values())
        why = "; ".join(sorted(groups[name], key=lambda r: -groups[name][r])[:3])
        noun = "test" if count == 1 else "tests"
        lines.append(f"{count} {name} {noun} ({labels[name]}{why})")
    return lines


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    # The outermost wrapper, so the line comes after pytest's own list of skips (-ra), just above the totals.
    yield
    reports = terminalreporter.stats.get("skipped", [])
    skipped = [r for r in reports if isinstance(r, pytest.TestReport | pytest.CollectReport)]
    if skipped:
        terminalreporter.write_line("skipped: " + ", ".join(summarise_skips(skipped)), yellow=True, bold=True)


@pytest.fixture(autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """A test that runs a CLI command in-process configures logging onto the stream pytest captures for it;
    later tests would then write into a closed stream. Every test ends with structlog's defaults again."""
    yield
    structlog.reset_defaults()
