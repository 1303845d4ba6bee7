"""Keep every path a task file or a dataset row names inside its root folder."""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import DataError

MAX_PATH_CHARS = 4096
"""Longest path a row or task file may name (Linux's PATH_MAX); longer ones are refused up front."""
MAX_NAME_BYTES = 255
"""Longest single path component, in UTF-8 bytes (the limit of ext4, XFS, APFS, NTFS)."""


def resolve_inside(root: Path, relative: str, what: str = "path") -> Path:
    """``root / relative``, refusing absolute paths and ``..`` that climb out of ``root``.

    The check is lexical (after normalising ``..``), so symlinks that the user placed inside
    the root on purpose keep working, while a row cannot point at ``/etc/passwd``.
    """
    if not relative:
        raise DataError(f"empty {what}")
    _check_length(relative, what)
    if os.path.isabs(relative) or relative.startswith("~"):
        raise DataError(f"{what} '{relative}' must be relative to {root}")
    base = os.path.normpath(os.path.abspath(root))
    joined = os.path.normpath(os.path.join(base, relative))
    if joined != base and not joined.startswith(base + os.sep):
        raise DataError(f"{what} '{relative}' escapes its root {root}")
    return Path(joined)


def _check_length(relative: str, what: str) -> None:
    """Refuse what the file system would refuse later with a traceback: NUL, overlong paths or names."""
    shown = relative[:60] + ("..." if len(relative) > 60 else "")
    if "\x00" in relative:
        raise DataError(f"{what} {shown!r} contains a NUL character")
    if len(relative) > MAX_PATH_CHARS:
        raise DataError(f"{what} {shown!r} is {len(relative):,} characters long (limit {MAX_PATH_CHARS})")
    longest = max(relative.split("/"), key=lambda part: len(part.encode("utf-8", "surrogatepass")))
    if len(longest.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise DataError(f"{what} {shown!r} has a name of more than {MAX_NAME_BYTES} bytes: {longest[:40]!r}...")


def is_file(path: Path) -> bool:
    """``path.is_file()``, False where the file system refuses the name (it is no file of the data either)."""
    try:
        return path.is_file()
    except OSError:
        return False


def exists(path: Path) -> bool:
    """``path.exists()``, False where the file system refuses the name."""
    try:
        return path.exists()
    except OSError:
        return False
