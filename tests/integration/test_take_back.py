"""A process that restarts under its old name takes back the deliveries it held when it died, at once,
and only those: the name survives a restart, and no two live processes share it. On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from core.process_identity import claim_identity
from core.store import Acknowledged, Store
from tests.integration.test_store import T0, entity, ingest, message, to_gfmis

LEASE_S = 600  # far longer than the test: whatever comes back early came back by take_back


def test_a_restarted_process_takes_back_its_own_claims_and_no_one_elses(store: Store) -> None:
    ingest(store, message(), [entity("P-1"), entity("P-2", 2), entity("P-3", 3)], [], to_gfmis)
    mine = store.outbox.claim_due("host:0:a1b2/gfmis/0", limit=2, now=T0, lease_seconds=LEASE_S)
    (theirs,) = store.outbox.claim_due("host:1:c3d4/gfmis/0", limit=5, now=T0, lease_seconds=LEASE_S)
    later = T0 + timedelta(seconds=5)
    assert store.outbox.claim_due("other", now=later, lease_seconds=LEASE_S) == []  # every lease still runs

    # A name that only starts like ours ("host:0:a1b2x", or LIKE wildcards) is another process.
    assert store.outbox.take_back("host:0:a1b", now=later) == 0
    assert store.outbox.take_back("host:0:a1b2", now=later) == 2
    again = store.outbox.claim_due("host:0:a1b2/gfmis/1", now=later, lease_seconds=LEASE_S)
    assert sorted(c.outbox_id for c in again) == sorted(c.outbox_id for c in mine)
    assert all(c.attempts == 2 for c in again)  # the dead claim's attempt stays counted, as on a lease's end
    assert theirs.outbox_id not in {c.outbox_id for c in again}

    # Nothing in flight under the name: nothing to take back, and settled rows are never touched.
    store.outbox.complete([Acknowledged(c.outbox_id, f"G-{c.outbox_id}") for c in again], now=later)
    assert store.outbox.take_back("host:0:a1b2", now=later) == 0


def test_like_wildcards_in_a_name_match_only_themselves(store: Store) -> None:
    ingest(store, message(), [entity("P-1")], [], to_gfmis)
    store.outbox.claim_due("host_a:0:x%y/gfmis/0", now=T0, lease_seconds=LEASE_S)
    assert store.outbox.take_back("host_a:0:x_y", now=T0) == 0
    assert store.outbox.take_back("host%", now=T0) == 0
    assert store.outbox.take_back("host_a:0:x%y", now=T0) == 1


def test_a_name_is_kept_across_restarts_and_never_shared_by_two_live_processes(tmp_path: Path) -> None:
    first = claim_identity(tmp_path)
    second = claim_identity(tmp_path)  # another live process of the same var_dir
    assert first.name != second.name
    first.release()  # the first process ends (or dies: the kernel drops its lock)
    restarted = claim_identity(tmp_path)
    assert restarted.name == first.name
    assert claim_identity(tmp_path, "configured-7").name == "configured-7"
    second.release()
    restarted.release()


def test_a_killed_process_leaves_its_name_free_for_its_restart(tmp_path: Path) -> None:
    script = (
        "import sys, os, signal; from pathlib import Path; from core.process_identity import claim_identity; "
        "print(claim_identity(Path(sys.argv[1])).name, flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    )
    names = [
        subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60).stdout.strip()
        for _ in range(2)
    ]
    assert names[0] and names[0] == names[1]
