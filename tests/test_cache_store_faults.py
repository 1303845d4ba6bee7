"""Bad conditions: a damaged shard or index, a full disk, a folder that cannot be written. The
cache never returns a wrong array, says what happened in one warning line, and the run goes on."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.cache import CacheFormatError, EmbeddingCache
from harness.cache import opening as opening_module
from harness.cache import shards as shards_module
from harness.cache.index import CacheIndex
from harness.cache.shards import ShardReader


def key(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def array(seed: int, size: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(size, dtype=np.float32)


def filled(root: Path, count: int = 4, size: int = 64) -> Path:
    """A cache in ``root`` with arrays ``0..count-1`` in one shard (returned)."""
    with EmbeddingCache.open(root) as cache:
        cache.put_many([(key(n), array(n, size)) for n in range(count)])
    (shard,) = (root / "shards").glob("*.bin")
    return shard


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def warnings_in(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


def index_keys(root: Path) -> set[str]:
    with sqlite3.connect(root / "index.sqlite") as conn:
        return {row[0] for row in conn.execute("SELECT key FROM entries")}


# --- damaged shards ----------------------------------------------------------------------------


def test_a_flipped_byte_in_a_shard_is_a_miss_not_a_wrong_array(tmp_path):
    shard = filled(tmp_path)
    flip_byte(shard, 64 * 4 + 10)  # inside array 1

    with EmbeddingCache.open(tmp_path) as cache:
        found = cache.get_many([key(n) for n in range(4)])

    assert set(found) == {key(0), key(2), key(3)}
    assert all(np.array_equal(found[key(n)], array(n)) for n in (0, 2, 3))


def test_a_damaged_entry_is_dropped_from_the_index(tmp_path):
    shard = filled(tmp_path)
    flip_byte(shard, 10)

    with EmbeddingCache.open(tmp_path) as cache:
        cache.get_many([key(0)])

    assert key(0) not in index_keys(tmp_path) and key(1) in index_keys(tmp_path)


def test_a_damaged_entry_can_be_stored_again(tmp_path):
    shard = filled(tmp_path)
    flip_byte(shard, 10)

    with EmbeddingCache.open(tmp_path) as cache:
        cache.get_many([key(0)])
        cache.put_many([(key(0), array(0))])

        assert np.array_equal(cache.get_many([key(0)])[key(0)], array(0))


def test_damaged_entries_are_announced_by_one_warning_line_per_cache(tmp_path, capsys):
    shard = filled(tmp_path)
    for n in range(3):
        flip_byte(shard, n * 64 * 4)

    with EmbeddingCache.open(tmp_path) as cache:
        cache.get_many([key(0), key(1)])
        cache.get_many([key(2)])

    (line,) = warnings_in(capsys.readouterr().err)
    assert f"embedding cache {tmp_path}: 2 corrupt entries (checksum mismatch in shards/{shard.name})" in line
    assert "recomputed" in line


def test_a_truncated_shard_is_a_miss_only_past_its_end(tmp_path, capsys):
    shard = filled(tmp_path)
    os.truncate(shard, 64 * 4 * 2 + 5)

    with EmbeddingCache.open(tmp_path) as cache:
        found = cache.get_many([key(n) for n in range(4)])

    assert set(found) == {key(0), key(1)}
    assert "2 corrupt entries (truncated shard in shards/" in capsys.readouterr().err


def test_a_missing_shard_is_a_miss(tmp_path, capsys):
    filled(tmp_path).unlink()

    with EmbeddingCache.open(tmp_path) as cache:
        assert cache.get_many([key(0)]) == {}

    assert "1 corrupt entry (missing shard in shards/" in capsys.readouterr().err


def test_an_index_row_that_does_not_fit_its_bytes_is_a_miss(tmp_path):
    filled(tmp_path)
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        conn.execute("UPDATE entries SET shape = '8,8,8' WHERE key = ?", (key(0),))

    with EmbeddingCache.open(tmp_path) as cache:
        assert cache.get_many([key(0)]) == {}


def test_an_index_row_pointing_at_another_keys_bytes_is_a_miss(tmp_path):
    filled(tmp_path)
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        conn.execute("UPDATE entries SET offset = 0 WHERE key = ?", (key(1),))  # the bytes of key 0

    with EmbeddingCache.open(tmp_path) as cache:
        assert set(cache.get_many([key(0), key(1)])) == {key(0)}


def test_an_index_row_with_another_shape_of_the_same_size_is_a_miss(tmp_path):
    filled(tmp_path)
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        conn.execute("UPDATE entries SET shape = '8,8' WHERE key = ?", (key(0),))

    with EmbeddingCache.open(tmp_path) as cache:
        assert cache.get_many([key(0)]) == {}


def test_a_shard_that_cannot_be_read_is_a_miss_and_keeps_its_entries(tmp_path, monkeypatch, capsys):
    filled(tmp_path)

    def denied(self, name, offset, buffer):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(ShardReader, "read_into", denied)
    with EmbeddingCache.open(tmp_path) as cache:
        assert cache.get_many([key(0), key(1)]) == {}

    assert len(index_keys(tmp_path)) == 4
    (line,) = warnings_in(capsys.readouterr().err)
    assert "Permission denied" in line


# --- a damaged index ---------------------------------------------------------------------------


def test_an_index_that_is_not_a_database_is_moved_aside_and_a_new_one_started(tmp_path, capsys):
    filled(tmp_path)
    (tmp_path / "index.sqlite").write_bytes(b"this is not sqlite" * 100)

    with EmbeddingCache.open(tmp_path) as cache:
        assert cache.get_many([key(0)]) == {}
        cache.put_many([(key(0), array(0))])
        assert np.array_equal(cache.get_many([key(0)])[key(0)], array(0))

    (moved,) = tmp_path.glob("index.sqlite.corrupt-*")
    assert moved.read_bytes().startswith(b"this is not sqlite")
    (line,) = warnings_in(capsys.readouterr().err)
    assert "file is not a database" in line and moved.name in line


def test_a_truncated_index_is_moved_aside_and_a_new_one_started(tmp_path, capsys):
    with EmbeddingCache.open(tmp_path) as cache:
        cache.put_many([(key(n), array(n)) for n in range(2000)])
    index = tmp_path / "index.sqlite"
    os.truncate(index, index.stat().st_size // 2)

    with EmbeddingCache.open(tmp_path) as cache:
        found = cache.get_many([key(n) for n in range(2000)])

    assert found == {}
    assert len(list(tmp_path.glob("index.sqlite.corrupt-*"))) == 1
    assert len(warnings_in(capsys.readouterr().err)) == 1


def test_an_index_damaged_during_a_run_is_replaced_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    filled(tmp_path)
    with EmbeddingCache.open(tmp_path) as cache:
        (tmp_path / "index.sqlite").write_bytes(b"\0" * 8192)  # the same file, overwritten
        monkeypatch.setattr(CacheIndex, "lookup", _malformed_once(CacheIndex.lookup))

        assert cache.get_many([key(0)]) == {}
        cache.put_many([(key(9), array(9))])
        assert np.array_equal(cache.get_many([key(9)])[key(9)], array(9))

    assert len(list(tmp_path.glob("index.sqlite.corrupt-*"))) == 1
    assert len(warnings_in(capsys.readouterr().err)) == 1


def _malformed_once(lookup):
    calls = []

    def failing(self, keys):
        if not calls:
            calls.append(1)
            raise sqlite3.DatabaseError("database disk image is malformed")
        return lookup(self, keys)

    return failing


def test_an_index_of_a_newer_format_is_refused_in_one_line(tmp_path):
    filled(tmp_path)
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        conn.execute("PRAGMA user_version = 99")

    with pytest.raises(CacheFormatError, match="format 99, written by a newer harness") as raised:
        EmbeddingCache.open(tmp_path)

    assert "\n" not in str(raised.value)


def test_an_sqlite_file_of_another_program_is_refused_and_left_alone(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        conn.execute("CREATE TABLE mine (x)")

    with pytest.raises(CacheFormatError, match="another program"):
        EmbeddingCache.open(tmp_path)

    assert not list(tmp_path.glob("index.sqlite.corrupt-*"))


# --- a full disk, a folder that cannot be written ----------------------------------------------


def full_disk(fd, data, offset):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_stops_writing_after_one_warning_and_lookups_go_on(tmp_path, monkeypatch, capsys):
    filled(tmp_path)
    with EmbeddingCache.open(tmp_path) as cache:
        monkeypatch.setattr(shards_module, "append_bytes", full_disk)

        cache.put_many([(key(10), array(10))])
        cache.put_many([(key(11), array(11))])

        assert not cache.writable
        assert np.array_equal(cache.get_many([key(0)])[key(0)], array(0))
        assert cache.get_many([key(10), key(11)]) == {}

    (line,) = warnings_in(capsys.readouterr().err)
    assert "No space left on device" in line and "no longer cached" in line


def test_a_batch_that_failed_to_write_leaves_no_entry(tmp_path, monkeypatch):
    with EmbeddingCache.open(tmp_path) as cache:
        monkeypatch.setattr(shards_module, "append_bytes", full_disk)
        cache.put_many([(key(1), array(1))])
    monkeypatch.undo()

    with EmbeddingCache.open(tmp_path) as cache:
        assert cache.get_many([key(1)]) == {} and cache.writable


def test_an_index_that_cannot_be_written_stops_writing_after_one_warning(tmp_path, monkeypatch, capsys):
    def full(self, shard, entries, now):
        raise sqlite3.OperationalError("database or disk is full")

    with EmbeddingCache.open(tmp_path) as cache:
        monkeypatch.setattr(CacheIndex, "insert", full)
        cache.put_many([(key(1), array(1))])
        cache.put_many([(key(2), array(2))])

        assert not cache.writable

    (line,) = warnings_in(capsys.readouterr().err)
    assert "database or disk is full" in line


def test_a_folder_that_cannot_be_written_is_read_after_one_warning(tmp_path, monkeypatch, capsys):
    filled(tmp_path)
    monkeypatch.setattr(opening_module.os, "access", lambda path, mode: False)

    with EmbeddingCache.open(tmp_path) as cache:
        found = cache.get_many([key(0)])
        cache.put_many([(key(9), array(9))])

        assert not cache.writable and np.array_equal(found[key(0)], array(0))
    monkeypatch.undo()

    assert key(9) not in index_keys(tmp_path)
    (line,) = warnings_in(capsys.readouterr().err)
    assert "is not writable; reading only" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_is_read_after_one_warning(tmp_path, capsys):
    filled(tmp_path)
    for path in [tmp_path, tmp_path / "shards"]:
        path.chmod(0o555)
    try:
        with EmbeddingCache.open(tmp_path) as cache:
            found = cache.get_many([key(0)])
            cache.put_many([(key(9), array(9))])
            assert not cache.writable and np.array_equal(found[key(0)], array(0))
    finally:
        for path in [tmp_path, tmp_path / "shards"]:
            path.chmod(0o755)

    assert len(warnings_in(capsys.readouterr().err)) == 1


def test_a_folder_that_cannot_be_created_gives_an_empty_cache_after_one_warning(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")

    with EmbeddingCache.open(tmp_path / "file" / "cache") as cache:
        cache.put_many([(key(1), array(1))])
        assert cache.get_many([key(1)]) == {} and not cache.writable

    (line,) = warnings_in(capsys.readouterr().err)
    assert "cannot create" in line


READ_ONLY_READER = """
import sys
from pathlib import Path
import numpy as np
from harness.cache import EmbeddingCache
with EmbeddingCache.open(Path(sys.argv[1])) as cache:
    found = cache.get_many([sys.argv[2]])
    cache.put_many([("new", np.zeros(3, np.float32))])
    print(len(found), cache.writable)
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1)")
def test_a_read_only_file_system_is_read_after_one_warning(tmp_path):
    filled(tmp_path)
    mount = f"mount --bind {tmp_path} {tmp_path} && mount -o remount,bind,ro {tmp_path}"
    if subprocess.run(["unshare", "-m", "sh", "-c", mount], capture_output=True).returncode != 0:
        pytest.skip("cannot mount in a private mount namespace here")

    done = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f'{mount} && exec "$0" -c "$1" {tmp_path} {key(0)}',
            sys.executable,
            READ_ONLY_READER,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.stdout.split() == ["1", "False"], done.stderr
    assert len(warnings_in(done.stderr)) == 1 and "not writable" in done.stderr


def test_a_lock_file_that_cannot_be_created_leaves_a_cache_that_reads(tmp_path, monkeypatch, capsys):
    filled(tmp_path)
    (tmp_path / "lock").unlink()
    real_open = os.open

    def no_inodes(path, flags, *args):
        if str(path).endswith("/lock") and flags & os.O_CREAT:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_inodes)
    with EmbeddingCache.open(tmp_path) as cache:
        found = cache.get_many([key(0)])

        assert not cache.writable and np.array_equal(found[key(0)], array(0))
    (line,) = warnings_in(capsys.readouterr().err)
    assert "cannot create its lock file" in line
