"""Where the embedding cache lives when no folder is given."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir

CACHE_DIR_ENV = "HARNESS_CACHE_DIR"
"""Environment variable naming the cache folder; it overrides the platform's user cache folder."""
APP_NAME = "mmeb-harness"
"""The name of the harness's folder under the platform's user cache folder."""


def default_cache_dir() -> Path:
    """The cache folder used when none is given: ``$HARNESS_CACHE_DIR`` if set (and not empty),
    else the platform's user cache folder for ``mmeb-harness`` (``~/.cache/mmeb-harness`` on Linux).

    An explicit folder passed by the caller takes precedence over both.
    """
    configured = os.environ.get(CACHE_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(user_cache_dir(APP_NAME, appauthor=False))
