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


# In a fresh interpreter: threads that allocate at the same time each get an arena of their own unless
# the number is limited; glibc's malloc_info lists the arenas as <heap> elements.
_ARENAS_SCRIPT = """
import ctypes, ctypes.util, re, sys, tempfile, threading
from core.memory import tune_malloc
if sys.argv[1] == "limited":
    assert tune_malloc(2)
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
start = threading.Barrier(8)
def allocate():
    start.wait()
    for _ in range(2000):
        libc.malloc(1024)
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
with tempfile.NamedTemporaryFile() as out:
    stream = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    print(len(re.findall(r"<heap nr=", open(out.name).read())))
"""


@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="needs a C library")
def test_arenas_are_limited_to_two() -> None:
    import subprocess
    import sys

    def arenas(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", _ARENAS_SCRIPT, mode], capture_output=True, text=True, check=False)
        if done.returncode != 0 and "malloc_info" in done.stderr:
            pytest.skip("the C library has no malloc_info (not glibc)")
        assert done.returncode == 0, done.stderr
        return int(done.stdout.strip())

    assert arenas("default") > 2  # the measurement sees the arenas the threads made
    assert arenas("limited") <= 2
