"""The access repository: producer clients, signatures, admin tokens and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from core.store import admin_tokens as _tokens
from core.store import audit as _audit
from core.store import clients as _clients
from core.store import signatures as _signatures
from core.store.database import Database
from core.store.records import AdminToken, ApiClient, AuditEntry, utcnow


class AccessRepository:
    """Who may do what: producer clients, signed-request replay protection, admin tokens, the audit log."""

    def __init__(self, db: Database) -> None:
        self.db = db

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

        return self.db.write(work)

    def replace_client_key(self, name: str, system: str | None = None) -> tuple[ApiClient, str]:
        """Issue a new key for `name` (creating the client if needed); the previous key is revoked."""
        at = utcnow()
        return self.db.write(lambda conn: _clients.replace_key(conn, name, system, at))

    def authenticate(self, plain_key: str) -> ApiClient | None:
        if not plain_key:
            return None
        return self.db.read(lambda conn: _clients.authenticate(conn, plain_key))

    def list_clients(self) -> list[ApiClient]:
        return self.db.read(_clients.list_clients)

    def disable_client(self, name: str, disabled: bool = True) -> bool:
        return self.db.write(lambda conn: _clients.set_disabled(conn, name, disabled))

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
