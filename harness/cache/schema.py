"""The index file's format: tables, format version and connection settings.

The index is one SQLite file, ``index.sqlite``, in WAL journal mode. Its ``application_id``
says it is an embedding cache index and its ``user_version`` is the format version; readers
check both before reading anything, and refuse an index of another program or a newer format.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from harness.cache.errors import CacheFormatError

INDEX_FILE = "index.sqlite"
"""The index inside the cache folder (with its ``-wal`` and ``-shm`` files beside it while open)."""
APPLICATION_ID = 0x4D4D4542
"""``PRAGMA application_id`` of an index (the ASCII bytes ``MMEB``)."""
FORMAT_VERSION = 1
"""``PRAGMA user_version`` of an index this code writes and reads; bumped on any change below."""
BUSY_TIMEOUT_MS = 60_000
"""How long a statement waits for another process's write to finish before giving up."""

TABLES = (
    # One row per shard file that entries point into; entries name shards by this id.
    """CREATE TABLE IF NOT EXISTS shards (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    )""",
    # One row per stored array: where its bytes are, what they are, and when it was last used.
    """CREATE TABLE IF NOT EXISTS entries (
        key TEXT PRIMARY KEY,
        shard INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        nbytes INTEGER NOT NULL,
        dtype TEXT NOT NULL,
        shape TEXT NOT NULL,
        checksum BLOB NOT NULL,
        created INTEGER NOT NULL,
        last_used INTEGER NOT NULL
    ) WITHOUT ROWID""",
    # The memo of file content hashes: valid while the file keeps this size and mtime.
    """CREATE TABLE IF NOT EXISTS file_digests (
        path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        last_used INTEGER NOT NULL
    ) WITHOUT ROWID""",
)


def connect(path: Path, *, read_only: bool, immutable: bool = False) -> sqlite3.Connection | None:
    """Open the index at ``path`` (created when writable and missing) and check its format.

    A writable connection uses WAL with ``synchronous=NORMAL`` (see docs/cache.md: shard bytes
    are fsync'd before the index row naming them is committed). ``immutable`` reads an index in a
    folder where SQLite cannot create its ``-shm`` file (a read-only folder). Corruption raises
    ``sqlite3.DatabaseError``; another program's or a newer index raises ``CacheFormatError``.
    An empty index opened read-only gives None (there is nothing to read).
    """
    if read_only:
        uri = path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not read_only:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        has_tables = _check_format(conn, path, read_only)
    except BaseException:
        conn.close()
        raise
    if not has_tables:
        conn.close()
        return None
    return conn


def _check_format(conn: sqlite3.Connection, path: Path, read_only: bool) -> bool:
    """Create the tables of a new writable index; False for an empty read-only one."""
    application_id, version = _format_of(conn)
    if application_id == 0 and version == 0 and not read_only:
        conn.execute("BEGIN IMMEDIATE")  # two processes creating one index: the second sees the first's
        try:
            application_id, version = _format_of(conn)
            if application_id == 0 and version == 0 and _table_count(conn) == 0:
                for statement in TABLES:
                    conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
                application_id, version = APPLICATION_ID, FORMAT_VERSION
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    if application_id == 0 and version == 0 and _table_count(conn) == 0:
        return False
    if application_id != APPLICATION_ID:
        raise CacheFormatError(
            f"{path} is an SQLite file of another program, not an embedding cache index; choose another cache folder"
        )
    if version != FORMAT_VERSION:
        newer = "a newer" if version > FORMAT_VERSION else "an older"
        raise CacheFormatError(
            f"{path} has index format {version}, written by {newer} harness (this one reads format "
            f"{FORMAT_VERSION}); choose another cache folder or delete this one"
        )
    return True


def _format_of(conn: sqlite3.Connection) -> tuple[int, int]:
    return conn.execute("PRAGMA application_id").fetchone()[0], conn.execute("PRAGMA user_version").fetchone()[0]


def _table_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
