"""A row's audio: the value of an audio column, and the window an ``audio_window_template`` renders."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from harness.inputs import AudioData


def audio_value(value: Any) -> str | AudioData | None:
    """A row's audio value as a path (``str``, resolved by the caller), audio data, or None.

    A ``{bytes, path}`` mapping (a parquet ``datasets.Audio`` column) gives its bytes when there
    are any, else its path, as the reference's collator reads it. Raises ``TypeError`` for a value
    that is neither (a decoded ``{array, sampling_rate}`` mapping included: give the file).
    """
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, bytes | bytearray | memoryview):
        return AudioData(bytes(value)) if len(value) else None
    if isinstance(value, Mapping):
        data, path = value.get("bytes"), value.get("path")
        if isinstance(data, bytes | bytearray | memoryview) and len(data):
            return AudioData(bytes(data))
        if isinstance(path, str) and path:
            return path
        if data is None and path in (None, ""):
            return None
        raise TypeError(f"an audio dict needs 'bytes' or a 'path', got keys {sorted(value)}")
    raise TypeError(f"expected an audio path or audio data, got {type(value).__name__}")


def audio_window(text: str) -> tuple[float, float | None] | None:
    """The ``[start, end]`` seconds a window template rendered (``end`` null: to the end), or None
    for an empty rendering. Raises ``ValueError`` naming what is wrong."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"must render a JSON list [start, end] (use tojson), got {text[:80]!r}") from None
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"must render a JSON list [start, end], got {text[:80]!r}")
    start, end = value
    if not _seconds(start) or (end is not None and not _seconds(end)):
        raise ValueError(
            f"start and end must be seconds in [0, {MAX_WINDOW_SECONDS:g}] (end may be null), got {text[:80]!r}"
        )
    if end is not None and end <= start:
        raise ValueError(f"end {end} is not after start {start}")
    return float(start), None if end is None else float(end)


MAX_WINDOW_SECONDS = 1e7
"""Largest window bound (about 116 days): beyond it, seconds times a sample rate overflows nothing
useful; a larger value is an error, never a traceback."""


def _seconds(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_WINDOW_SECONDS
    )
