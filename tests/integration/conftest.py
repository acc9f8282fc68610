"""Store fixtures: every store test runs on SQLite and, when a server is given, on PostgreSQL.

The PostgreSQL fixtures (`postgres_schema_url`) live in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.store import Store, make_store_url_for_sqlite

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
