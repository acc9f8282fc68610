"""Running the Alembic migrations from code, and telling /readyz whether the schema is current."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from core.store.engine import WRITE_OPTION

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any fixed number works; it only has to be the same in every hub process sharing one database.
_PG_MIGRATION_LOCK = 0x70726173  # "pras"


def alembic_config(url: str | None = None) -> Config:
    """A Config built in code, so no alembic.ini is needed anywhere."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser would read a '%' in a password as interpolation.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            # Several hub processes may start together; one migrates, the others wait and then
            # find nothing left to do.
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
        finally:
            if postgres:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn.execution_options(**{WRITE_OPTION: True})
        command.downgrade(cfg, revision)
        conn.commit()
