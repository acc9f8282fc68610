"""A name for this hub process that survives its restart, so that it can take back what it held.

Claims and leases in the database name their owner. A process that dies with rows in flight would
otherwise leave them until their lease ends (60 s by default); one that restarts under the same name
knows those rows are its own and dead, and takes them back at once (docs/crash-safety.md).

The name must never be shared by two live processes, or one would take back rows the other is still
writing. Where it comes from:

- `PRASAN_WORKER_ID` (`worker_id` in hub.yaml), when the operator gives one: used as is; one per process.
- Otherwise a slot under `var_dir/process-ids/`: the process takes the lowest numbered slot no live
  process holds, by an exclusive `flock` kept for its lifetime. The kernel drops the lock when the process
  dies, however it dies, so its restart finds the same slot free. Each slot file keeps a random part,
  written once, so that two machines (or containers) with the same host name and their own `var_dir`
  never get the same name.
"""

from __future__ import annotations

import fcntl
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

SLOTS_FOLDER = "process-ids"
MAX_SLOTS = 256  # processes of one var_dir at once; more is a misconfiguration worth an error


class IdentityError(RuntimeError):
    pass


@dataclass
class ProcessIdentity:
    """This process's stable name, and the lock that keeps it ours while we run."""

    name: str
    _lock: IO[str] | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None


def _slot_name(handle: IO[str], slot: int) -> str:
    handle.seek(0)
    kept = handle.read().strip()
    if not kept:
        kept = uuid.uuid4().hex[:8]
        handle.seek(0)
        handle.truncate()
        handle.write(kept)
        handle.flush()
        os.fsync(handle.fileno())
    return f"{socket.gethostname()}:{slot}:{kept}"


def claim_identity(var_dir: Path, configured: str | None = None) -> ProcessIdentity:
    """The name this process uses in claims and leases (see the module's docstring)."""
    if configured:
        return ProcessIdentity(configured)
    folder = var_dir / SLOTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for slot in range(MAX_SLOTS):
        handle = open(folder / f"{slot}.id", "a+", encoding="utf-8")  # noqa: SIM115  (held for the process's life)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue  # a live process holds this one
        return ProcessIdentity(_slot_name(handle, slot), handle)
    raise IdentityError(f"all {MAX_SLOTS} process slots under {folder} are held by live processes")
