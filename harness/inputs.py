"""The input records that flow from task data to model adapters.

They sit outside both layers so that neither imports the other: the data layer builds
``EncodeInput`` values, adapters consume them (loading media through ``harness.media``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Side = Literal["query", "candidate"]


@dataclass(frozen=True)
class ImageData:
    """An image held in memory (e.g. a corpus page decoded from a dataset), keyed by content."""

    data: bytes = field(repr=False)
    """Encoded image bytes (PNG, JPEG, ...)."""
    digest: str = ""
    """SHA-256 of ``data``; filled in automatically; equality and hashing use it."""

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", hashlib.sha256(self.data).hexdigest())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImageData) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)


@dataclass(frozen=True)
class VideoRef:
    """A video and the frames sampled from it."""

    source: Path
    """A folder of frame images or a video file."""
    frame_indices: tuple[int, ...]
    """Indices of the sampled frames (natural-sorted folder order, or decoded frame order)."""
    frame_files: tuple[Path, ...] = ()
    """For a frame folder: the sampled frame files, in order; empty for a video file."""
    available_frames: int = 0
    """How many frames the video has (fewer than requested are recorded here)."""


@dataclass(frozen=True)
class EncodeInput:
    """Text with optional media; the text marks media with ``<|image|>`` / ``<|video|>``."""

    text: str
    image: Path | ImageData | None = None
    """The image: an absolute path or in-memory data."""
    video: VideoRef | None = None
    """The video with its sampled frames."""

    def has_media(self) -> bool:
        """True when the input carries an image or a video."""
        return self.image is not None or self.video is not None
