"""Store parts of issue 4 on SQLite and PostgreSQL: tokens kept as hashes, signatures used once
across store instances, overrides and the audit log written together."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.store import Store
from core.store.records import utcnow
from core.store.schema import admin_tokens, api_clients


def test_admin_tokens_are_stored_only_as_hashes_and_revocation_is_audited(store: Store) -> None:
    token, plain = store.access.add_admin_token("ops", "operator", actor="test")
    with store.engine.connect() as conn:
        stored = conn.execute(select(admin_tokens)).one()
    assert plain not in str(tuple(stored)) and stored.token_hash != plain
    assert store.access.authenticate_admin(plain).role == "operator"
    assert store.access.authenticate_admin(plain + "x") is None
    assert store.access.revoke_admin_token("ops", actor="boss")
    assert store.access.authenticate_admin(plain) is None
    assert not store.access.revoke_admin_token("ops", actor="boss")
    actions = [(e.actor, e.action) for e in store.access.audit_entries()]
    assert actions == [("boss", "token.revoke"), ("test", "token.add")]


def test_a_signature_is_accepted_once_across_processes_and_pruned_after_expiry(store: Store) -> None:
    other = Store(store.url) if store.dialect == "sqlite" else Store(store.url)  # a second hub process
    try:
        soon = utcnow() + timedelta(minutes=5)
        assert store.access.claim_signature("sha256=aa", "c1", soon)
        assert not other.access.claim_signature("sha256=aa", "c1", soon)
        assert other.access.claim_signature("sha256=bb", "c1", utcnow() - timedelta(seconds=1))
        # The expired one is pruned by the next claim, so a table of signatures never grows without end.
        assert store.access.claim_signature("sha256=cc", "c1", soon)
        assert store.access.claim_signature("sha256=bb", "c1", soon)
    finally:
        other.dispose()


def test_client_scope_secret_and_update(store: Store) -> None:
    client, _ = store.access.add_client("p", "eplan", allowed_provinces=["50"], hmac=True, actor="test")
    assert client.hmac_secret and not client.writes_every_org
    updated = store.access.update_client("p", {"allowed_orgs": None, "allowed_provinces": None}, actor="test")
    assert updated is not None and updated.writes_every_org and updated.hmac_secret == client.hmac_secret
    with store.engine.connect() as conn:
        assert conn.execute(select(api_clients.c.allowed_provinces)).scalar_one() is None
    [entry] = [e for e in store.access.audit_entries() if e.action == "client.update"]
    assert entry.before["allowed_provinces"] == ["50"] and entry.after["allowed_provinces"] is None
    assert client.hmac_secret not in str(entry.before) + str(entry.after)
    assert store.access.update_client("nobody", {"disabled": True}, actor="test") is None


def test_overrides_replace_by_name_with_their_audit(store: Store) -> None:
    store.config.put_override("route", "r1", {"name": "r1", "paused": False}, actor="a", action="route.put")
    store.config.put_override("route", "r1", {"name": "r1", "paused": True}, actor="b", action="route.pause", before={"paused": False})
    [override] = store.config.overrides("route")
    assert override.value == {"name": "r1", "paused": True} and override.updated_by == "b"
    assert [e.action for e in store.access.audit_entries()] == ["route.pause", "route.put"]
