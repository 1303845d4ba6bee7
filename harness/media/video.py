"""Video sampling as in the reference: a folder of frames or a video file, ``num_frames`` picked.

A frame folder is natural-sorted (``frame_2`` before ``frame_10``); the frames kept are at
``np.linspace(0, n - 1, num_frames).astype(int)``. A video with fewer frames than asked for uses
all of them, in order (``fewer_frames="use_available"``), or is an error (``"error"``). Video files
are decoded with decord, in memory; no frame is written to disk.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from harness.errors import DataError, MediaError
from harness.inputs import VideoRef
from harness.media.image import check_pixel_budget, image_size, open_image

FRAME_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".webm", ".mov"})
FEWER_FRAMES_MODES = ("use_available", "error")

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key putting ``frame_2`` before ``frame_10`` (digit runs compare as numbers)."""
    return tuple((0, int(part), part) if part.isdigit() else (1, part.lower(), part) for part in _DIGITS.split(name))


def frame_indices(available: int, num_frames: int) -> list[int]:
    """The reference's rule: ``np.linspace(0, n - 1, num_frames).astype(int)``; all frames when fewer."""
    if available <= num_frames:
        return list(range(available))
    return [int(i) for i in np.linspace(0, available - 1, num_frames).astype(int)]


def list_frames(folder: Path) -> list[Path]:
    """The image files of a frame folder, natural-sorted."""
    frames = [p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file()]
    return sorted(frames, key=lambda p: natural_key(p.name))


def sample_video(path: Path, num_frames: int, fewer_frames: str = "use_available") -> VideoRef:
    """Pick ``num_frames`` frames of the frame folder or video file at ``path``."""
    if num_frames < 1:
        raise DataError(f"video {path}: num_frames must be at least 1, got {num_frames}")
    if fewer_frames not in FEWER_FRAMES_MODES:
        raise DataError(f"video {path}: fewer_frames must be one of {FEWER_FRAMES_MODES}, got {fewer_frames!r}")
    if path.is_dir():
        frames = list_frames(path)
        available = len(frames)
        if available == 0:
            kinds = ", ".join(sorted(FRAME_SUFFIXES))
            raise MediaError(f"video frame folder has no frames ({kinds}): {path}", str(path))
    elif path.is_file():
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise MediaError(
                f"not a video file ({', '.join(sorted(VIDEO_SUFFIXES))}) or frame folder: {path}", str(path)
            )
        frames = []
        available = len(_open_video(path))
    else:
        raise MediaError(f"video not found: {path}", str(path))
    if available < num_frames and fewer_frames == "error":
        raise DataError(f"video {path} has {available} frames, fewer than the {num_frames} requested")
    indices = frame_indices(available, num_frames)
    return VideoRef(
        source=path,
        frame_indices=tuple(indices),
        frame_files=tuple(frames[i] for i in indices) if frames else (),
        available_frames=available,
    )


def load_video_frames(ref: VideoRef) -> list[Image.Image]:
    """Decode the sampled frames of ``ref`` as RGB PIL images, in order."""
    if not ref.frame_indices:
        raise MediaError(f"video {ref.source} was not sampled (no frame indices)", str(ref.source))
    if ref.frame_files:
        try:
            return [open_image(frame) for frame in ref.frame_files]
        except MediaError as error:  # name the video (its row is found by it), and the frame in the text
            raise MediaError(f"video {ref.source}: {error}", str(ref.source)) from None
    reader = _open_video(ref.source)
    first, *rest = ref.frame_indices
    try:
        # One frame first: its size is checked before the other frames are decoded.
        frames = [reader[first].asnumpy()]
        check_pixel_budget(frames[0].shape[1], frames[0].shape[0], f"{ref.source} frame {first}")
        if rest:
            frames += list(reader.get_batch(rest).asnumpy())
    except MediaError as error:
        raise MediaError(f"video {ref.source}: {error}", str(ref.source)) from None
    except Exception as error:  # decord raises its own error types for bad streams
        raise MediaError(f"cannot decode frames of video {ref.source}: {_one_line(error)}", str(ref.source)) from None
    return [Image.fromarray(frame).convert("RGB") for frame in frames]


def first_frame_size(ref: VideoRef) -> tuple[int, int]:
    """``(width, height)`` of the first sampled frame, which sets the size of every frame VLM2Vec's
    preprocessing makes of the video (see :func:`sampled_frame_size`)."""
    return sampled_frame_size(ref, 0)


def sampled_frame_size(ref: VideoRef, position: int) -> tuple[int, int]:
    """``(width, height)`` of the sampled frame at ``position`` (0: the first), from a frame file's
    header, or one decoded frame of a video file."""
    if not ref.frame_indices:
        raise MediaError(f"video {ref.source} was not sampled (no frame indices)", str(ref.source))
    if ref.frame_files:
        try:
            return image_size(ref.frame_files[position])
        except MediaError as error:
            raise MediaError(f"video {ref.source}: {error}", str(ref.source)) from None
    reader = _open_video(ref.source)
    index = ref.frame_indices[position]
    try:
        height, width = reader[index].shape[:2]
    except Exception as error:  # decord raises its own error types for bad streams
        raise MediaError(f"cannot decode frames of video {ref.source}: {_one_line(error)}", str(ref.source)) from None
    check_pixel_budget(width, height, f"{ref.source} frame {index}")
    return int(width), int(height)


def _open_video(path: Path) -> Any:
    try:
        import decord
    except ImportError:  # pragma: no cover - decord is a dependency
        raise MediaError(f"reading video files needs the 'decord' package: {path}", str(path)) from None
    try:
        reader = decord.VideoReader(str(path), num_threads=1)
    except Exception as error:  # decord raises DECORDError / RuntimeError for unreadable files
        raise MediaError(f"cannot read video {path}: {_one_line(error)}", str(path)) from None
    if len(reader) == 0:
        raise MediaError(f"video has no frames: {path}", str(path))
    return reader


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
