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


