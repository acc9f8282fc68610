"""`python -m benchmarks.child MODULE ARGS...`: runs MODULE as `python -m MODULE ARGS...` would, in a process
the kernel sends SIGTERM when the benchmark that started it dies (Linux PR_SET_PDEATHSIG).

benchmarks/common.py `start` launches every hub, sink and bare-pipeline process through it. Without it, a
benchmark killed half-way (a timeout, a closed terminal) leaves its children running: an idle hub worker
polls its outbox every 20 ms (12 % of a core here), so the next runs measure a machine that is no longer
theirs, while the load average, which samples runnable tasks every 5 s, can miss such short bursts.
The signal follows the thread that started the child: `start` must be called from a thread that lives as
long as the child (the benchmarks call it from their main thread).
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys

PR_SET_PDEATHSIG = 1
PARENT_ENV = "PRASAN_BENCH_PARENT_PID"


def main() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the children outlive a killed benchmark, as before
        pass
    parent = os.environ.get(PARENT_ENV)
    if parent and os.getppid() != int(parent):  # the benchmark died before prctl took effect
        sys.exit("the benchmark that started this process has already exited")
    module, sys.argv = sys.argv[1], [sys.argv[1], *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
