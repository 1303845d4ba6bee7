"""Schema of how media inputs are decoded and sampled: ``audio``, ``image_lists`` and ``video``
(re-exported by :mod:`harness.taskspec.schema`, whose field docstrings document the format)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.taskspec.schema_base import StrictModel


class AudioSpec(StrictModel):
    """How audio inputs are decoded, as the reference's collator does; recorded with the results."""

    sample_rate: int = Field(default=16000, ge=1000, le=192000)
    """Rate every clip is resampled to (Hz), with torchaudio's default windowed-sinc resampler."""
    max_seconds: float = Field(default=10.24, gt=0, le=3600)
    """Head crop: the first ``int(max_seconds * sample_rate)`` samples are kept. The reference's
    default is 1024 x 160 samples = 10.24 s (its ``--audio_max_seconds`` sets it; the MMEB-V3
    reproduction kit uses 30)."""
    min_seconds: float = Field(default=0.025, ge=0)
    """A clip shorter than ``int(sample_rate * min_seconds)`` samples is dropped: the input is
    encoded without its audio, as the reference does with clips under 25 ms."""
    channels: Literal["mean"] = "mean"
    """``mean``: several channels are averaged to one (the reference's mono rule)."""


class ImageListSpec(StrictModel):
    """How an ``image_list_column`` is read: as VLM2Vec's GUI parser and eval collator read one
    (see "Image lists" below the tables)."""

    missing_file: Literal["error", "empty_slot"] = "error"
    """A listed image file that does not exist: ``error`` (naming the row), or ``empty_slot`` (a slot
    without an image, as the reference's collator reads a missing file; the run warns with their
    count). ``harness data check`` reports such files as missing either way."""


class VideoSpec(StrictModel):
    """How video inputs are sampled; recorded with the results."""

    num_frames: int = Field(default=8, ge=1)
    """Frames fed to the model per video; the reference uses 8."""
    sampling: Literal["uniform"] = "uniform"
    """``uniform``: frame indices ``linspace(0, n - 1, num_frames)`` truncated to integers, over
    the natural-sorted frames of a folder or the decoded frames of a video file."""
    fewer_frames: Literal["use_available", "error"] = "use_available"
    """A video with fewer frames than ``num_frames``: use all it has (the reference) or fail."""
