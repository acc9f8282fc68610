"""An in-memory SQLite store used by many threads at once (store methods run in asyncio.to_thread)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_in_memory_store_survives_many_threads_at_once() -> None:
    # In a child process: before the fix this failed with "cannot start a transaction within a
    # transaction", SystemError or a segfault, which would take pytest down with it.
    code = textwrap.dedent(
        """
        import sys, threading
        from datetime import timedelta
        from core.store import Store
        from tests.integration.test_store import T0, entity, message, to_gfmis

        store = Store("sqlite://")
        store.upgrade()
        errors = []

        def work(n):
            try:
                for i in range(30):
                    store.inbox.ingest(message(), [entity(f"P-{n}-{i}")], [], to_gfmis, now=T0)
                    store.outbox.claim_due(f"w{n}", 5, now=T0 + timedelta(seconds=1))
                    store.outbox.outbox_stats()
                    store.is_current()
            except Exception as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(errors[:3])
        sys.exit(1 if errors else 0)
        """
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
