"""The embedding cache store: float32 arrays by key, on disk, shared safely by processes and runs.

Callers compute the keys (``harness.engine.cache_keys``); this package only stores and returns
the arrays, exact or not at all. Torch-free: numpy, sqlite3 and the standard library. See
docs/cache.md.
"""

from harness.cache.errors import CacheBusyError, CacheError, CacheFormatError, CacheKeyError, CacheValueError
from harness.cache.location import CACHE_DIR_ENV, default_cache_dir
from harness.cache.reports import CacheInfo, PruneReport
from harness.cache.store import EmbeddingCache
from harness.cache.values import MAX_KEY_LENGTH

__all__ = [
    "CACHE_DIR_ENV",
    "MAX_KEY_LENGTH",
    "CacheBusyError",
    "CacheError",
    "CacheFormatError",
    "CacheInfo",
    "CacheKeyError",
    "CacheValueError",
    "EmbeddingCache",
    "PruneReport",
    "default_cache_dir",
]
