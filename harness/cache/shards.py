"""Shard files: append-only files of raw float32 bytes, one writer process per file.

Each process appends to shards it created itself (``<host>-<pid>-<random>.bin``), so writers
never share a file and need no lock; a shard is rolled over once it reaches
``SHARD_SIZE_LIMIT``. A shard has no header: what its bytes mean (offset, length, shape,
checksum) is kept in the index. Readers read byte ranges of any shard with ``preadv``.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

SHARDS_DIR = "shards"
"""The folder of shard files inside the cache folder."""
SHARD_SUFFIX = ".bin"
SHARD_SIZE_LIMIT = 1 << 30
"""A writer starts a new shard once its current one holds this many bytes (1 GiB)."""
SHARD_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}\.bin$")
"""A shard file name: a plain file name (no separator, not hidden) ending in ``.bin``."""
MAX_OPEN_SHARDS = 64
"""Read handles kept open at once (least recently used closed first)."""


def new_shard_name() -> str:
    """A fresh shard name for this process: ``<host>-<pid>-<8 random hex digits>.bin``."""
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:64] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}{SHARD_SUFFIX}"


def is_shard_name(name: str) -> bool:
    """True for a name a shard may have (checked before a name read from the index is opened)."""
    return bool(SHARD_NAME.match(name))


def shard_files(shards_dir: Path) -> dict[str, int]:
    """Every shard file in ``shards_dir`` with its size in bytes."""
    try:
        entries = list(os.scandir(shards_dir))
    except FileNotFoundError:
        return {}
    return {e.name: e.stat().st_size for e in entries if e.is_file(follow_symlinks=False) and is_shard_name(e.name)}


def append_bytes(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of ``data`` to ``fd`` at ``offset`` (``os.pwrite`` may write less than asked).

    Writing at the offset the index will name, rather than wherever the file ends, keeps later
    entries right even if something else shortened the file meanwhile.
    """
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def fsync_dir(path: Path) -> None:
    """Make a file's creation or removal in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ShardWriter:
    """Appends to this process's own shard files; every :meth:`append` is on disk when it returns."""

    def __init__(self, shards_dir: Path, limit: int | None = None) -> None:
        self.shards_dir = shards_dir
        self.limit = SHARD_SIZE_LIMIT if limit is None else limit
        self._fd: int | None = None
        self._name = ""
        self._size = 0

    def append(self, pieces: Sequence[bytes]) -> tuple[str, int]:
        """Append ``pieces`` one after the other, fsync once; return the shard's name and the first offset."""
        total = sum(len(piece) for piece in pieces)
        if self._fd is None or (self._size > 0 and self._size + total > self.limit):
            self._start_shard()
        assert self._fd is not None
        start = offset = self._size
        self._size += total  # counted before writing: after a failed write the tail is garbage, never reused
        for piece in pieces:
            append_bytes(self._fd, piece, offset)
            offset += len(piece)
        os.fsync(self._fd)
        return self._name, start

    def close(self) -> None:
        """Close the current shard; the next append starts a new one."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _start_shard(self) -> None:
        self.close()
        self.shards_dir.mkdir(parents=True, exist_ok=True)
        name = new_shard_name()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.shards_dir / name, flags, 0o644)
        self._name, self._size = name, 0
        fsync_dir(self.shards_dir)  # the new file's name is durable before any index row names it


class ShardReader:
    """Reads byte ranges of any shard, keeping up to ``MAX_OPEN_SHARDS`` files open."""

    def __init__(self, shards_dir: Path) -> None:
        self.shards_dir = shards_dir
        self._open: OrderedDict[str, int] = OrderedDict()

    def read_into(self, name: str, offset: int, buffer: memoryview) -> int:
        """Read ``len(buffer)`` bytes of shard ``name`` from ``offset`` into ``buffer``; return the count read
        (fewer at the end of a truncated file). A missing shard raises ``FileNotFoundError``."""
        fd = self._fd(name)
        done = 0
        while done < len(buffer):
            count = os.preadv(fd, [buffer[done:]], offset + done)
            if count == 0:
                break
            done += count
        return done

    def forget(self, name: str) -> None:
        """Close the handle of ``name`` (before the file is removed or replaced)."""
        fd = self._open.pop(name, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        """Close every handle."""
        for name in list(self._open):
            self.forget(name)

    def _fd(self, name: str) -> int:
        fd = self._open.get(name)
        if fd is not None:
            self._open.move_to_end(name)
            return fd
        fd = os.open(self.shards_dir / name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._open[name] = fd
        if len(self._open) > MAX_OPEN_SHARDS:
            _, oldest = self._open.popitem(last=False)
            os.close(oldest)
        return fd
