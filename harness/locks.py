"""Lock files held by a process, not by the children it forks.

An ``flock`` belongs to the open file, which a forked child shares: a preprocessing worker forked
while the run holds its output folder's lock (or the embedding cache's) would keep holding it
after the run is killed, until the worker notices and exits, and a rerun started at once would
be refused. So every lock descriptor is registered here and closed in each forked child (which
drops the child's reference only: the parent keeps its lock).
"""

from __future__ import annotations

import contextlib
import os

_HELD: set[int] = set()


def keep_from_children(fd: int) -> None:
    """Close ``fd`` in every child forked from now on."""
    _HELD.add(fd)


def forget(fd: int) -> None:
    """Stop closing ``fd`` in children (before this process closes it)."""
    _HELD.discard(fd)


def _close_in_child() -> None:
    for fd in list(_HELD):
        with contextlib.suppress(OSError):  # already closed: nothing to drop
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)
