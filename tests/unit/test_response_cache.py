"""The hub's cache of public answers stays within its bounds whatever queries a client invents."""

from __future__ import annotations

from admin_api.spec import ResponseCache


def test_the_cache_drops_the_oldest_answers_past_its_byte_bound() -> None:
    cache = ResponseCache(max_entries=1000, max_bytes=10_000)
    for n in range(50):  # fifty distinct ?q= values of 1 KB each
        cache.put(f"/api/v1/public/areas?q={n}", 60, 200, b"x" * 1000)
    assert cache.bytes <= 10_000
    assert cache.get("/api/v1/public/areas?q=0") is None and cache.get("/api/v1/public/areas?q=49") is not None


def test_replacing_an_answer_counts_its_bytes_once_and_an_oversized_one_is_not_kept() -> None:
    cache = ResponseCache(max_entries=10, max_bytes=1000)
    cache.put("/a", 60, 200, b"x" * 400)
    cache.put("/a", 60, 200, b"y" * 300)
    assert cache.bytes == 300
    cache.put("/big", 60, 200, b"z" * 1001)
    assert cache.get("/big") is None and cache.bytes == 300
