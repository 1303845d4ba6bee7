"""Warnings of a cache object: one line on stderr, each kind at most once per object."""

from __future__ import annotations

import sys
from pathlib import Path


class Notices:
    """Prints ``warning: embedding cache <root>: <message>`` the first time each kind occurs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._printed: set[str] = set()

    def warn_once(self, kind: str, message: str) -> None:
        """Print the warning unless one of this ``kind`` was already printed by this object."""
        if kind in self._printed:
            return
        self._printed.add(kind)
        print(f"warning: embedding cache {self.root}: {message}", file=sys.stderr)
