"""The store's clock, in whole seconds since the epoch (one place, so tests can move time)."""

from __future__ import annotations

import time


def now() -> int:
    """The current time in seconds since the epoch (UTC)."""
    return int(time.time())
