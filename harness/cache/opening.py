"""How a cache folder is opened: created if need be, checked for writing, its index opened, and a
damaged index moved aside for a fresh one.

Every condition that lets a run go on without a working cache is announced by one warning line
(see ``Notices``), never silently.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from harness.cache.index import CacheIndex
from harness.cache.notices import Notices
from harness.cache.schema import INDEX_FILE
from harness.cache.shards import SHARDS_DIR

RECOMPUTE = "cached embeddings will be recomputed"


def folder_problem(root: Path) -> str | None:
    """Create ``root`` and its ``shards`` folder; why files cannot be written there, or None."""
    shards = root / SHARDS_DIR
    try:
        shards.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot create {shards}: {error.strerror or error}"
    for folder in (root, shards):
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"{folder} is not writable"
    return None


def is_corruption(error: BaseException) -> bool:
    """True when SQLite says the file is damaged or not a database (not for busy, full or read-only)."""
    name = getattr(error, "sqlite_errorname", None)  # Python 3.11+
    if name is not None:
        return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB")
    return type(error) is sqlite3.DatabaseError  # what CPython raises for exactly those two codes


def open_index(root: Path, writable: bool, notices: Notices) -> tuple[CacheIndex | None, bool]:
    """The index of ``root`` and whether it can be written.

    Writable: a damaged index is moved aside and a fresh one started; an index SQLite cannot
    write is opened read-only. Read-only: a missing, damaged or unreadable index gives None
    (every lookup misses). ``CacheFormatError`` for an index of another program or format.
    """
    path = root / INDEX_FILE
    if writable:
        try:
            return CacheIndex.open(path, read_only=False), True
        except sqlite3.Error as error:
            if is_corruption(error):
                try:
                    return replace_damaged_index(path, notices, error), True
                except (OSError, sqlite3.Error) as failure:
                    error = failure  # type: ignore[assignment]
            notices.warn_once(
                "write", f"cannot write {INDEX_FILE} ({error}); reading only, new embeddings are not cached"
            )
    return _open_read_only(path, notices), False


def _open_read_only(path: Path, notices: Notices) -> CacheIndex | None:
    if not path.exists():
        return None
    try:
        try:
            return CacheIndex.open(path, read_only=True)
        except sqlite3.OperationalError:
            # A read-only folder without the index's -shm file: SQLite can read it only as immutable.
            return CacheIndex.open(path, read_only=True, immutable=True)
    except sqlite3.Error as error:
        state = "is damaged" if is_corruption(error) else "cannot be read"
        notices.warn_once("index", f"{INDEX_FILE} {state} ({error}); every lookup misses")
        return None


def replace_damaged_index(path: Path, notices: Notices, error: sqlite3.Error) -> CacheIndex:
    """Move the damaged index at ``path`` aside, warn once, and open a fresh one."""
    moved = move_aside(path)
    notices.warn_once(
        "index",
        f"{INDEX_FILE} is damaged ({error}); moved it to {moved.name} and started a new index: "
        f"{RECOMPUTE} (`harness cache prune` reclaims their shards)",
    )
    index = CacheIndex.open(path, read_only=False)
    assert index is not None
    return index


def move_aside(path: Path) -> Path:
    """Rename the index (and its write-ahead log) to ``index.sqlite.corrupt-<UTC time>-<pid>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}-{os.getpid()}")
    os.replace(path, target)
    wal = path.with_name(f"{path.name}-wal")
    if wal.exists():
        os.replace(wal, target.with_name(f"{target.name}-wal"))
    path.with_name(f"{path.name}-shm").unlink(missing_ok=True)
    return target


def same_file(path: Path, identity: tuple[int, int]) -> bool:
    """True when ``path`` is still the file ``identity`` (device, inode) names."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return False
    return (stat.st_dev, stat.st_ino) == identity
