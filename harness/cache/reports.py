"""What ``info`` and ``prune`` report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class CacheInfo:
    """The state of a cache folder."""

    path: Path
    """The cache folder."""
    entries: int
    """Arrays stored."""
    entry_bytes: int
    """Bytes of the stored arrays (float32 data only)."""
    disk_bytes: int
    """Bytes on disk: shard files (including unreachable bytes a prune would reclaim) and the index."""
    shards: int
    """Shard files in ``shards/``."""
    oldest_entry: datetime | None
    """When the oldest entry was stored (UTC), None when empty."""
    newest_entry: datetime | None
    """When the newest entry was stored (UTC), None when empty."""
    writable: bool
    """Whether this cache object still writes (see ``EmbeddingCache.writable``)."""


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed and how much disk space it gave back."""

    entries_removed: int
    """Entries not used since the cutoff, removed."""
    entry_bytes_removed: int
    """Bytes of those entries' arrays."""
    damaged_entries_removed: int
    """Entries dropped while compacting because their bytes failed the checksum or were missing."""
    shards_deleted: int
    """Shard files deleted (no live entry left, or orphaned by a crash or a reset index)."""
    shards_rewritten: int
    """Shard files whose live entries were copied into a new shard before deleting them."""
    disk_bytes_before: int
    """Bytes on disk before the prune (shards and index)."""
    disk_bytes_after: int
    """Bytes on disk after it."""

    @property
    def freed_bytes(self) -> int:
        """Disk bytes given back."""
        return max(0, self.disk_bytes_before - self.disk_bytes_after)
