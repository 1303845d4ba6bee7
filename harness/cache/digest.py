"""SHA-256 of a file's bytes, read in chunks (weight files can be gigabytes)."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK_BYTES = 1 << 20
"""Bytes read per step while hashing."""


def sha256_of_file(path: Path) -> str:
    """The hex SHA-256 of the file's content; ``OSError`` when it cannot be read."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(view):
            digest.update(view[:count])
    return digest.hexdigest()
