"""The index: which key's bytes are where, and the memo of file hashes (SQL only, no file I/O).

Every method is one statement or one transaction. Writes run in ``BEGIN IMMEDIATE``
transactions, so concurrent writers queue on SQLite's lock (up to ``BUSY_TIMEOUT_MS``) instead
of failing; readers never wait for writers (WAL).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from harness.cache.schema import connect
from harness.cache.values import STORED_DTYPE

MAX_KEYS_PER_QUERY = 500
"""Keys looked up, touched or deleted per statement (``key IN (?, ...)``)."""

ENTRY_COLUMNS = (
    "SELECT e.key, s.name, e.offset, e.nbytes, e.dtype, e.shape, e.checksum, e.last_used "
    "FROM entries e JOIN shards s ON s.id = e.shard"
)


class IndexEntry(NamedTuple):
    """Where one stored array is and what it is."""

    key: str
    shard: str
    offset: int
    nbytes: int
    dtype: str
    shape: str
    checksum: bytes
    last_used: int


class NewEntry(NamedTuple):
    """A row to insert: the array's bytes are already on disk in the shard at ``offset``."""

    key: str
    offset: int
    nbytes: int
    shape: str
    checksum: bytes


class FileDigestMemo(NamedTuple):
    """A remembered file hash, valid while the file keeps ``size`` and ``mtime_ns``."""

    size: int
    mtime_ns: int
    sha256: str
    last_used: int


class IndexSummary(NamedTuple):
    """Totals over the entries."""

    entries: int
    nbytes: int
    oldest: int | None
    newest: int | None


class CacheIndex:
    """A connection to ``index.sqlite`` with the cache's queries."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        stat = os.stat(path)
        self.identity = (stat.st_dev, stat.st_ino)
        """The file this connection reads: a damaged index is moved aside only if it is still this file."""

    @classmethod
    def open(cls, path: Path, *, read_only: bool, immutable: bool = False) -> CacheIndex | None:
        """Open (or create) the index; None for an empty index opened read-only. See ``schema.connect``."""
        conn = connect(path, read_only=read_only, immutable=immutable)
        return None if conn is None else cls(conn, path)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed at the end of the block, rolled back on an error."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    # --- entries ---------------------------------------------------------------------------

    def lookup(self, keys: Sequence[str]) -> list[IndexEntry]:
        """The entries of those of ``keys`` (at most ``MAX_KEYS_PER_QUERY``) that are present."""
        where = f"e.key IN ({_marks(keys)})"
        rows = self.conn.execute(f"{ENTRY_COLUMNS} WHERE {where}", tuple(keys)).fetchall()  # noqa: S608 (only ?s)
        return [IndexEntry(*row) for row in rows]

    def present(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` (at most ``MAX_KEYS_PER_QUERY``) that have an entry."""
        query = f"SELECT key FROM entries WHERE key IN ({_marks(keys)})"  # noqa: S608 (only placeholders)
        rows = self.conn.execute(query, tuple(keys))
        return {row[0] for row in rows}

    def insert(self, shard: str, entries: Sequence[NewEntry], now: int) -> None:
        """Add ``entries`` of ``shard`` in one transaction; a key already present keeps its entry."""
        with self.transaction() as conn:
            shard_id = self._shard_id(conn, shard)
            conn.executemany(
                "INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.key, shard_id, e.offset, e.nbytes, STORED_DTYPE, e.shape, e.checksum, now, now) for e in entries],
            )

    def touch(self, keys: Sequence[str], now: int) -> None:
        """Record that ``keys`` were used at ``now`` (one transaction)."""
        with self.transaction() as conn:
            conn.executemany("UPDATE entries SET last_used = ? WHERE key = ?", [(now, key) for key in keys])

    def delete(self, keys: Sequence[str]) -> None:
        """Remove the entries of ``keys`` (one transaction)."""
        with self.transaction() as conn:
            conn.executemany("DELETE FROM entries WHERE key = ?", [(key,) for key in keys])

    def summary(self) -> IndexSummary:
        """Count, value bytes and creation times of the entries."""
        row = self.conn.execute("SELECT count(*), total(nbytes), min(created), max(created) FROM entries").fetchone()
        return IndexSummary(int(row[0]), int(row[1]), row[2], row[3])

    # --- the memo of file hashes -----------------------------------------------------------

    def digest(self, path: str) -> FileDigestMemo | None:
        """The remembered hash of the file at absolute ``path``, if any."""
        row = self.conn.execute(
            "SELECT size, mtime_ns, sha256, last_used FROM file_digests WHERE path = ?", (path,)
        ).fetchone()
        return None if row is None else FileDigestMemo(*row)

    def remember_digest(self, path: str, size: int, mtime_ns: int, sha256: str, now: int) -> None:
        """Remember (or replace) the hash of the file at ``path``."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO file_digests VALUES (?, ?, ?, ?, ?)", (path, size, mtime_ns, sha256, now)
            )

    def touch_digest(self, path: str, now: int) -> None:
        """Record that the memo of ``path`` was used at ``now``."""
        with self.transaction() as conn:
            conn.execute("UPDATE file_digests SET last_used = ? WHERE path = ?", (now, path))

    # --- maintenance (prune, compaction, clear) ---------------------------------------------

    def delete_unused_since(self, cutoff: int) -> tuple[int, int, int]:
        """Remove entries and file memos last used before ``cutoff``: (entries, their bytes, memos)."""
        with self.transaction() as conn:
            count, nbytes = conn.execute(
                "SELECT count(*), total(nbytes) FROM entries WHERE last_used < ?", (cutoff,)
            ).fetchone()
            conn.execute("DELETE FROM entries WHERE last_used < ?", (cutoff,))
            memos = conn.execute("DELETE FROM file_digests WHERE last_used < ?", (cutoff,)).rowcount
        return int(count), int(nbytes), int(memos)

    def live_bytes_by_shard(self) -> dict[str, int]:
        """Every shard the index knows with the bytes of the entries in it (0 for none)."""
        names = dict(self.conn.execute("SELECT id, name FROM shards").fetchall())
        live = dict.fromkeys(names.values(), 0)
        for shard_id, nbytes in self.conn.execute("SELECT shard, total(nbytes) FROM entries GROUP BY shard"):
            if shard_id in names:
                live[names[shard_id]] = int(nbytes)
        return live

    def entries_in(self, shard: str) -> list[IndexEntry]:
        """The entries of ``shard``, in file order."""
        query = f"{ENTRY_COLUMNS} WHERE s.name = ? ORDER BY e.offset"  # noqa: S608 (a constant)
        rows = self.conn.execute(query, (shard,)).fetchall()
        return [IndexEntry(*row) for row in rows]

    def move(self, shard: str, moves: Sequence[tuple[str, int]]) -> None:
        """Point each ``(key, offset)`` of ``moves`` at ``offset`` in ``shard`` (one transaction)."""
        with self.transaction() as conn:
            shard_id = self._shard_id(conn, shard)
            conn.executemany(
                "UPDATE entries SET shard = ?, offset = ? WHERE key = ?", [(shard_id, o, k) for k, o in moves]
            )

    def forget_shards(self, shards: Sequence[str]) -> int:
        """Remove ``shards`` and any entry still in them; the number of entries removed."""
        removed = 0
        with self.transaction() as conn:
            for name in shards:
                row = conn.execute("SELECT id FROM shards WHERE name = ?", (name,)).fetchone()
                if row is not None:
                    removed += conn.execute("DELETE FROM entries WHERE shard = ?", row).rowcount
                    conn.execute("DELETE FROM shards WHERE id = ?", row)
        return removed

    def clear(self) -> None:
        """Remove every entry, shard and file memo."""
        with self.transaction() as conn:
            for table in ("entries", "shards", "file_digests"):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 (a fixed table name)

    def vacuum(self) -> None:
        """Give the space of deleted rows back to the file system."""
        self.conn.execute("VACUUM")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @staticmethod
    def _shard_id(conn: sqlite3.Connection, shard: str) -> int:
        conn.execute("INSERT OR IGNORE INTO shards (name) VALUES (?)", (shard,))
        return int(conn.execute("SELECT id FROM shards WHERE name = ?", (shard,)).fetchone()[0])


def _marks(keys: Sequence[str]) -> str:
    assert 0 < len(keys) <= MAX_KEYS_PER_QUERY
    return ", ".join("?" * len(keys))
