"""Store fixtures: every store test runs on SQLite and, when a server is given, on PostgreSQL.

PostgreSQL comes from PRASAN_TEST_POSTGRES_URL (see scripts/ci_postgres.sh). Without it the
PostgreSQL cases are skipped, unless PRASAN_REQUIRE_POSTGRES=1, which turns the skip into a failure
so that CI cannot pass while silently testing only SQLite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from core.store import Store, make_store_url_for_sqlite

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


def _make_store(request: pytest.FixtureRequest, tmp_path) -> Store:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return Store(make_store_url_for_sqlite(tmp_path / "var" / "prasan.db"))
    return Store(request.getfixturevalue("postgres_schema_url"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    """A store on an empty database, migrations not yet applied."""
    store = _make_store(request, tmp_path)
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture
def store(empty_store: Store) -> Store:
    """A migrated store, on SQLite and on PostgreSQL."""
    empty_store.upgrade()
    return empty_store


@pytest.fixture
def pg_store(postgres_schema_url: str) -> Iterator[Store]:
    """A migrated store on PostgreSQL only, for the tests about several processes at once."""
    store = Store(postgres_schema_url, pool_size=10)
    store.upgrade()
    try:
        yield store
    finally:
        store.dispose()
