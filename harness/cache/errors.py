"""Errors of the embedding cache store, each one line for people (``HarnessError``: exit status 2)."""

from __future__ import annotations

from harness.errors import HarnessError


class CacheError(HarnessError):
    """The embedding cache cannot do what was asked (the message says why, in one line)."""


class CacheKeyError(CacheError):
    """A key is not a non-empty string of at most ``MAX_KEY_LENGTH`` characters."""


class CacheValueError(CacheError):
    """A value is not a float32 array."""


class CacheFormatError(CacheError):
    """The index was written by another program or a newer version of the harness."""


class CacheBusyError(CacheError):
    """Prune or clear was refused because another cache object (a run) has the cache open."""
