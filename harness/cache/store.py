"""``EmbeddingCache``: float32 arrays by key in a folder shared by processes and runs.

The folder holds an SQLite index (``index.sqlite``) and append-only shard files of raw bytes
(``shards/``); see docs/cache.md for the format and the guarantees. The cache never returns a
wrong array: every read is checked against the checksum stored with it, and a damaged entry
is a miss (the caller recomputes it). Conditions that stop the cache from working (a damaged
index, a full disk, a read-only folder) are announced by one warning line each, and the run
goes on with fewer hits or without writing (:attr:`EmbeddingCache.writable`).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType

import numpy as np

from harness.cache import clock, digest, maintenance
from harness.cache.errors import CacheError, CacheKeyError
from harness.cache.index import MAX_KEYS_PER_QUERY, CacheIndex, FileDigestMemo, IndexEntry, NewEntry
from harness.cache.location import default_cache_dir
from harness.cache.locking import CacheLock
from harness.cache.notices import Notices
from harness.cache.opening import RECOMPUTE, folder_problem, is_corruption, open_index, replace_damaged_index, same_file
from harness.cache.reading import Damage, read_entry, well_formed
from harness.cache.reports import CacheInfo, PruneReport
from harness.cache.schema import INDEX_FILE
from harness.cache.shards import SHARDS_DIR, ShardReader, ShardWriter, shard_files
from harness.cache.values import check_key, encode_value

TOUCH_INTERVAL_S = 3600
"""An entry's ``last_used`` is rewritten on a hit only when it is older than this (prune ages are
accurate to an hour, and repeated hits cost no writes)."""
TOUCH_BATCH = 5000
"""Hits whose ``last_used`` is rewritten per transaction."""
RACY_MTIME_NS = 2_000_000_000
"""A file modified less than this long before it was hashed is not remembered: a change within
the file system's timestamp granularity could otherwise keep size and mtime unchanged."""


class EmbeddingCache:
    """A content-addressed store of float32 arrays in a cache folder; open with :meth:`open`."""

    def __init__(
        self,
        root: Path,
        index: CacheIndex | None,
        lock: CacheLock,
        notices: Notices,
        *,
        writable: bool,
        read_only: bool,
    ) -> None:
        self._root = root
        self._index = index
        self._lock = lock
        self._notices = notices
        self._writable = writable
        self._read_only = read_only
        self._writer = ShardWriter(root / SHARDS_DIR)
        self._reader = ShardReader(root / SHARDS_DIR)
        self._memo: dict[str, FileDigestMemo] = {}  # file hashes, while the index cannot remember them
        self._pid = os.getpid()
        self._closed = False

    @classmethod
    def open(cls, root: Path | None = None, *, read_only: bool = False) -> EmbeddingCache:
        """Open (creating if need be) the cache in ``root``, by default :func:`default_cache_dir`.

        ``read_only`` never writes (no entries, no ``last_used``, no file memos). A folder that
        cannot be written, or whose index is damaged, is announced by one warning line and the
        cache goes on as far as it can (see :attr:`writable`). Raises ``CacheFormatError`` for an
        index of another program or a newer harness.
        """
        root = Path(root) if root is not None else default_cache_dir()
        notices = Notices(root)
        writable = not read_only
        if writable and (problem := folder_problem(root)) is not None:
            notices.warn_once("write", f"{problem}; reading only, new embeddings are not cached")
            writable = False
        try:
            lock = CacheLock.shared(root, create=writable)
        except OSError as error:  # e.g. no inode left for the lock file
            notices.warn_once("write", f"cannot create its lock file ({_reason(error)}); reading only")
            writable = False
            lock = CacheLock.shared(root, create=False)
        try:
            index, writable = open_index(root, writable, notices)
        except BaseException:
            lock.release()
            raise
        return cls(root, index, lock, notices, writable=writable, read_only=read_only)

    @property
    def root(self) -> Path:
        """The cache folder."""
        return self._root

    @property
    def writable(self) -> bool:
        """False when opened ``read_only`` or once a write failed (full disk, read-only folder):
        from then on :meth:`put_many` stores nothing and lookups go on."""
        return self._writable

    # --- lookups and stores ----------------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The arrays stored under those of ``keys`` that are present, each a fresh float32 array
        equal bit for bit to what was put; a damaged entry is a miss and is dropped from the index."""
        self._check_usable()
        if isinstance(keys, str):
            raise CacheKeyError("get_many takes a sequence of keys, not one string")
        found: dict[str, np.ndarray] = {}
        damaged: list[Damage] = []
        stale: list[str] = []
        now = clock.now()
        for start in range(0, len(keys), MAX_KEYS_PER_QUERY):
            chunk = [check_key(key) for key in keys[start : start + MAX_KEYS_PER_QUERY]]
            entries = []
            for entry in self._lookup(chunk):
                if well_formed(entry):
                    entries.append(entry)
                else:
                    damaged.append(Damage(entry.key, str(entry.shard), "malformed index entry"))
            for entry in sorted(entries, key=lambda e: (e.shard, e.offset)):  # in file order
                value = self._read(entry)
                if isinstance(value, Damage):
                    damaged.append(value)
                elif value is not None:
                    found[entry.key] = value
                    if entry.last_used < now - TOUCH_INTERVAL_S:
                        stale.append(entry.key)
            if len(stale) >= TOUCH_BATCH:
                self._touch(stale, now)
                stale = []
        if stale:
            self._touch(stale, now)
        if damaged:
            self._drop_damaged(damaged)
        return found

    def put_many(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Store each ``(key, array)``, durably when this returns (one fsync for the call).

        A key already stored keeps its first array (equal keys mean equal content). Bad keys or
        non-float32 values raise before anything is written; once the cache cannot write, this
        does nothing (see :attr:`writable`).
        """
        self._check_usable()
        seen: set[str] = set()
        encoded = []
        for key, value in items:
            stored = encode_value(check_key(key), value)
            if key not in seen:  # the first of equal keys in one batch wins, as across batches
                seen.add(key)
                encoded.append((key, stored))
        if not self._writable or self._index is None or not encoded:
            return
        present = self._present([key for key, _ in encoded])
        todo = [(key, stored) for key, stored in encoded if key not in present]
        if not todo:
            return
        try:
            shard, offset = self._writer.append([stored.data for _, stored in todo])
        except OSError as error:
            self._stop_writing(error)
            return
        rows = []
        for key, stored in todo:
            rows.append(NewEntry(key, offset, len(stored.data), stored.shape, stored.checksum))
            offset += len(stored.data)
        self._write_index(lambda index: index.insert(shard, rows, clock.now()), retry_after_reset=True)

    def file_digest(self, path: Path) -> str:
        """The hex SHA-256 of the file's bytes, hashed once and remembered by (absolute path, size,
        mtime): a memo trusted only while size and mtime are unchanged. ``OSError`` if unreadable."""
        self._check_usable()
        absolute = os.path.realpath(path)
        stat = os.stat(absolute)
        memo = self._remembered(absolute)
        if memo is not None and (memo.size, memo.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            now = clock.now()
            if memo.last_used < now - TOUCH_INTERVAL_S:
                self._write_index(lambda index: index.touch_digest(absolute, now))
            return memo.sha256
        sha256, stat = self._hash_unchanging(absolute, stat)
        if clock.now() * 1_000_000_000 - stat.st_mtime_ns >= RACY_MTIME_NS:
            self._remember(absolute, stat, sha256)
        return sha256

    # --- maintenance -----------------------------------------------------------------------

    def info(self) -> CacheInfo:
        """Entries, bytes, shard files and entry ages of the cache."""
        self._check_usable()
        summary = None
        if self._index is not None:
            try:
                summary = self._index.summary()
            except sqlite3.Error as error:
                raise CacheError(f"embedding cache {self._root}: cannot read {INDEX_FILE}: {error}") from None
        return CacheInfo(
            path=self._root,
            entries=summary.entries if summary else 0,
            entry_bytes=summary.nbytes if summary else 0,
            disk_bytes=maintenance.disk_bytes(self._root),
            shards=len(shard_files(self._root / SHARDS_DIR)),
            oldest_entry=_utc(summary.oldest) if summary else None,
            newest_entry=_utc(summary.newest) if summary else None,
            writable=self._writable,
        )

    def prune(self, older_than: timedelta) -> PruneReport:
        """Remove entries not used for ``older_than``, and give their disk space back (shards with no
        live entry deleted, mostly unreachable ones rewritten). Needs the cache alone: ``CacheBusyError``
        while any other cache object has it open."""
        if older_than < timedelta(0):
            raise CacheError(f"prune: the age must not be negative, got {older_than}")
        index = self._maintainable("prune")
        cutoff = clock.now() - int(older_than.total_seconds())
        self._writer.close()  # (a refused upgrade may let another prune in before the lock is shared again)
        with self._lock.exclusive("prune"):
            try:
                return maintenance.prune(index, self._root, self._writer, self._reader, cutoff)
            except (OSError, sqlite3.Error) as error:
                message = f"prune stopped ({_reason(error)}); the cache is consistent, run prune again"
                raise CacheError(f"embedding cache {self._root}: {message}") from None

    def clear(self) -> None:
        """Remove every entry, file memo and shard. Needs the cache alone (as :meth:`prune`)."""
        index = self._maintainable("clear")
        self._writer.close()
        with self._lock.exclusive("clear"):
            try:
                maintenance.clear(index, self._root, self._writer, self._reader)
            except (OSError, sqlite3.Error) as error:
                raise CacheError(f"embedding cache {self._root}: clear stopped ({_reason(error)})") from None

    def close(self) -> None:
        """Close files and the index and release the lock (also done by ``with``)."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        self._reader.close()
        if self._index is not None:
            self._index.close()
            self._index = None
        self._lock.release()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # --- the rest: how failures are handled ----------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise CacheError(f"embedding cache {self._root} is closed")
        if os.getpid() != self._pid:
            raise CacheError(
                f"embedding cache {self._root} was opened by process {self._pid} and used by process "
                f"{os.getpid()} (after a fork): open it in each process"
            )

    def _maintainable(self, action: str) -> CacheIndex:
        self._check_usable()
        if not self._writable or self._index is None:
            why = "it was opened read-only" if self._read_only else "it cannot be written (see the warning above)"
            raise CacheError(f"embedding cache {self._root}: cannot {action}: {why}")
        return self._index

    def _lookup(self, chunk: list[str]) -> list[IndexEntry]:
        if self._index is None:
            return []
        try:
            return self._index.lookup(chunk)
        except sqlite3.Error as error:
            if is_corruption(error):
                self._index_damaged(error)
            else:
                self._notices.warn_once("read", f"cannot read {INDEX_FILE} ({error}); lookups miss meanwhile")
            return []

    def _present(self, keys: list[str]) -> set[str]:
        present: set[str] = set()
        for start in range(0, len(keys), MAX_KEYS_PER_QUERY):
            present |= {entry.key for entry in self._lookup(keys[start : start + MAX_KEYS_PER_QUERY])}
        return present

    def _read(self, entry: IndexEntry) -> np.ndarray | Damage | None:
        try:
            return read_entry(self._reader, entry)
        except OSError as error:
            self._notices.warn_once(
                "shard-read", f"cannot read {SHARDS_DIR}/{entry.shard} ({_reason(error)}); its entries miss"
            )
            return None

    def _touch(self, keys: list[str], now: int) -> None:
        self._write_index(lambda index: index.touch(keys, now))

    def _drop_damaged(self, damaged: list[Damage]) -> None:
        count = len(damaged)
        noun = "entry" if count == 1 else "entries"
        self._notices.warn_once("damaged", f"{count} corrupt {noun} ({damaged[0].describe()}); they will be recomputed")
        self._write_index(lambda index: index.delete([d.key for d in damaged]))

    def _write_index(self, write: Callable[[CacheIndex], None], *, retry_after_reset: bool = False) -> None:
        """Run ``write(index)`` unless the cache no longer writes; a failure stops writing (one warning),
        a damaged index is replaced (and ``write`` retried once if asked)."""
        if not self._writable or self._index is None:
            return
        try:
            write(self._index)
        except sqlite3.Error as error:
            if not is_corruption(error):
                self._stop_writing(error)
                return
            self._index_damaged(error)
            if retry_after_reset and self._index is not None:
                self._write_index(write)

    def _stop_writing(self, error: BaseException) -> None:
        self._writable = False
        self._writer.close()
        self._notices.warn_once(
            "write", f"cannot write ({_reason(error)}); new embeddings are no longer cached (lookups go on)"
        )

    def _index_damaged(self, error: sqlite3.Error) -> None:
        """Replace the damaged index by a fresh one (or, when it cannot be written, stop using it)."""
        assert self._index is not None
        identity = self._index.identity
        self._index.close()
        self._index = None
        path = self._root / INDEX_FILE
        if not self._writable:
            self._notices.warn_once("index", f"{INDEX_FILE} is damaged ({error}); every lookup misses from now on")
            return
        try:
            if same_file(path, identity):
                self._index = replace_damaged_index(path, self._notices, error)
            else:  # another process replaced it already
                self._index = CacheIndex.open(path, read_only=False)
                self._notices.warn_once("index", f"{INDEX_FILE} was damaged ({error}) and replaced; {RECOMPUTE}")
        except (OSError, sqlite3.Error) as failure:
            self._stop_writing(failure)

    def _remembered(self, path: str) -> FileDigestMemo | None:
        if path in self._memo or self._index is None:
            return self._memo.get(path)
        try:
            memo = self._index.digest(path)
        except sqlite3.Error as error:
            if is_corruption(error):
                self._index_damaged(error)
            return None
        if memo is None or not all(type(v) is int for v in (memo.size, memo.mtime_ns, memo.last_used)):
            return None  # none, or a row a damaged index hands back: hash again
        return memo if type(memo.sha256) is str else None

    def _remember(self, path: str, stat: os.stat_result, sha256: str) -> None:
        now = clock.now()
        if self._writable and self._index is not None:
            self._write_index(lambda index: index.remember_digest(path, stat.st_size, stat.st_mtime_ns, sha256, now))
        if not self._writable or self._index is None:
            self._memo[path] = FileDigestMemo(stat.st_size, stat.st_mtime_ns, sha256, now)

    @staticmethod
    def _hash_unchanging(path: str, before: os.stat_result) -> tuple[str, os.stat_result]:
        """Hash the file; hash again if it changed meanwhile; refuse a file that keeps changing."""
        for _ in range(2):
            sha256 = digest.sha256_of_file(Path(path))
            after = os.stat(path)
            if (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns):
                return sha256, after
            before = after
        raise CacheError(f"{path} changed while it was being hashed for the embedding cache; run again when it is done")


def _utc(seconds: object) -> datetime | None:
    return datetime.fromtimestamp(seconds, tz=timezone.utc) if type(seconds) is int else None


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
