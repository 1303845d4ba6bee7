"""Keep every path a task file or a dataset row names inside its root folder."""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import DataError


def resolve_inside(root: Path, relative: str, what: str = "path") -> Path:
    """``root / relative``, refusing absolute paths and ``..`` that climb out of ``root``.

    The check is lexical (after normalising ``..``), so symlinks that the user placed inside
    the root on purpose keep working, while a row cannot point at ``/etc/passwd``.
    """
    if not relative:
        raise DataError(f"empty {what}")
    if os.path.isabs(relative) or relative.startswith("~"):
        raise DataError(f"{what} '{relative}' must be relative to {root}")
    base = os.path.normpath(os.path.abspath(root))
    joined = os.path.normpath(os.path.join(base, relative))
    if joined != base and not joined.startswith(base + os.sep):
        raise DataError(f"{what} '{relative}' escapes its root {root}")
    return Path(joined)
