"""The bounded map behind the caches: the least recently used entry goes first."""

from bot.common.lru import LRU


def test_the_least_recently_used_entry_goes_beyond_the_limit() -> None:
    kept: LRU[str, int] = LRU(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a", None) == 1  # now "b" is the least recently used
    kept.put("c", 3)
    assert "b" not in kept and kept.get("a", None) == 1 and kept.get("c", None) == 3
    assert len(kept) == 2


def test_a_kept_none_is_told_apart_from_a_missing_key() -> None:
    kept: LRU[int, str | None] = LRU(10)
    kept.put(1, None)
    assert 1 in kept and kept.get(1, "missing") is None
    assert 2 not in kept and kept.get(2, "missing") == "missing"
    kept.pop(1)
    kept.pop(1)  # popping what is gone is fine
    assert 1 not in kept
