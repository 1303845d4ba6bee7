"""The data check's report, as ``harness data check --json`` writes it (format version 1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CHECK_REPORT_VERSION = 1
"""Format version of the check report."""
SHOWN_PATHS = 5
"""How many missing (or short) paths a report lists per task; the counts cover all of them."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class MediaCheck(_Strict):
    """Media files (or video folders) a task's records name, each counted once."""

    referenced: int = 0
    """Distinct paths the records name."""
    present: int = 0
    """Of those, how many exist (a video: a frame folder with frames, or a video file)."""
    missing: int = 0
    """Of those, how many do not exist (a video: also a frame folder without frames)."""
    first_missing: list[str] = Field(default_factory=list)
    """The first few missing paths, relative to the data folder."""


class VideoCheck(MediaCheck):
    """Videos, and the frame folders with fewer frames than the task samples."""

    num_frames: int = 0
    """Frames the task samples per video (its ``video.num_frames``)."""
    short: int = 0
    """Frame folders with fewer frames than ``num_frames`` (counted as present too)."""
    first_short: list[str] = Field(default_factory=list)
    """The first few short folders, as ``path (n of num_frames frames)``."""


class AudioCheck(MediaCheck):
    """Audio sources named by paths (in-memory data is counted in ``in_rows``), each header read."""

    in_rows: int = 0
    """Audio held as data in the rows: nothing to find on disk."""
    unreadable: int = 0
    """Files present whose header cannot be read, or that hold no samples (counted as missing too)."""
    seconds: float = 0.0
    """Total duration of the files found, from their headers."""
    max_seconds: float = 0.0
    """The task's head crop (``audio.max_seconds``)."""
    longer: int = 0
    """Files longer than ``max_seconds``: a run keeps only their first ``max_seconds``."""


class TaskCheck(_Strict):
    """What the check found for one task."""

    task: str
    modality: str
    status: Literal["complete", "incomplete", "error"]
    """``complete``: every table and medium found; ``incomplete``: something is missing (media,
    frames, rows that cannot be built); ``error``: its rows or tables cannot be read."""
    source: str = ""
    """Where the rows come from: the local files found, or the hub id, config, split and revision."""
    provenance: dict[str, Any] = Field(default_factory=dict)
    """The loader's provenance of the rows (as recorded in run files)."""
    rows: int | None = None
    """Rows read (the task's ``num_rows`` applies); None when they cannot be read."""
    corpus_rows: int | None = None
    """Rows of ``candidates.corpus`` (None: the task has no corpus, or it cannot be read)."""
    qrels_rows: int | None = None
    """Rows of the qrels table (None: the task has none, or it cannot be read)."""
    images: MediaCheck = Field(default_factory=MediaCheck)
    """Image files named by paths."""
    pages: int = 0
    """Images held as data in the rows (document pages): nothing to find on disk."""
    videos: VideoCheck = Field(default_factory=VideoCheck)
    """Frame folders and video files."""
    audios: AudioCheck = Field(default_factory=AudioCheck)
    """Audio files named by paths, their headers read (duration)."""
    row_errors: int = 0
    """Rows whose inputs cannot be built (e.g. a missing candidate folder)."""
    errors: list[str] = Field(default_factory=list)
    """One line per problem that is not a missing medium (first few row errors included)."""


class CheckReport(_Strict):
    """The check of every selected task."""

    version: int = CHECK_REPORT_VERSION
    """Format version of this report."""
    data_basedir: str
    data_source: str
    """``auto``, ``local`` or ``hub``, as given."""
    tasks: list[TaskCheck] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every task is complete."""
        return all(task.status == "complete" for task in self.tasks)

    def summary(self) -> str:
        """One line: how many tasks are complete, incomplete, unreadable."""
        counts = {status: sum(t.status == status for t in self.tasks) for status in ("complete", "incomplete", "error")}
        missing = sum(t.images.missing + t.videos.missing for t in self.tasks)
        short = sum(t.videos.short for t in self.tasks)
        return (
            f"{len(self.tasks)} tasks checked: {counts['complete']} complete, {counts['incomplete']} incomplete, "
            f"{counts['error']} unreadable; {missing} media missing, {short} frame folders short"
        )
