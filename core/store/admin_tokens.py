"""Admin bearer tokens: like API client keys, shown once and stored only as a SHA-256 hash."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from core.store.clients import find_enabled_by_secret, hash_key
from core.store.records import AdminToken
from core.store.schema import admin_tokens
from core.store.util import from_row

# A prefix distinct from producer keys (prs_) so that a key pasted into the wrong place is obvious
# in logs and can never match the other table by accident.
TOKEN_PREFIX = "prsadm_"
ROLES = ("analyst", "viewer", "operator", "admin")


def _token(row: Any) -> AdminToken:
    return from_row(AdminToken, row, disabled=bool(row.disabled))


def add_token(conn: Connection, name: str, role: str, now: datetime) -> tuple[AdminToken, str]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = uuid.uuid4().hex
    conn.execute(
        insert(admin_tokens),
        [
            {
                "token_id": token_id,
                "name": name,
                "role": role,
                "token_hash": hash_key(plain),
                "token_prefix": plain[:11],
                "created_at": now,
                "disabled": False,
            }
        ],
    )
    row = conn.execute(select(admin_tokens).where(admin_tokens.c.token_id == token_id)).one()
    return _token(row), plain


def authenticate(conn: Connection, plain: str) -> AdminToken | None:
    row = find_enabled_by_secret(conn, admin_tokens.c.token_hash, plain)
    return None if row is None else _token(row)


def list_tokens(conn: Connection) -> list[AdminToken]:
    return [_token(r) for r in conn.execute(select(admin_tokens).order_by(admin_tokens.c.name))]


def get_token(conn: Connection, name: str) -> AdminToken | None:
    row = conn.execute(select(admin_tokens).where(admin_tokens.c.name == name)).first()
    return None if row is None else _token(row)


def set_disabled(conn: Connection, name: str, disabled: bool) -> bool:
    return conn.execute(update(admin_tokens).where(admin_tokens.c.name == name).values(disabled=disabled)).rowcount == 1
