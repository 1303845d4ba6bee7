"""The record contract between the data layer and the model adapters.

The data layer turns each query and each candidate of a task into an :class:`EncodeInput`;
an adapter turns a batch of them into embeddings. Neither side imports the other: both import
this module, and nothing here knows of task files, templates or torch.

* **A record** holds a text and at most the media that text refers to: an image (a path under
  the task's media root, or in-memory :class:`ImageData`) or an image list (``images``: several
  images, or slots without one, as MMEB-V3's GUI rows have), and/or a video (a :class:`VideoRef`
  with the frames already sampled) and/or an audio clip (an :class:`AudioRef`: a file or
  in-memory data, an optional window, and how it is decoded). Paths are resolved and checked by
  the data layer.
* **Markers.** The text says where a medium goes with the backbone-neutral
  :data:`IMAGE_MARKER` / :data:`VIDEO_MARKER` / :data:`AUDIO_MARKER` (task templates write them as
  ``{{ IMAGE }}`` / ``{{ VIDEO }}`` / ``{{ AUDIO }}``); each adapter replaces them with its own
  tokens, or removes them. An adapter that takes no audio says so (``accepts_audio``, see
  :mod:`harness.models.base`) and the engine refuses an audio input before encoding; likewise
  an adapter that takes no image list (``accepts_image_lists``).
* **Sides.** A :data:`Side` says whether a batch holds queries or candidates, for adapters that
  treat the two differently (prefixes, prompts); records themselves are the same on both sides.

Media bytes are loaded by the adapters, through ``harness.media``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "AUDIO_MARKER",
    "IMAGE_MARKER",
    "VIDEO_MARKER",
    "AudioData",
    "AudioRef",
    "EncodeInput",
    "ImageData",
    "ImageSlot",
    "Side",
    "VideoRef",
]

IMAGE_MARKER = "<|image|>"
"""Backbone-neutral marker for "the image goes here"; adapters replace it with their own token."""
VIDEO_MARKER = "<|video|>"
"""Backbone-neutral marker for "the video goes here"."""
AUDIO_MARKER = "<|audio|>"
"""Backbone-neutral marker for "the audio clip goes here"."""

Side = Literal["query", "candidate"]
"""Which side of a task a batch of records is encoded for."""


@dataclass(frozen=True)
class ImageData:
    """An image held in memory (e.g. a corpus page decoded from a dataset), keyed by content."""

    data: bytes = field(repr=False)
    """Encoded image bytes (PNG, JPEG, ...)."""
    stored_as: str | None = None
    """A Pillow format name (``JPEG``): the image is what saving the decoded ``data`` in that
    format and reading it back gives, as the reference does when it writes a corpus page to a
    ``.jpg`` file before reading it (see ``candidates.image_file_template``). None: ``data`` as is."""
    exif_transpose: bool = False
    """Turn the image by its EXIF Orientation tag when decoding, as ``datasets.Image`` does: the
    reference decodes images held in a dataset (corpus pages) that way, images read from paths not."""
    digest: str = ""
    """SHA-256 of ``data`` (and of ``stored_as`` / ``exif_transpose`` when set); filled in
    automatically; equality, hashing and the embedding cache's keys use it."""

    def __post_init__(self) -> None:
        if not self.digest:
            hashed = hashlib.sha256(self.data)
            if self.stored_as is not None:
                hashed.update(b"\0stored_as:" + self.stored_as.encode())
            if self.exif_transpose:
                hashed.update(b"\0exif_transpose")
            object.__setattr__(self, "digest", hashed.hexdigest())

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
class AudioData:
    """An encoded audio file held in memory (e.g. a parquet row's ``audio.bytes``), keyed by content."""

    data: bytes = field(repr=False)
    """Encoded audio bytes (WAV, FLAC, OGG, ... as libsndfile reads them)."""
    digest: str = ""
    """SHA-256 of ``data``; filled in automatically; equality, hashing and cache keys use it."""

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", hashlib.sha256(self.data).hexdigest())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AudioData) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)


@dataclass(frozen=True)
class AudioRef:
    """An audio clip and how it is decoded: every field changes the waveform the model hears,
    so every field is part of the embedding cache's key."""

    source: Path | AudioData
    """The audio file (an absolute path) or in-memory data."""
    start: float = 0.0
    """Window start in seconds from the beginning of the file (the reference's ``start``)."""
    end: float | None = None
    """Window end in seconds; None: to the end of the file."""
    sample_rate: int = 16000
    """Rate the waveform is resampled to (Hz)."""
    max_seconds: float = 10.24
    """Head crop: at most ``int(max_seconds * sample_rate)`` samples are kept (after resampling)."""
    min_seconds: float = 0.025
    """A clip shorter than ``int(min_seconds * sample_rate)`` samples is dropped: the input is
    encoded without its audio, as the reference's collator does."""


ImageSlot = Path | ImageData | None
"""One entry of an image list: an image (an absolute path or in-memory data), or None for a slot
the row names no image for (an empty entry, or a listed file that is missing where the task file
allows it)."""


@dataclass(frozen=True)
class EncodeInput:
    """Text with optional media; the text marks media with ``<|image|>`` / ``<|video|>`` / ``<|audio|>``.

    An input carries one ``image`` or one image list ``images``, never both; the data layer gives a
    list of one present image as ``image``, so single-image adapters and cache keys see it as any
    other image.
    """

    text: str
    image: Path | ImageData | None = None
    """The image: an absolute path or in-memory data."""
    video: VideoRef | None = None
    """The video with its sampled frames."""
    audio: AudioRef | None = None
    """The audio clip."""
    images: tuple[ImageSlot, ...] = ()
    """An image list, in the order of the text's image markers: several images, or slots holding
    None (no image). What an adapter makes of an empty slot is its own rule (VLM2Vec's Qwen2-VL
    encodes the text alone, its markers as plain tokens); an adapter that takes no image list says
    so (``accepts_image_lists``). Empty: no image list."""

    def __post_init__(self) -> None:
        if self.image is not None and self.images:
            raise ValueError("an input has an image or an image list (images), not both")
        if not isinstance(self.images, tuple):
            raise TypeError(f"images must be a tuple, got {type(self.images).__name__}")

    def all_images(self) -> tuple[Path | ImageData, ...]:
        """Every image the input carries, in order: its ``image``, or the present slots of ``images``."""
        if self.image is not None:
            return (self.image,)
        return tuple(slot for slot in self.images if slot is not None)

    def has_media(self) -> bool:
        """True when the input carries an image, an image list, a video or an audio clip."""
        return self.image is not None or bool(self.images) or self.video is not None or self.audio is not None
