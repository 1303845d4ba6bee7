"""Schema of the row sources that reshape or make rows: ``dataset.explode`` and ``dataset.generate``.

``explode`` turns one row into one row per listed column (Clotho's five captions per clip).
``generate`` names one of a fixed set of typed row generators, each implemented and tested in
:mod:`harness.data.generators`: logic a template should not carry (parsing a reference's own
text format, computing candidate windows from audio durations) lives there, never in a task file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.taskspec.schema_base import StrictModel, check_relative

MAX_EXPLODED_COLUMNS = 64
"""Most columns one row may be exploded into (each makes one row)."""


class ExplodeColumns(StrictModel):
    """One row per listed column: every loaded row becomes up to ``len(columns)`` rows, in column
    order, each a copy of the row with the column's value in ``into``. A null value (an empty CSV
    cell) makes no row, as MMEB-V3's Clotho parser skips a caption that is not text. Applied to the
    rows as read, before ``where``, ``keep_template``, ``num_rows`` and ``--limit``, which count
    the exploded rows."""

    columns: list[str] = Field(min_length=1, max_length=MAX_EXPLODED_COLUMNS)
    """The columns, in the order their rows follow each other (``[caption_1, ..., caption_5]``);
    a row without one of them is an error."""
    into: str
    """Column of each new row holding the value (e.g. ``caption``); the row must not have it already."""

    @model_validator(mode="after")
    def _distinct(self) -> ExplodeColumns:
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("explode.columns must name each column once")
        if self.into in self.columns:
            raise ValueError(f"explode.into '{self.into}' is one of the exploded columns")
        return self


class TutSoundEvents(StrictModel):
    """MMEB-V3's TUT Sound Events 2017 grounding rows (VLM2Vec ``tutsound_dataset.py``): one row per
    annotated event of the listed evaluation files, the audio files in sorted path order, each
    file's events in list order. An event's segment is kept inside the file (a segment that ends
    before it starts is widened to 0.05 s, then cut at the file's end). Each row holds the file's
    candidate segments: its events' segments (all labels, in event order), then up to
    ``max_negatives`` windows of ``window_seconds`` every ``stride_seconds`` from 0 whose IoU with
    every event segment is below ``max_iou``, earliest first. Columns: ``file`` (the audio path as
    listed, relative to ``root``), ``scene``, ``label``, ``onset``, ``offset`` (the kept segment),
    ``segment_id`` (``<file>|<onset:.3f>-<offset:.3f>``), ``positives`` (the ids of the file's
    segments with the row's label, first-seen order, repeats dropped) and ``candidates`` (a list of
    ``{id, start, end}``). See :mod:`harness.data.tut_sound`."""

    generator: Literal["tut_sound_events"]
    """Selects this generator."""
    root: str
    """Folder (relative to ``--data_basedir``) the list files and the audio paths in them are relative to."""
    files: list[str] = Field(min_length=1)
    """The evaluation lists (relative to ``root``), read in this order: lines of ``file scene onset
    offset label``, tab-separated (else any whitespace). A missing file is an error (the reference
    skips a missing fold with a warning)."""
    window_seconds: float = Field(default=1.0, gt=0, le=3600)
    """Length of a negative window (the reference's ``neg_win_len``)."""
    stride_seconds: float = Field(default=0.5, gt=0, le=3600)
    """Step between negative windows (``neg_stride``)."""
    max_iou: float = Field(default=0.1, ge=0, le=1)
    """A window is a negative when its IoU with every event segment of the file is below this (``neg_iou_thresh``)."""
    max_negatives: int = Field(default=50, ge=0)
    """Most negatives per file, the earliest (``neg_max_per_query``); 0: no cap."""

    @field_validator("root")
    @classmethod
    def _root_inside(cls, value: str) -> str:
        return check_relative(value, "generate.root")

    @field_validator("files")
    @classmethod
    def _files_inside(cls, files: list[str]) -> list[str]:
        return [check_relative(name, "generate.files entry") for name in files]


class AveSplit(StrictModel):
    """MMEB-V3's AVE audio-to-video rows (VLM2Vec ``ave_retreival_dateset.py``): one row per line
    ``Category&VideoID&Quality&StartTime&EndTime`` of the split file, in file order (blank lines
    and a header line starting with ``Category`` skipped; a line with fewer than five fields or
    with start or end not a number is an error naming ``file:line``). Columns: ``category``,
    ``video_id``, ``quality``, ``start``, ``end`` (seconds), ``clip_id``
    (``<video_id>_<int(start)>_<int(end)>``, the reference's name of the clip's audio file
    ``<video_id>_<clip_id>.wav``) and ``videos`` (every video id of the file, sorted and distinct:
    the reference's candidate list of each query). See :mod:`harness.data.ave_split`."""

    generator: Literal["ave_split"]
    """Selects this generator."""
    file: str
    """The split file, relative to ``--data_basedir`` (e.g. ``audio-tasks/AVE/AVE_Dataset/testSet.txt``)."""

    @field_validator("file")
    @classmethod
    def _file_inside(cls, value: str) -> str:
        return check_relative(value, "generate.file")


GeneratedRows = TutSoundEvents | AveSplit
"""The row generators a task file may name (``dataset.generate.generator`` tells them apart)."""
