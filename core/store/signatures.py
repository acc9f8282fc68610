"""Signed requests already seen, so that a captured one cannot be sent again.

The `signature` column keeps what identifies a used request: since the nonce was signed, the hash of
the client and its nonce (core/signing.py `used_nonce_key`), 64 hex characters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from core.store.schema import used_signatures


def claim(conn: Connection, signature: str, client_id: str, expires_at: datetime, now: datetime) -> bool:
    """Record a used value (a client's nonce key) as used; False when it was used before and has not expired yet."""
    conn.execute(delete(used_signatures).where(used_signatures.c.expires_at < now))
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    # ON CONFLICT DO NOTHING rather than catching an IntegrityError: on PostgreSQL a failed INSERT
    # would abort the whole transaction.
    stmt = insert(used_signatures).values(signature=signature, client_id=client_id, expires_at=expires_at)
    # RETURNING rather than rowcount, which psycopg reports as -1 for this statement.
    stmt = stmt.on_conflict_do_nothing(index_elements=[used_signatures.c.signature]).returning(used_signatures.c.signature)
    return conn.execute(stmt).first() is not None


def is_used(conn: Connection, signature: str) -> bool:
    return conn.execute(select(used_signatures.c.signature).where(used_signatures.c.signature == signature)).first() is not None
