"""Prune and clear: drop what is not used, and give the space back.

Both run while the caller holds the cache's lock alone (see ``locking``), so no other process
reads or writes shards meanwhile. Each step leaves the cache consistent if the process dies:
entries are moved to a new copy (fsync'd) before the old shard is deleted, and index rows go
before the files they name.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from harness.cache.index import CacheIndex, IndexEntry
from harness.cache.reading import Damage, read_entry
from harness.cache.reports import PruneReport
from harness.cache.schema import INDEX_FILE
from harness.cache.shards import SHARDS_DIR, ShardReader, ShardWriter, fsync_dir, shard_files

COMPACT_DEAD_FRACTION = 0.25
"""A shard with more than this fraction of unreachable bytes is rewritten by prune."""
COPY_BATCH_BYTES = 64 << 20
"""Bytes copied (then fsync'd and re-pointed in the index) per step while rewriting a shard."""
CORRUPT_INDEX_GLOB = f"{INDEX_FILE}.corrupt-*"
"""Damaged index files moved aside (kept for inspection until a prune older than them, or a clear)."""


def prune(index: CacheIndex, root: Path, writer: ShardWriter, reader: ShardReader, cutoff: int) -> PruneReport:
    """Remove entries (and file memos) last used before ``cutoff``, then compact the shards."""
    before = disk_bytes(root)
    removed, removed_bytes, _ = index.delete_unused_since(cutoff)
    deleted, rewritten, damaged = compact(index, root / SHARDS_DIR, writer, reader)
    for path in root.glob(CORRUPT_INDEX_GLOB):
        if path.stat().st_mtime < cutoff:
            path.unlink()
    index.vacuum()
    return PruneReport(removed, removed_bytes, damaged, deleted, rewritten, before, disk_bytes(root))


def compact(index: CacheIndex, shards_dir: Path, writer: ShardWriter, reader: ShardReader) -> tuple[int, int, int]:
    """Delete shards with no live entry, rewrite those mostly unreachable: (deleted, rewritten, damaged)."""
    writer.close()  # later appends, the copies included, go to a new shard
    on_disk = shard_files(shards_dir)
    live = index.live_bytes_by_shard()
    damaged = index.forget_shards([name for name in live if name not in on_disk])
    deleted = rewritten = 0
    for name, size in sorted(on_disk.items()):
        live_bytes = live.get(name, 0)
        if live_bytes and size - live_bytes <= COMPACT_DEAD_FRACTION * size:
            continue
        if live_bytes:
            damaged += _copy_live_entries(index, name, writer, reader)
            rewritten += 1
        else:
            deleted += 1
        index.forget_shards([name])
        reader.forget(name)
        (shards_dir / name).unlink()
    writer.close()
    if deleted or rewritten:
        fsync_dir(shards_dir)
    return deleted, rewritten, damaged


def clear(index: CacheIndex, root: Path, writer: ShardWriter, reader: ShardReader) -> None:
    """Remove every entry, file memo and shard file (and damaged index copies)."""
    index.clear()
    writer.close()
    reader.close()
    for name in shard_files(root / SHARDS_DIR):
        (root / SHARDS_DIR / name).unlink()
    for path in root.glob(CORRUPT_INDEX_GLOB):
        path.unlink()
    index.vacuum()


def disk_bytes(root: Path) -> int:
    """Bytes of the shard files, the index (with its write-ahead log) and damaged index copies."""
    total = sum(shard_files(root / SHARDS_DIR).values())
    for path in [root / INDEX_FILE, root / f"{INDEX_FILE}-wal", *root.glob(CORRUPT_INDEX_GLOB)]:
        with contextlib.suppress(FileNotFoundError):  # removed meanwhile (a checkpoint ends the -wal)
            total += os.stat(path).st_size
    return total


def _copy_live_entries(index: CacheIndex, shard: str, writer: ShardWriter, reader: ShardReader) -> int:
    """Copy the verified entries of ``shard`` to the writer's shard; drop damaged ones; their count."""
    damaged: list[str] = []
    batch: list[tuple[IndexEntry, bytes]] = []
    batch_bytes = 0
    for entry in index.entries_in(shard):
        value = read_entry(reader, entry)
        if isinstance(value, Damage):
            damaged.append(value.key)
            continue
        batch.append((entry, value.tobytes()))
        batch_bytes += entry.nbytes
        if batch_bytes >= COPY_BATCH_BYTES:
            _append_and_move(index, writer, batch)
            batch, batch_bytes = [], 0
    if batch:
        _append_and_move(index, writer, batch)
    if damaged:
        index.delete(damaged)
    return len(damaged)


def _append_and_move(index: CacheIndex, writer: ShardWriter, batch: list[tuple[IndexEntry, bytes]]) -> None:
    name, offset = writer.append([data for _, data in batch])
    moves = []
    for entry, data in batch:
        moves.append((entry.key, offset))
        offset += len(data)
    index.move(name, moves)
