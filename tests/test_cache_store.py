"""The embedding cache store: what goes in comes out bit for bit, and keys, values and files are
handled as documented in docs/cache.md."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from harness.cache import (
    CACHE_DIR_ENV,
    MAX_KEY_LENGTH,
    CacheError,
    CacheKeyError,
    CacheValueError,
    EmbeddingCache,
    default_cache_dir,
)
from harness.cache import digest as digest_module
from harness.cache import shards as shards_module
from harness.cache.schema import APPLICATION_ID, FORMAT_VERSION


def key(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def array(seed: int, shape: tuple[int, ...] = (16,)) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


@pytest.fixture
def cache(tmp_path: Path):
    with EmbeddingCache.open(tmp_path / "cache") as opened:
        yield opened


def shard_paths(root: Path) -> list[Path]:
    return sorted((root / "shards").glob("*.bin"))


# --- values ------------------------------------------------------------------------------------


def test_a_vector_reads_back_equal_bit_for_bit(cache):
    vector = array(1, (1536,))
    cache.put_many([(key(1), vector)])

    found = cache.get_many([key(1)])

    assert found[key(1)].tobytes() == vector.tobytes()


def test_a_token_matrix_keeps_its_shape_and_dtype(cache):
    tokens = array(2, (77, 128))
    cache.put_many([(key(2), tokens)])

    found = cache.get_many([key(2)])[key(2)]

    assert found.shape == (77, 128) and found.dtype == np.float32
    assert np.array_equal(found, tokens)


@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (2, 3, 4)])
def test_arrays_of_any_shape_read_back_equal(cache, shape):
    value = array(3, shape)
    cache.put_many([(key(3), value)])

    found = cache.get_many([key(3)])[key(3)]

    assert found.shape == shape and found.tobytes() == value.tobytes()


def test_nan_payloads_and_negative_zero_survive_bit_for_bit(cache):
    bits = np.array([0x7FC00001, 0xFFC12345, 0x80000000, 0x00000001], dtype=np.uint32)
    cache.put_many([(key(4), bits.view(np.float32))])

    found = cache.get_many([key(4)])[key(4)]

    assert np.array_equal(found.view(np.uint32), bits)


def test_a_returned_array_is_fresh_and_writable(cache):
    cache.put_many([(key(5), array(5))])
    first = cache.get_many([key(5)])[key(5)]

    first[:] = 0

    assert np.array_equal(cache.get_many([key(5)])[key(5)], array(5))


def test_a_non_contiguous_array_is_stored_in_c_order(cache):
    matrix = array(6, (8, 6))
    cache.put_many([(key(6), matrix.T)])

    assert np.array_equal(cache.get_many([key(6)])[key(6)], matrix.T)


def test_big_endian_float32_reads_back_as_the_same_numbers(cache):
    value = array(7).astype(">f4")
    cache.put_many([(key(7), value)])

    found = cache.get_many([key(7)])[key(7)]

    assert found.dtype == np.float32 and np.array_equal(found, value)


@pytest.mark.parametrize("value", [np.zeros(4, np.float64), np.zeros(4, np.float16), np.zeros(4, np.int32), [0.0]])
def test_values_other_than_float32_arrays_are_refused(cache, value):
    with pytest.raises(CacheValueError, match="float32|numpy array"):
        cache.put_many([(key(8), value)])


def test_a_bad_value_stores_nothing_of_its_batch(cache):
    with pytest.raises(CacheValueError):
        cache.put_many([(key(9), array(9)), (key(10), np.zeros(3, np.float64))])

    assert cache.get_many([key(9)]) == {}


# --- keys --------------------------------------------------------------------------------------


def test_missing_keys_are_absent_from_the_result(cache):
    cache.put_many([(key(1), array(1))])

    found = cache.get_many([key(1), key(2)])

    assert set(found) == {key(1)}


def test_an_empty_lookup_finds_nothing(cache):
    assert cache.get_many([]) == {}


@pytest.mark.parametrize("bad", ["", "k" * (MAX_KEY_LENGTH + 1), 5, None, b"bytes", "a\0b", "\ud800"])
def test_keys_must_be_non_empty_strings_of_bounded_length(cache, bad):
    with pytest.raises(CacheKeyError):
        cache.put_many([(bad, array(1))])
    with pytest.raises(CacheKeyError):
        cache.get_many([bad])


def test_a_key_of_the_longest_length_is_accepted(cache):
    long_key = "k" * MAX_KEY_LENGTH
    cache.put_many([(long_key, array(1))])

    assert long_key in cache.get_many([long_key])


def test_one_string_instead_of_a_list_of_keys_is_refused(cache):
    with pytest.raises(CacheKeyError, match="sequence of keys"):
        cache.get_many(key(1))


def test_keys_are_opaque_text(cache):
    odd = ["ключ", "a b\tc", "'; DROP TABLE entries; --", "%_*"]
    cache.put_many([(k, array(n)) for n, k in enumerate(odd)])

    assert set(cache.get_many(odd)) == set(odd)


def test_the_first_array_put_under_a_key_is_kept(cache):
    cache.put_many([(key(1), array(1))])
    cache.put_many([(key(1), array(2))])

    assert np.array_equal(cache.get_many([key(1)])[key(1)], array(1))


def test_the_first_of_equal_keys_in_one_batch_is_kept(cache):
    cache.put_many([(key(1), array(1)), (key(1), array(2))])

    assert np.array_equal(cache.get_many([key(1)])[key(1)], array(1))


def test_putting_a_stored_key_again_adds_no_bytes(cache):
    cache.put_many([(key(1), array(1, (256,)))])
    size = sum(p.stat().st_size for p in shard_paths(cache.root))

    cache.put_many([(key(1), array(1, (256,)))])

    assert sum(p.stat().st_size for p in shard_paths(cache.root)) == size


def test_lookups_of_more_keys_than_one_query_takes_find_them_all(cache):
    items = [(key(n), array(n, (4,))) for n in range(1234)]
    cache.put_many(items)

    found = cache.get_many([key(n) for n in range(-100, 1300)])

    assert len(found) == 1234
    assert all(np.array_equal(found[k], v) for k, v in items)


# --- durability and shards ---------------------------------------------------------------------


def test_stored_arrays_survive_closing_and_reopening(tmp_path):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(1), array(1))])

    with EmbeddingCache.open(tmp_path) as cache:
        assert np.array_equal(cache.get_many([key(1)])[key(1)], array(1))


def test_put_many_fsyncs_once_per_call_not_per_item(cache, monkeypatch):
    cache.put_many([(key(0), array(0))])  # the first call also creates the shard (and fsyncs its folder)
    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real_fsync(fd)))

    cache.put_many([(key(n), array(n)) for n in range(1, 257)])

    assert len(calls) == 1


def test_a_process_writes_its_own_shard_named_for_host_and_pid(cache):
    cache.put_many([(key(1), array(1))])

    (shard,) = shard_paths(cache.root)

    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:64]
    assert re.fullmatch(rf"{re.escape(host)}-{os.getpid()}-[0-9a-f]{{8}}\.bin", shard.name)


def test_two_cache_objects_never_append_to_the_same_shard(tmp_path):
    with EmbeddingCache.open(tmp_path) as first, EmbeddingCache.open(tmp_path) as second:
        first.put_many([(key(1), array(1))])
        second.put_many([(key(2), array(2))])

        assert len(shard_paths(tmp_path)) == 2
        assert set(first.get_many([key(1), key(2)])) == {key(1), key(2)}


def test_a_writer_starts_a_new_shard_past_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(shards_module, "SHARD_SIZE_LIMIT", 1000)
    with EmbeddingCache.open(tmp_path) as cache:
        for n in range(5):
            cache.put_many([(key(n), array(n, (100,)))])  # 400 bytes each

        found = cache.get_many([key(n) for n in range(5)])

        assert len(shard_paths(tmp_path)) == 3
        assert all(np.array_equal(found[key(n)], array(n, (100,))) for n in range(5))


def test_the_index_records_its_format_version_and_uses_wal(cache):
    with sqlite3.connect(cache.root / "index.sqlite") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == FORMAT_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- the cache folder --------------------------------------------------------------------------


def test_the_default_folder_is_the_platform_user_cache_folder(monkeypatch):
    import platformdirs

    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)

    assert default_cache_dir() == Path(platformdirs.user_cache_dir("mmeb-harness", appauthor=False))


def test_the_environment_variable_overrides_the_platform_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "mine"))

    assert default_cache_dir() == tmp_path / "mine"


def test_an_empty_environment_variable_is_not_a_folder(monkeypatch):
    import platformdirs

    monkeypatch.setenv(CACHE_DIR_ENV, "")

    assert default_cache_dir() == Path(platformdirs.user_cache_dir("mmeb-harness", appauthor=False))


def test_open_without_a_folder_uses_the_default_and_an_explicit_folder_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "from-env"))

    with EmbeddingCache.open() as default, EmbeddingCache.open(tmp_path / "explicit") as explicit:
        assert default.root == tmp_path / "from-env" and explicit.root == tmp_path / "explicit"


def test_a_read_only_cache_reads_and_never_writes(tmp_path, capsys):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(1), array(1))])
    before = sorted(p.name for p in tmp_path.rglob("*"))

    with EmbeddingCache.open(tmp_path, read_only=True) as cache:
        found = cache.get_many([key(1)])
        cache.put_many([(key(2), array(2))])
        writable = cache.writable

    assert np.array_equal(found[key(1)], array(1)) and not writable
    assert sorted(p.name for p in tmp_path.rglob("*") if not p.name.startswith("index.sqlite-")) == before
    assert capsys.readouterr().err == ""  # asked for: nothing to warn about


def test_a_read_only_open_of_a_missing_folder_is_empty_and_creates_nothing(tmp_path):
    with EmbeddingCache.open(tmp_path / "absent", read_only=True) as cache:
        assert cache.get_many([key(1)]) == {} and cache.info().entries == 0

    assert not (tmp_path / "absent").exists()


def test_a_closed_cache_refuses_to_be_used(tmp_path):
    cache = EmbeddingCache.open(tmp_path)
    cache.close()

    with pytest.raises(CacheError, match="closed"):
        cache.get_many([key(1)])


def test_a_cache_used_in_another_process_than_it_was_opened_in_refuses(cache, monkeypatch):
    monkeypatch.setattr(os, "getpid", lambda: 1)

    with pytest.raises(CacheError, match="after a fork"):
        cache.put_many([(key(1), array(1))])


# --- info --------------------------------------------------------------------------------------


def test_info_counts_entries_bytes_and_shards(cache):
    cache.put_many([(key(n), array(n, (10,))) for n in range(3)])

    info = cache.info()

    assert (info.entries, info.entry_bytes, info.shards, info.path) == (3, 120, 1, cache.root)
    assert info.oldest_entry is not None and info.oldest_entry <= info.newest_entry  # type: ignore[operator]
    assert info.disk_bytes >= 120 and info.writable


def test_info_of_an_empty_cache(cache):
    info = cache.info()

    assert (info.entries, info.entry_bytes, info.shards, info.oldest_entry, info.newest_entry) == (0, 0, 0, None, None)


# --- file digests ------------------------------------------------------------------------------


def old_file(path: Path, content: bytes) -> Path:
    """A file last modified an hour ago (a just-modified file is not remembered)."""
    path.write_bytes(content)
    past = path.stat().st_mtime_ns - 3600 * 10**9
    os.utime(path, ns=(past, past))
    return path


@pytest.fixture
def hash_count(monkeypatch) -> list[Path]:
    hashed: list[Path] = []
    real = digest_module.sha256_of_file
    monkeypatch.setattr(digest_module, "sha256_of_file", lambda path: (hashed.append(path), real(path))[1])
    return hashed


def test_file_digest_is_the_sha256_of_the_bytes(cache, tmp_path):
    content = os.urandom(3 * (1 << 20) + 17)  # more than one read chunk
    path = old_file(tmp_path / "weights.safetensors", content)

    assert cache.file_digest(path) == hashlib.sha256(content).hexdigest()


def test_a_file_is_hashed_once_while_unchanged(cache, tmp_path, hash_count):
    path = old_file(tmp_path / "image.png", b"pixels")

    cache.file_digest(path)
    cache.file_digest(path)

    assert len(hash_count) == 1


def test_a_file_hash_is_remembered_across_runs(tmp_path, hash_count):
    path = old_file(tmp_path / "image.png", b"pixels")
    with EmbeddingCache.open(tmp_path / "cache") as cache:
        first = cache.file_digest(path)

    with EmbeddingCache.open(tmp_path / "cache") as cache:
        assert cache.file_digest(path) == first

    assert len(hash_count) == 1


def test_a_file_of_another_size_is_hashed_again(cache, tmp_path, hash_count):
    path = old_file(tmp_path / "image.png", b"pixels")
    cache.file_digest(path)
    mtime = path.stat().st_mtime_ns

    path.write_bytes(b"other pixels")
    os.utime(path, ns=(mtime, mtime))

    assert cache.file_digest(path) == hashlib.sha256(b"other pixels").hexdigest()
    assert len(hash_count) == 2


def test_a_file_with_another_mtime_is_hashed_again(cache, tmp_path, hash_count):
    path = old_file(tmp_path / "image.png", b"pixels")
    cache.file_digest(path)

    old_file(path, b"pexils")  # same size, an hour before its new write

    assert cache.file_digest(path) == hashlib.sha256(b"pexils").hexdigest()
    assert len(hash_count) == 2


def test_a_file_modified_just_now_is_not_remembered(cache, tmp_path, hash_count):
    path = tmp_path / "frame.jpg"
    path.write_bytes(b"fresh")

    cache.file_digest(path)
    cache.file_digest(path)

    assert len(hash_count) == 2


def test_the_same_file_through_a_symlink_is_hashed_once(cache, tmp_path, hash_count):
    path = old_file(tmp_path / "image.png", b"pixels")
    (tmp_path / "link.png").symlink_to(path)

    cache.file_digest(path)
    cache.file_digest(tmp_path / "link.png")

    assert len(hash_count) == 1


def test_a_missing_file_raises_an_os_error_naming_it(cache, tmp_path):
    with pytest.raises(FileNotFoundError) as raised:
        cache.file_digest(tmp_path / "nope.png")

    assert raised.value.filename == str(tmp_path / "nope.png")


def test_a_read_only_cache_remembers_file_hashes_for_its_own_life(tmp_path, hash_count):
    path = old_file(tmp_path / "image.png", b"pixels")
    with EmbeddingCache.open(tmp_path / "cache", read_only=True) as cache:
        cache.file_digest(path)
        cache.file_digest(path)

    assert len(hash_count) == 1


def test_a_file_that_changes_while_it_is_hashed_is_hashed_again(cache, tmp_path, monkeypatch):
    path = old_file(tmp_path / "video.mp4", b"first")
    real = digest_module.sha256_of_file
    calls = []

    def changing(file):
        calls.append(file)
        if len(calls) == 1:
            old_file(file, b"second!")  # rewritten while being read
        return real(file)

    monkeypatch.setattr(digest_module, "sha256_of_file", changing)

    assert cache.file_digest(path) == hashlib.sha256(b"second!").hexdigest() and len(calls) == 2


def test_a_file_that_keeps_changing_while_it_is_hashed_is_refused(cache, tmp_path, monkeypatch):
    path = old_file(tmp_path / "video.mp4", b"first")
    real = digest_module.sha256_of_file
    sizes = iter(range(1, 100))

    def changing(file):
        old_file(file, b"x" * next(sizes))
        return real(file)

    monkeypatch.setattr(digest_module, "sha256_of_file", changing)

    with pytest.raises(CacheError, match="changed while it was being hashed"):
        cache.file_digest(path)
