"""The cache folder's lock: runs share it, prune and clear need it alone.

Every open cache object holds a shared ``flock`` on the folder's ``lock`` file for its whole
life; prune and clear upgrade it to exclusive without waiting, and refuse when another object
(in this process or any other) has the cache open. The lock goes with the process, so a killed
run never leaves the cache locked.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.cache.errors import CacheBusyError
from harness.locks import forget, keep_from_children

LOCK_FILE = "lock"
"""The lock file inside the cache folder (empty; only its ``flock`` matters)."""


class CacheLock:
    """A shared lock on a cache folder, upgradable to exclusive for maintenance."""

    def __init__(self, root: Path, fd: int | None) -> None:
        self.root = root
        self._fd = fd

    @classmethod
    def shared(cls, root: Path, *, create: bool) -> CacheLock:
        """Take the shared lock, waiting (after one note on stderr) while a prune or clear runs.

        Without ``create`` a missing lock file is not made; then nothing is locked (a read-only
        folder cannot be pruned either).
        """
        path = root / LOCK_FILE
        try:
            fd = os.open(path, (os.O_RDWR | os.O_CREAT) if create else os.O_RDONLY, 0o644)
        except OSError:
            if create:
                raise
            return cls(root, None)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"note: embedding cache {root} is being pruned or cleared; waiting for it", file=sys.stderr)
            fcntl.flock(fd, fcntl.LOCK_SH)
        keep_from_children(fd)  # a forked worker must not keep the cache "in use" after the run
        return cls(root, fd)

    @contextmanager
    def exclusive(self, action: str) -> Iterator[None]:
        """Hold the lock alone for the block; ``CacheBusyError`` if any other object has the cache open."""
        if self._fd is None:
            raise CacheBusyError(f"embedding cache {self.root}: cannot {action}: its lock file cannot be opened")
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(self._fd, fcntl.LOCK_SH)  # a failed upgrade may have dropped the shared lock
            raise CacheBusyError(
                f"embedding cache {self.root} is in use by a run (or another open cache); "
                f"{action} needs it alone: try again when the run has finished"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        """Drop the lock."""
        if self._fd is not None:
            forget(self._fd)
            os.close(self._fd)
            self._fd = None
