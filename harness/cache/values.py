"""What goes in and out of the store: keys checked, arrays turned into bytes and back.

A value is stored as its raw little-endian float32 bytes (C order), with its shape and a
BLAKE2b-128 checksum kept in the index. The checksum covers the key, the shape and the bytes,
so reading verifies the whole entry: damaged bytes, or an index row that now names another
key, shape or place, are never returned as an array.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.cache.errors import CacheKeyError, CacheValueError

MAX_KEY_LENGTH = 256
"""Longest key accepted (the engine's keys are 64-character hex SHA-256 digests)."""
STORED_DTYPE = "<f4"
"""The one dtype stored: little-endian float32."""
MAX_NDIM = 32
"""Most dimensions a stored array may have."""
CHECKSUM_BYTES = 16
"""Length of the BLAKE2b digest kept per entry."""


@dataclass(frozen=True)
class EncodedValue:
    """An array as it is stored: its bytes, its shape as text (``"1536"``, ``"77,128"``) and checksum."""

    data: bytes
    shape: str
    checksum: bytes


def check_key(key: Any) -> str:
    """``key`` itself when it is a non-empty string of at most ``MAX_KEY_LENGTH`` characters, with
    no NUL and valid as UTF-8 (SQLite stores keys as UTF-8 text)."""
    if not isinstance(key, str):
        raise CacheKeyError(f"embedding cache key must be a string, got {type(key).__name__}")
    if not key or len(key) > MAX_KEY_LENGTH:
        raise CacheKeyError(
            f"embedding cache key must have 1 to {MAX_KEY_LENGTH} characters, got {len(key)} ({key[:16]!r}...)"
        )
    if "\0" in key or not _is_utf8(key):
        raise CacheKeyError(f"embedding cache key {key[:16]!r}... holds a NUL or is not valid UTF-8")
    return key


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def encode_value(key: str, value: Any) -> EncodedValue:
    """The stored form of ``value``, which must be a float32 ``np.ndarray`` (any shape, any byte order)."""
    if not isinstance(value, np.ndarray):
        raise CacheValueError(
            f"embedding for cache key {key[:16]}...: expected a numpy array, got {type(value).__name__}"
        )
    if value.dtype.kind != "f" or value.dtype.itemsize != 4:
        raise CacheValueError(
            f"embedding for cache key {key[:16]}...: dtype {value.dtype}; the cache stores float32 arrays only"
        )
    if value.ndim > MAX_NDIM:
        raise CacheValueError(f"embedding for cache key {key[:16]}...: {value.ndim} dimensions (at most {MAX_NDIM})")
    data = np.ascontiguousarray(value, dtype=STORED_DTYPE).tobytes()
    shape = shape_text(value.shape)
    return EncodedValue(data=data, shape=shape, checksum=checksum(key, shape, data))


def checksum(key: str, shape: str, data: bytes | memoryview) -> bytes:
    """BLAKE2b-128 of the key, the shape and the bytes: random damage goes unnoticed with
    probability 2**-128."""
    digest = hashlib.blake2b(digest_size=CHECKSUM_BYTES)
    for part in (key.encode("utf-8"), shape.encode("ascii")):
        digest.update(len(part).to_bytes(4, "little"))
        digest.update(part)
    digest.update(data)
    return digest.digest()


def shape_text(shape: tuple[int, ...]) -> str:
    """``(77, 128)`` as ``"77,128"``; a 0-d shape as ``""``."""
    return ",".join(str(int(size)) for size in shape)


def parse_shape(text: str, nbytes: int) -> tuple[int, ...] | None:
    """The shape stored as ``text``, or None when it is malformed or does not hold ``nbytes`` bytes."""
    try:
        shape = tuple(int(part) for part in text.split(",")) if text else ()
    except (ValueError, AttributeError):
        return None
    if len(shape) > MAX_NDIM or any(size < 0 for size in shape) or math.prod(shape) * 4 != nbytes:
        return None
    return shape
