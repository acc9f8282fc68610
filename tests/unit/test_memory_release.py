"""core/memory.py: freed C heap goes back to the operating system when asked."""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import pytest

from core.memory import release_freed_memory

BLOCK = 64 * 1024  # below glibc's mmap threshold: served from the heap, where free() keeps it
BLOCKS = 1_600  # 100 MB


def _resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(not Path("/proc/self/status").exists() or ctypes.util.find_library("c") is None, reason="needs Linux /proc and a C library")
def test_freed_heap_is_returned_to_the_operating_system() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(BLOCK) for _ in range(BLOCKS)]
    for block in blocks:
        ctypes.memset(block, 1, BLOCK)  # touched, so resident
    pin = libc.malloc(BLOCK)  # above the others: the heap's top cannot shrink on its own
    try:
        for block in blocks:
            libc.free(block)
        before = _resident_bytes()
        assert release_freed_memory() is True
        after = _resident_bytes()
        # Most of the 100 MB freed was still resident before the call, and is not after it.
        assert before - after > BLOCK * BLOCKS // 2, (before, after)
    finally:
        libc.free(pin)
