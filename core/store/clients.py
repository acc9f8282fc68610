"""API clients: keys are shown once at creation and stored only as a SHA-256 hash.

The keys are 256-bit random tokens, so a fast hash is enough: there is nothing to brute-force that
a slow password hash would protect, and authentication stays cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from core.store.records import ApiClient
from core.store.schema import api_clients
from core.store.util import dumps, from_row, loads

KEY_PREFIX = "prs_"


def hash_key(plain_key: str) -> str:
    return hashlib.sha256(plain_key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _client(row: Any) -> ApiClient:
    return from_row(
        ApiClient,
        row,
        disabled=bool(row.disabled),
        allowed_orgs=loads(row.allowed_orgs),
        allowed_provinces=loads(row.allowed_provinces),
    )


def add_client(
    conn: Connection,
    name: str,
    system: str | None,
    allowed_orgs: list[str] | None,
    allowed_provinces: list[str] | None,
    now: datetime,
    hmac_secret: str | None = None,
) -> tuple[ApiClient, str]:
    plain = new_key()
    values = {
        "client_id": uuid.uuid4().hex,
        "name": name,
        "system": system,
        "key_hash": hash_key(plain),
        "key_prefix": plain[:8],
        "created_at": now,
        "disabled": False,
        "allowed_orgs": None if allowed_orgs is None else dumps(list(allowed_orgs)),
        "allowed_provinces": None if allowed_provinces is None else dumps(list(allowed_provinces)),
        "hmac_secret": hmac_secret,
    }
    conn.execute(insert(api_clients), [values])
    row = conn.execute(select(api_clients).where(api_clients.c.client_id == values["client_id"])).one()
    return _client(row), plain


def find_enabled_by_secret(conn: Connection, hash_column: Any, plain: str) -> Any | None:
    """The enabled row whose stored hash matches `plain` (an API key or an admin token), or None."""
    try:
        digest = hash_key(plain)
    except UnicodeError:  # not a secret this hub issued (they are ASCII); never a 500
        return None
    row = conn.execute(select(hash_column.table).where(hash_column == digest)).first()
    # The index lookup already matched; the constant-time compare keeps the final decision free of
    # timing differences should the lookup ever become a prefix or range match.
    if row is None or not hmac.compare_digest(getattr(row, hash_column.name), digest) or row.disabled:
        return None
    return row


def authenticate(conn: Connection, plain_key: str) -> ApiClient | None:
    row = find_enabled_by_secret(conn, api_clients.c.key_hash, plain_key)
    return None if row is None else _client(row)


def list_clients(conn: Connection) -> list[ApiClient]:
    return [_client(r) for r in conn.execute(select(api_clients).order_by(api_clients.c.name))]


def set_disabled(conn: Connection, name: str, disabled: bool) -> bool:
    result = conn.execute(update(api_clients).where(api_clients.c.name == name).values(disabled=disabled))
    return result.rowcount == 1


def new_hmac_secret() -> str:
    return "prshmac_" + secrets.token_urlsafe(32)


def get_client(conn: Connection, name: str) -> ApiClient | None:
    row = conn.execute(select(api_clients).where(api_clients.c.name == name)).first()
    return None if row is None else _client(row)


def update_client(conn: Connection, name: str, changes: dict[str, Any]) -> ApiClient | None:
    """Apply `changes` (allowed_orgs, allowed_provinces, disabled, hmac_secret); None: no such client."""
    values: dict[str, Any] = {}
    for column in ("allowed_orgs", "allowed_provinces"):
        if column in changes:
            values[column] = None if changes[column] is None else dumps(list(changes[column]))
    for column in ("disabled", "hmac_secret"):
        if column in changes:
            values[column] = changes[column]
    if values:
        conn.execute(update(api_clients).where(api_clients.c.name == name).values(**values))
    return get_client(conn, name)


def replace_key(conn: Connection, name: str, system: str | None, now: datetime) -> tuple[ApiClient, str]:
    """A new key for the named client (created if missing); the old key stops working at once."""
    existing = conn.execute(select(api_clients.c.client_id).where(api_clients.c.name == name)).first()
    if existing is None:
        return add_client(conn, name, system, None, None, now)
    plain = new_key()
    conn.execute(
        update(api_clients)
        .where(api_clients.c.name == name)
        .values(key_hash=hash_key(plain), key_prefix=plain[:8], system=system, disabled=False)
    )
    row = conn.execute(select(api_clients).where(api_clients.c.name == name)).one()
    return _client(row), plain


def audit_view(client: ApiClient | None) -> dict[str, Any] | None:
    """What the audit log keeps of a client: never its key or signing secret."""
    if client is None:
        return None
    return {
        "name": client.name,
        "system": client.system,
        "allowed_orgs": client.allowed_orgs,
        "allowed_provinces": client.allowed_provinces,
        "disabled": client.disabled,
        "signed_requests": client.hmac_secret is not None,
    }
