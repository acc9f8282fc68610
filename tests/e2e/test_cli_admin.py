"""The operator CLI on a real database: tokens, client scopes, dead letters, routes, cursors."""

from __future__ import annotations

from pathlib import Path

import pytest

from prasan.cli import main
from core.store import Store


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("PRASAN_DATABASE_URL", url)
    store = Store(url)
    store.upgrade()
    yield store
    store.dispose()


def test_tokens_add_prints_a_working_token_last(db: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tokens", "add", "alice", "--role", "operator"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert db.access.authenticate_admin(token).role == "operator"
    with pytest.raises(SystemExit):
        main(["tokens", "add", "bob", "--role", "root"])
    assert main(["tokens", "revoke", "alice"]) == 0
    assert db.access.authenticate_admin(token) is None


def test_clients_add_scopes(db: Store, capsys: pytest.CaptureFixture[str]) -> None:
    # Without a scope the key writes for every organisation, and the operator is told so.
    assert main(["clients", "add", "c0", "--system", "eplan"]) == 0
    out, err = capsys.readouterr()
    assert db.access.authenticate(out.strip().splitlines()[-1]).writes_every_org and "every organisation" in err
    assert main(["clients", "add", "cx", "--system", "eplan", "--org", "5000101", "--all-orgs"]) == 2
    assert main(["clients", "add", "c1", "--system", "eplan", "--org", "5000101", "--province", "57", "--hmac"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    client = db.access.authenticate(lines[-1])
    assert client.allowed_orgs == ["5000101"] and client.allowed_provinces == ["57"]
    assert lines[0] == f"signing secret: {client.hmac_secret}"
    assert main(["clients", "add", "c2", "--system", "eplan", "--all-orgs"]) == 0
    assert db.access.authenticate(capsys.readouterr().out.strip().splitlines()[-1]).writes_every_org


def test_routes_pause_resume_and_cursors(db: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "pause", "eplan-projects-to-elaas", "--destination", "elaas"]) == 0
    assert main(["routes", "list"]) == 0
    assert "elaas:paused" in capsys.readouterr().out
    [override] = db.config.overrides("route")
    assert override.value["paused_destinations"] == ["elaas"] and override.updated_by.startswith("cli:")
    assert main(["routes", "resume", "eplan-projects-to-elaas", "--destination", "elaas"]) == 0
    assert db.config.overrides("route")[0].value["paused_destinations"] == []
    assert main(["routes", "pause", "nope"]) == 1

    assert main(["cursors", "set", "eplan", "plan_project", "2024-01-01"]) == 0
    assert db.config.get_cursor("eplan", "plan_project") == "2024-01-01"
    assert main(["cursors", "set", "eplan", "plan_project", "--reset"]) == 0
    assert db.config.get_cursor("eplan", "plan_project") is None
    assert [e.action for e in db.access.audit_entries()][:2] == ["cursor.set", "cursor.set"]
    assert main(["dlq", "list"]) == 0
    assert main(["dlq", "replay", "12345"]) == 1  # no such dead letter: nothing replayed
    assert main(["dlq", "discard", "12345", "--reason", "gone"]) == 1
