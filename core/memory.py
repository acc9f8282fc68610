"""Keep the hub's resident memory near what it uses: fewer malloc arenas, and freed heap handed back.

CPython frees a payload's objects as soon as it is answered, but glibc's malloc keeps the freed heap of
each thread's arena for reuse rather than returning it: measured on a 50,000-row CSV, the hub's resident
memory stayed about 30 MB higher after the payload than it needed to, and a refused 30 MB JSON body left
about 65 MB behind. Each large payload then starts from a higher floor, and the hub's peak is the sum of
what several payloads left rather than the largest one. `malloc_trim(0)` returns what is free in every
arena; elsewhere than glibc (musl, macOS) there is nothing to call and nothing is done.

glibc also gives each thread that allocates its own arena (up to eight per core), and a payload parsed in
one pool thread and stored from another leaves freed but fragmented memory in each. Two arenas serve a
process whose threads mostly wait on the database or hold the GIL: with them, the hostile-payloads run
(benchmarks/hostile_payloads.py) peaked at 302 MB instead of 344, and the hub stayed at 189 MB after the
50,000-row CSV instead of 231.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable
from typing import Any

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
M_ARENA_MAX = -8
MALLOC_ARENAS = 2
# glibc raises its mmap threshold each time a large block is freed, up to 32 MB, after which a payload's
# megabyte buffers come from the heap and stay there fragmented; fixed at 1 MiB, they are mapped and
# unmapped on their own (hostile payloads: resident after the 50,000-row CSV 189 -> 173 MB).
MMAP_THRESHOLD_BYTES = 1 << 20


@functools.cache
def _libc_function(name: str, *argtypes: Any) -> Callable[..., int] | None:
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        function = getattr(ctypes.CDLL(library), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = list(argtypes)
    function.restype = ctypes.c_int
    return function


def tune_malloc(arenas: int = MALLOC_ARENAS, mmap_threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """At most `arenas` malloc arenas and a fixed mmap threshold from now on (as MALLOC_ARENA_MAX and
    MALLOC_MMAP_THRESHOLD_ would set); False where the C library has no such settings. Call it at
    start-up, before the process starts threads."""
    mallopt = _libc_function("mallopt", ctypes.c_int, ctypes.c_int)
    if mallopt is None:
        return False
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(M_ARENA_MAX, arenas) == 1


def release_freed_memory() -> bool:
    """Return the C heap's free memory to the operating system; False where the C library cannot.
    Walks the heap (milliseconds for a few hundred MB): call it from a thread, after large work only."""
    trim = _libc_function("malloc_trim", ctypes.c_size_t)
    if trim is None:
        return False
    trim(0)
    return True
