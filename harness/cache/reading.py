"""Reading one entry's bytes back into an array, verified: the exact array put, or a reason it is not."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from harness.cache.index import IndexEntry
from harness.cache.shards import SHARDS_DIR, ShardReader, is_shard_name
from harness.cache.values import STORED_DTYPE, checksum, parse_shape


class Damage(NamedTuple):
    """Why an entry cannot be returned (its bytes are gone or are not what was put)."""

    key: str
    shard: str
    reason: str
    """``checksum mismatch``, ``truncated shard``, ``missing shard`` or ``malformed index entry``."""

    def describe(self) -> str:
        """``checksum mismatch in shards/x.bin``."""
        return f"{self.reason} in {SHARDS_DIR}/{self.shard}"


def well_formed(entry: IndexEntry) -> bool:
    """True when every field of the index row has its type (a damaged index can hand back anything)."""
    return (
        type(entry.offset) is int
        and type(entry.nbytes) is int
        and type(entry.last_used) is int
        and type(entry.key) is str
        and type(entry.shard) is str
        and type(entry.dtype) is str
        and type(entry.shape) is str
        and type(entry.checksum) is bytes
    )


def read_entry(reader: ShardReader, entry: IndexEntry) -> np.ndarray | Damage:
    """A fresh float32 array equal bit for bit to what was put under ``entry.key``, or its ``Damage``.

    Other read errors than a missing shard (permissions, I/O errors) raise ``OSError``: the
    bytes may be fine, so the entry is not damaged.
    """
    if not well_formed(entry):
        return Damage(entry.key, str(entry.shard), "malformed index entry")
    shape = parse_shape(entry.shape, entry.nbytes)
    if shape is None or entry.dtype != STORED_DTYPE or not is_shard_name(entry.shard) or entry.offset < 0:
        return Damage(entry.key, entry.shard, "malformed index entry")
    flat = np.empty(entry.nbytes // 4, dtype=STORED_DTYPE)
    buffer = flat.view(np.uint8).data  # a writable byte view of the fresh array
    if entry.nbytes:
        try:
            count = reader.read_into(entry.shard, entry.offset, buffer)
        except FileNotFoundError:
            return Damage(entry.key, entry.shard, "missing shard")
        if count < entry.nbytes:
            return Damage(entry.key, entry.shard, "truncated shard")
    if checksum(entry.key, entry.shape, buffer) != entry.checksum:
        return Damage(entry.key, entry.shard, "checksum mismatch")
    return flat.reshape(shape).astype(np.float32, copy=False)
