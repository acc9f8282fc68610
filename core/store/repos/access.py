"""The access repository: producer clients, signatures, admin tokens and the audit log."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from core.store import admin_tokens as _tokens
from core.store import audit as _audit
from core.store import clients as _clients
from core.store import signatures as _signatures
from core.store.database import Database
from core.store.records import AdminToken, ApiClient, AuditEntry, utcnow


# How long a verified API key is answered from memory. Every push is authenticated, and reading the key's
# row is a transaction of its own (about half a millisecond of a single-record push's CPU). A key disabled,
# rescoped or replaced through this process stops at once (every change through this repository forgets
# what it remembers); through another process (the CLI, another hub process) within this many seconds.
REMEMBER_KEY_S = 2.0
REMEMBERED_KEYS_MAX = 1_000  # producers' keys in use at once, with room; past it, all are forgotten


class AccessRepository:
    """Who may do what: producer clients, signed-request replay protection, admin tokens, the audit log."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # sha256 of a key -> (its enabled client, monotonic time until which it may be answered from here)
        self._remembered: dict[str, tuple[ApiClient, float]] = {}
        self._generation = 0  # changes to clients made through this repository

    def add_client(
        self,
        name: str,
        system: str | None = None,
        allowed_orgs: list[str] | None = None,
        allowed_provinces: list[str] | None = None,
        *,
        hmac: bool = False,
        actor: str | None = None,
    ) -> tuple[ApiClient, str]:
        """Create a client; returns it with the plain key, which is not stored and cannot be shown again.

        No organisation and no province list means the client may write for every organisation.
        With `hmac`, the client gets a signing secret (`client.hmac_secret`) and must sign requests.
        """
        at = utcnow()
        secret = _clients.new_hmac_secret() if hmac else None

        def work(conn: Connection) -> tuple[ApiClient, str]:
            client, key = _clients.add_client(conn, name, system, allowed_orgs, allowed_provinces, at, secret)
            if actor is not None:
                _audit.append(conn, at, actor, "client.add", f"client:{name}", None, _clients.audit_view(client))
            return client, key

        return self.db.write(work)

    def get_client(self, name: str) -> ApiClient | None:
        return self.db.read(lambda conn: _clients.get_client(conn, name))

    def update_client(self, name: str, changes: dict[str, Any], *, actor: str) -> ApiClient | None:
        """Change a client's scope or disable it; audited with the state before and after."""
        at = utcnow()

        def work(conn: Connection) -> ApiClient | None:
            before = _clients.get_client(conn, name)
            if before is None:
                return None
            after = _clients.update_client(conn, name, changes)
            _audit.append(conn, at, actor, "client.update", f"client:{name}", _clients.audit_view(before), _clients.audit_view(after))
            return after

        try:
            return self.db.write(work)
        finally:
            self._forget_keys()

    def replace_client_key(self, name: str, system: str | None = None) -> tuple[ApiClient, str]:
        """Issue a new key for `name` (creating the client if needed); the previous key is revoked."""
        at = utcnow()
        try:
            return self.db.write(lambda conn: _clients.replace_key(conn, name, system, at))
        finally:
            self._forget_keys()

    def authenticate(self, plain_key: str) -> ApiClient | None:
        if not plain_key:
            return None
        remembered = self.remembered(plain_key)
        if remembered is not None:
            return remembered
        generation = self._generation
        client = self.db.read(lambda conn: _clients.authenticate(conn, plain_key))
        # A change committed while the row was read may have made it stale: then it is not remembered.
        if client is not None and not client.disabled and generation == self._generation:
            if len(self._remembered) >= REMEMBERED_KEYS_MAX:
                self._remembered.clear()
            self._remembered[_clients.hash_key(plain_key)] = (client, time.monotonic() + REMEMBER_KEY_S)
        return client

    def remembered(self, plain_key: str) -> ApiClient | None:
        """The client of a key verified less than `REMEMBER_KEY_S` ago and not changed since through this
        repository; None when it must be read from the database (`authenticate`). Does no I/O."""
        try:
            found = self._remembered.get(_clients.hash_key(plain_key))
        except UnicodeError:  # not a key this hub issued; `authenticate` answers it
            return None
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def _forget_keys(self) -> None:
        self._generation += 1
        self._remembered.clear()

    def list_clients(self) -> list[ApiClient]:
        return self.db.read(_clients.list_clients)

    def disable_client(self, name: str, disabled: bool = True) -> bool:
        try:
            return self.db.write(lambda conn: _clients.set_disabled(conn, name, disabled))
        finally:
            self._forget_keys()

    def claim_signature(self, signature: str, client_id: str, expires_at: datetime) -> bool:
        """Record a signed request's nonce key (core/signing.py `used_nonce_key`) as used; False if it was
        already used (a replayed request)."""
        at = utcnow()
        return self.db.write(lambda conn: _signatures.claim(conn, signature, client_id, expires_at, at))

    def add_admin_token(self, name: str, role: str, *, actor: str) -> tuple[AdminToken, str]:
        """Create an admin token; the plain token is returned once and only its hash is kept."""
        at = utcnow()

        def work(conn: Connection) -> tuple[AdminToken, str]:
            token, plain = _tokens.add_token(conn, name, role, at)
            _audit.append(conn, at, actor, "token.add", f"token:{name}", None, {"name": name, "role": role})
            return token, plain

        return self.db.write(work)

    def authenticate_admin(self, plain_token: str) -> AdminToken | None:
        if not plain_token:
            return None
        return self.db.read(lambda conn: _tokens.authenticate(conn, plain_token))

    def list_admin_tokens(self) -> list[AdminToken]:
        return self.db.read(_tokens.list_tokens)

    def revoke_admin_token(self, name: str, *, actor: str) -> bool:
        at = utcnow()

        def work(conn: Connection) -> bool:
            before = _tokens.get_token(conn, name)
            if before is None or before.disabled:
                return False
            _tokens.set_disabled(conn, name, True)
            _audit.append(conn, at, actor, "token.revoke", f"token:{name}", {"disabled": False}, {"disabled": True})
            return True

        return self.db.write(work)

    def audit(
        self, actor: str, action: str, target: str | None, before: Any = None, after: Any = None, detail: str | None = None
    ) -> int:
        at = utcnow()
        return self.db.write(lambda conn: _audit.append(conn, at, actor, action, target, before, after, detail))

    def audit_entries(
        self,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        return self.db.read(lambda conn: _audit.list_entries(conn, actor, action, since, limit, offset))
