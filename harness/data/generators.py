"""The named row generators a task file may select (``dataset.generate``), and the files each reads.

A generator turns a reference's own local layout into ordinary rows when that takes logic a
template should not carry. Each one is a typed options model in
:mod:`harness.taskspec.schema_rows` and one small module here; a task file can only name one of
them, never supply code.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.data.ave_split import ave_split_rows
from harness.data.paths import resolve_inside
from harness.data.sources import DatasetRows
from harness.data.tut_sound import read_events, tut_sound_rows
from harness.taskspec.schema_rows import AveSplit, TutSoundEvents

GENERATORS = ("tut_sound_events", "ave_split")
"""The generators there are (``dataset.generate.generator``)."""


def generated_rows(spec: TutSoundEvents | AveSplit, data_basedir: Path, limit: int | None = None) -> DatasetRows:
    """The rows ``spec``'s generator makes under ``data_basedir``, the first ``limit`` of them."""
    if isinstance(spec, TutSoundEvents):
        rows = tut_sound_rows(spec, data_basedir)
    else:
        rows = ave_split_rows(spec, data_basedir)
    if limit is not None:
        rows = DatasetRows(rows=rows.rows[:limit], locations=rows.locations[:limit], provenance=rows.provenance)
    return rows


def generated_files(spec: TutSoundEvents | AveSplit, data_basedir: Path) -> list[Path]:
    """Every file the generator reads to make its rows (lists, and for TUTSound the audio files,
    whose durations place the windows), for the data signature."""
    base = Path(os.path.abspath(data_basedir))
    if isinstance(spec, AveSplit):
        return [resolve_inside(base, spec.file, "generate.file")]
    root = resolve_inside(base, spec.root, "generate.root")
    lists = [resolve_inside(root, name, "generate.files entry") for name in spec.files]
    audio = sorted({event.file for path in lists if path.is_file() for event in read_events(path)})
    return [*lists, *(resolve_inside(root, name, "audio file") for name in audio)]
