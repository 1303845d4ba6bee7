"""Lines of a small text file a reference parser reads (an event list, a split file), read bounded."""

from __future__ import annotations

from pathlib import Path

from harness.errors import DataError

MAX_LINE_BYTES = 1 << 20
"""Longest line read (1 MiB); a longer one is refused rather than held whole."""
MAX_LINES = 10_000_000
"""Most lines one file may have."""


def read_text_lines(path: Path, what: str) -> list[str]:
    """The lines of ``path`` as UTF-8 text (line ends kept off); ``DataError`` naming ``path`` (and
    the line) for a missing or unreadable file, a line that is not UTF-8 or one too long."""
    lines: list[str] = []
    try:
        with path.open("rb") as handle:
            while raw := handle.readline(MAX_LINE_BYTES + 1):
                number = len(lines) + 1
                if len(raw) > MAX_LINE_BYTES or number > MAX_LINES:
                    raise DataError(
                        f"{path}:{number}: {what}: more than {MAX_LINE_BYTES:,} bytes or {MAX_LINES:,} lines"
                    )
                try:
                    lines.append(raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n"))
                except UnicodeDecodeError as error:
                    raise DataError(f"{path}:{number}: {what}: not UTF-8 at byte {error.start}") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read the {what}: {error.strerror or error}") from None
    return lines


def split_fields(line: str, minimum: int) -> list[str]:
    """A line's fields as the reference's list parsers split them: by tabs, or by any whitespace
    when that gives fewer than ``minimum`` fields (a space-separated list)."""
    parts = line.split("\t")
    return parts if len(parts) >= minimum else line.split()
