"""Alembic migrations of the store, run programmatically by `Store.upgrade()` (no alembic.ini needed)."""
