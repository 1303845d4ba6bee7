"""Prune and clear: entries not used since the cutoff go, their disk space is given back, and
neither runs while another cache object has the cache open."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from harness.cache import CacheBusyError, CacheError, EmbeddingCache
from harness.cache import clock as clock_module
from harness.cache import maintenance as maintenance_module
from harness.cache.store import TOUCH_INTERVAL_S

DAY = 86400
T0 = 1_800_000_000


def key(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def array(seed: int, size: int = 256) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(size, dtype=np.float32)


class Clock:
    """The store's clock, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = T0
        monkeypatch.setattr(clock_module, "now", lambda: self.now)

    def advance(self, seconds: int) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch)


def shard_sizes(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in (root / "shards").glob("*.bin")}


def last_used(root: Path, n: int) -> int:
    with sqlite3.connect(root / "index.sqlite") as conn:
        return conn.execute("SELECT last_used FROM entries WHERE key = ?", (key(n),)).fetchone()[0]


# --- prune -------------------------------------------------------------------------------------


def test_prune_removes_entries_not_used_since_the_cutoff(tmp_path, clock):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(n), array(n)) for n in range(3)])
        clock.advance(40 * DAY)

        report = cache.prune(timedelta(days=30))

        assert cache.get_many([key(n) for n in range(3)]) == {}
    assert (report.entries_removed, report.entry_bytes_removed) == (3, 3 * 256 * 4)


def test_prune_keeps_entries_used_since_the_cutoff(tmp_path, clock):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(n), array(n)) for n in range(3)])
        clock.advance(20 * DAY)
        cache.get_many([key(0)])
        clock.advance(20 * DAY)

        cache.prune(timedelta(days=30))

        assert set(cache.get_many([key(n) for n in range(3)])) == {key(0)}


def test_a_hit_records_when_the_entry_was_used(tmp_path, clock):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(0), array(0))])
        clock.advance(2 * TOUCH_INTERVAL_S)

        cache.get_many([key(0)])

    assert last_used(tmp_path, 0) == T0 + 2 * TOUCH_INTERVAL_S


def test_hits_within_the_touch_interval_write_nothing(tmp_path, clock):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(0), array(0))])
        clock.advance(TOUCH_INTERVAL_S - 1)

        cache.get_many([key(0)])

    assert last_used(tmp_path, 0) == T0


def test_prune_deletes_a_shard_with_no_live_entry(tmp_path, clock):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(n), array(n)) for n in range(3)])
    clock.advance(40 * DAY)
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(9), array(9))])

        report = cache.prune(timedelta(days=30))

        assert report.shards_deleted == 1 and len(shard_sizes(tmp_path)) == 1
        assert np.array_equal(cache.get_many([key(9)])[key(9)], array(9))


def test_prune_rewrites_a_mostly_unreachable_shard_to_its_live_entries(tmp_path, clock):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(n), array(n)) for n in range(10)])
        clock.advance(40 * DAY)
        cache.get_many([key(3), key(7)])

        report = cache.prune(timedelta(days=30))
        found = cache.get_many([key(n) for n in range(10)])

    assert report.shards_rewritten == 1 and list(shard_sizes(tmp_path).values()) == [2 * 256 * 4]
    assert set(found) == {key(3), key(7)} and np.array_equal(found[key(7)], array(7))


def test_prune_leaves_a_mostly_live_shard_as_it_is(tmp_path, clock):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(n), array(n)) for n in range(10)])
        clock.advance(40 * DAY)
        cache.get_many([key(n) for n in range(1, 10)])
        before = shard_sizes(tmp_path)

        report = cache.prune(timedelta(days=30))

    assert (report.entries_removed, report.shards_rewritten) == (1, 0) and shard_sizes(tmp_path) == before


def test_prune_gives_the_space_back(tmp_path, clock):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(n), array(n, 4096)) for n in range(50)])
        clock.advance(40 * DAY)

        report = cache.prune(timedelta(days=30))

    assert report.freed_bytes >= 50 * 4096 * 4
    assert report.disk_bytes_after == maintenance_module.disk_bytes(tmp_path)


def test_prune_reclaims_the_shards_of_a_replaced_index(tmp_path):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(0), array(0))])
    (tmp_path / "index.sqlite").write_bytes(b"garbage" * 100)

    with EmbeddingCache.open(tmp_path) as cache:
        report = cache.prune(timedelta(days=30))

    assert report.shards_deleted == 1 and shard_sizes(tmp_path) == {}


def test_prune_drops_entries_whose_bytes_fail_their_checksum(tmp_path, clock):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(n), array(n)) for n in range(10)])
    (shard,) = (tmp_path / "shards").glob("*.bin")
    data = bytearray(shard.read_bytes())
    data[256 * 4 * 3] ^= 1  # the bytes of entry 3
    shard.write_bytes(bytes(data))
    clock.advance(40 * DAY)
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:  # 2 and 3 used lately (3 never read since)
        conn.execute("UPDATE entries SET last_used = ? WHERE key IN (?, ?)", (clock.now, key(2), key(3)))

    with EmbeddingCache.open(tmp_path) as cache:
        report = cache.prune(timedelta(days=30))
        found = cache.get_many([key(2), key(3)])

    assert (report.damaged_entries_removed, report.shards_rewritten) == (1, 1) and set(found) == {key(2)}


def test_prune_drops_entries_whose_bytes_are_past_the_end_of_their_shard(tmp_path, clock):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(n), array(n)) for n in range(10)])
        (shard,) = (tmp_path / "shards").glob("*.bin")
        clock.advance(40 * DAY)
        cache.get_many([key(2)])
        with sqlite3.connect(tmp_path / "index.sqlite") as conn:
            conn.execute("UPDATE entries SET offset = ? WHERE key = ?", (shard.stat().st_size, key(2)))

        report = cache.prune(timedelta(days=30))

    assert report.damaged_entries_removed == 1 and shard_sizes(tmp_path) == {}


def test_prune_removes_file_hashes_not_used_since_the_cutoff(tmp_path, clock):
    image = tmp_path / "image.png"
    image.write_bytes(b"pixels")
    os.utime(image, ns=(0, 0))
    with EmbeddingCache.open(tmp_path / "cache") as cache:
        cache.file_digest(image)
        clock.advance(40 * DAY)

        cache.prune(timedelta(days=30))

    with sqlite3.connect(tmp_path / "cache" / "index.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM file_digests").fetchone()[0] == 0


def test_prune_removes_moved_aside_indexes_older_than_the_cutoff(tmp_path, clock):
    (tmp_path / "index.sqlite").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "index.sqlite").write_bytes(b"garbage" * 100)
    with EmbeddingCache.open(tmp_path) as cache:
        (moved,) = tmp_path.glob("index.sqlite.corrupt-*")
        os.utime(moved, (T0 - 40 * DAY, T0 - 40 * DAY))

        cache.prune(timedelta(days=30))

    assert not moved.exists()


def test_writing_goes_on_after_a_prune(tmp_path, clock):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(0), array(0))])
        clock.advance(40 * DAY)
        cache.prune(timedelta(days=30))

        cache.put_many([(key(1), array(1))])

        assert np.array_equal(cache.get_many([key(1)])[key(1)], array(1))


def test_a_negative_age_is_refused(tmp_path):
    with EmbeddingCache.open(tmp_path) as cache, pytest.raises(CacheError, match="negative"):
        cache.prune(timedelta(days=-1))


# --- exclusive use -----------------------------------------------------------------------------


def test_prune_is_refused_in_one_line_while_another_cache_object_is_open(tmp_path):
    with (
        EmbeddingCache.open(tmp_path) as cache,
        EmbeddingCache.open(tmp_path),
        pytest.raises(CacheBusyError, match="in use") as raised,
    ):
        cache.prune(timedelta(days=30))

    assert "\n" not in str(raised.value)


def test_prune_runs_once_the_other_cache_object_is_closed(tmp_path):
    with EmbeddingCache.open(tmp_path) as cache:
        other = EmbeddingCache.open(tmp_path)
        with pytest.raises(CacheBusyError):
            cache.prune(timedelta(days=30))
        other.close()

        cache.prune(timedelta(days=30))


def test_a_refused_prune_keeps_its_cache_open_for_others_to_see(tmp_path):
    with EmbeddingCache.open(tmp_path) as first, EmbeddingCache.open(tmp_path) as second:
        with pytest.raises(CacheBusyError):
            first.prune(timedelta(days=30))

        with pytest.raises(CacheBusyError):
            second.prune(timedelta(days=30))  # first still holds its shared lock


def test_a_read_only_cache_cannot_prune_or_clear(tmp_path):
    EmbeddingCache.open(tmp_path).close()

    with EmbeddingCache.open(tmp_path, read_only=True) as cache:
        with pytest.raises(CacheError, match="read-only"):
            cache.prune(timedelta(days=30))
        with pytest.raises(CacheError, match="read-only"):
            cache.clear()


# --- clear -------------------------------------------------------------------------------------


def test_clear_removes_every_entry_shard_and_file_hash(tmp_path):
    image = tmp_path / "image.png"
    image.write_bytes(b"pixels")
    os.utime(image, ns=(0, 0))
    with EmbeddingCache.open(tmp_path / "cache") as cache:
        cache.put_many([(key(n), array(n)) for n in range(3)])
        cache.file_digest(image)

        cache.clear()

        assert cache.get_many([key(n) for n in range(3)]) == {}
        assert cache.info().entries == 0 and shard_sizes(tmp_path / "cache") == {}
    with sqlite3.connect(tmp_path / "cache" / "index.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM file_digests").fetchone()[0] == 0


def test_clear_is_refused_while_another_cache_object_is_open(tmp_path):
    with EmbeddingCache.open(tmp_path) as cache, EmbeddingCache.open(tmp_path) as other:
        other.put_many([(key(0), array(0))])

        with pytest.raises(CacheBusyError):
            cache.clear()

        assert key(0) in other.get_many([key(0)])


def test_writing_goes_on_after_a_clear(tmp_path):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(0), array(0))])
        cache.clear()

        cache.put_many([(key(0), array(1))])

        assert np.array_equal(cache.get_many([key(0)])[key(0)], array(1))
